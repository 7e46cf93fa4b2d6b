"""The sans-I/O receive path: good streams reassemble, hostile input is counted and dropped."""

from __future__ import annotations

import struct
import tracemalloc

from client_support import decode, make_jpeg
from hypothesis import given, settings
from hypothesis import strategies as st

from rtsp_client.receiver import DropReason, Receiver
from rtsp_common.jpeg import packetize
from rtsp_common.rtp import RTPPacket

SERVER = ("127.0.0.1", 5000)
SSRC = 0x1234ABCD
PT = 26


def rtp(seq: int, ts: int, payload: bytes, marker: bool = False, ssrc: int = SSRC) -> bytes:
    return RTPPacket(PT, seq % 65536, ts, ssrc, marker, payload).to_bytes()


def frame_packets(jpeg: bytes, seq: int, ts: int, max_payload: int = 400) -> list[bytes]:
    payloads = packetize(jpeg, max_payload)
    return [rtp(seq + i, ts, p, marker=(i == len(payloads) - 1)) for i, p in enumerate(payloads)]


def main_header(
    offset: int, width: int = 64, height: int = 48, q: int = 75, type_: int = 1
) -> bytes:
    # RFC 2435 §3.1: type-specific, 24-bit offset, type, Q, width/8, height/8
    return struct.pack(">IBBBB", offset & 0xFFFFFF, type_, q, width // 8, height // 8)


def feed(receiver: Receiver, packets: list[bytes], now: float = 0.0, addr=SERVER):
    frames = []
    for i, p in enumerate(packets):
        frames += receiver.rtp_received(p, addr, now + i * 0.0001)
    frames += receiver.poll(now + 10)
    return frames


def test_fragmented_frames_reassemble_to_the_same_pixels(small_jpegs):
    receiver = Receiver(server_host=SERVER[0], ssrc=SSRC, payload_type=PT)
    packets = []
    seq = 0
    for n, jpeg in enumerate(small_jpegs):
        chunk = frame_packets(jpeg, seq, n * 3000)
        seq += len(chunk)
        packets += chunk
    assert len(packets) > 2 * len(small_jpegs)  # really fragmented
    frames = feed(receiver, packets)
    assert [f.index for f in frames] == list(range(len(small_jpegs)))
    for frame, jpeg in zip(frames, small_jpegs):
        assert decode(frame.jpeg).tobytes() == decode(jpeg).tobytes()
    stats = receiver.snapshot()
    assert stats.frames_complete == 5 and stats.frames_incomplete == 0
    assert stats.packets_lost == 0 and not stats.dropped


def test_reordered_fragments_still_make_the_frame(small_jpegs):
    receiver = Receiver(server_host=SERVER[0], ssrc=SSRC)
    packets = frame_packets(small_jpegs[0], 100, 0)
    packets[1], packets[2] = packets[2], packets[1]
    frames = feed(receiver, packets)
    assert len(frames) == 1
    assert receiver.stats.reordered == 1


def test_lost_fragment_drops_the_frame_and_keeps_the_next(small_jpegs):
    receiver = Receiver(server_host=SERVER[0], ssrc=SSRC)
    first = frame_packets(small_jpegs[0], 0, 0)
    second = frame_packets(small_jpegs[1], len(first), 3000)
    third = frame_packets(small_jpegs[2], len(first) + len(second), 6000)
    del first[1]
    frames = feed(receiver, first + second + third)
    assert [decode(f.jpeg).tobytes() for f in frames] == [
        decode(j).tobytes() for j in small_jpegs[1:3]
    ]
    stats = receiver.snapshot()
    assert stats.frames_incomplete == 1
    assert stats.packets_lost == 1


def test_whole_jpeg_payloads_of_the_lab_server_are_accepted(small_jpegs):
    receiver = Receiver(server_host=SERVER[0], clock_rate=1)
    packets = [
        RTPPacket(PT, n + 1, 1_700_000_000, 0, False, jpeg).to_bytes()
        for n, jpeg in enumerate(small_jpegs)
    ]
    frames = feed(receiver, packets)
    assert [f.jpeg for f in frames] == small_jpegs
    assert receiver.ssrc == 0


def test_malformed_rtp_is_counted_not_raised():
    receiver = Receiver(server_host=SERVER[0])
    hostile = [
        b"",
        b"\x80\x1a\x00",  # shorter than the fixed header
        b"\x40" + bytes(11),  # version 1
        b"\x8f" + bytes(11),  # 15 CSRCs announced, none present
        b"\x90" + bytes(11) + b"\x00\x00\xff\xff",  # extension longer than the packet
        b"\xa0" + bytes(11),  # padding bit with no padding count
        b"\xa0" + bytes(11) + b"\x00\x00\x00\x50",  # padding count past the payload
    ]
    for data in hostile:
        assert receiver.rtp_received(data, SERVER, 0.0) == []
    assert receiver.drops[DropReason.MALFORMED_RTP] == len(hostile)


def test_malformed_rtcp_is_counted_not_raised():
    receiver = Receiver(server_host=SERVER[0], ssrc=SSRC)
    for data in (
        b"",
        b"\x80",
        b"\x40\xc8\x00\x01abcd",
        b"\x80\xc8\xff\xff",
        b"\x81\xc9\x00\x01abcd",
    ):
        receiver.rtcp_received(data, SERVER, 0.0)
    assert receiver.drops[DropReason.MALFORMED_RTCP] == 5
    assert not receiver.bye


def test_bye_from_the_source_is_noted():
    from rtsp_common.rtcp import Bye

    receiver = Receiver(server_host=SERVER[0], ssrc=SSRC)
    receiver.rtcp_received(Bye((SSRC,), "done").to_bytes(), SERVER, 0.0)
    assert receiver.bye


def test_bogus_rfc2435_headers_never_make_a_frame(small_jpegs):
    receiver = Receiver(server_host=SERVER[0], ssrc=SSRC)
    data = bytes(range(100))
    bogus = [
        # offset past the end: the marker packet fixes the end at 100, then data at 5000
        [rtp(0, 0, main_header(0) + data, marker=True), rtp(1, 0, main_header(5000) + data)],
        # overlapping fragments that disagree
        [
            rtp(2, 3000, main_header(0) + data),
            rtp(3, 3000, main_header(50) + data[::-1], marker=True),
        ],
        # zero width
        [rtp(4, 6000, main_header(0, width=0) + data, marker=True)],
        # Q=255 with a quantization-table length beyond the packet
        [
            rtp(
                5,
                9000,
                main_header(0, q=255) + struct.pack(">BBH", 0, 0, 4000) + data[:10],
                marker=True,
            )
        ],
        # a payload shorter than the main header
        [rtp(6, 12000, b"\x00\x00", marker=True)],
        # reserved type
        [rtp(7, 15000, main_header(0, type_=9) + data, marker=True)],
        # starts like a whole JPEG but never ends
        [rtp(8, 18000, b"\xff\xd8" + data, marker=True)],
    ]
    delivered = []
    for packets in bogus:
        delivered += feed(receiver, packets)
    # The first case's marker packet alone would be a 100-byte scan with computed tables:
    # whatever is delivered must be a frame the bogus input did not corrupt.
    for frame in delivered:
        assert frame.jpeg.startswith(b"\xff\xd8")
    assert receiver.drops[DropReason.MALFORMED_JPEG] >= 5
    # A good frame afterwards still comes through.
    good = feed(receiver, frame_packets(small_jpegs[0], 9, 21000))
    assert len(good) == 1
    assert decode(good[0].jpeg).tobytes() == decode(small_jpegs[0]).tobytes()


def test_a_frame_that_never_ends_is_bounded_by_the_cap():
    receiver = Receiver(server_host=SERVER[0], ssrc=SSRC)  # default cap: 8 MiB
    chunk = bytes(60_000)
    tracemalloc.start()
    try:
        for i in range(160):  # 9.6 MB in one frame, never a marker
            receiver.rtp_received(rtp(i, 0, main_header(i * len(chunk)) + chunk), SERVER, i * 1e-4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 9 * 1024 * 1024
    assert receiver.stats.frames_incomplete == 1
    assert receiver.stats.frames_complete == 0


def test_small_cap_drops_big_frames(small_jpegs):
    big = make_jpeg(320, 240, seed=3, quality=95)
    receiver = Receiver(server_host=SERVER[0], ssrc=SSRC, max_frame_bytes=2000)
    frames = feed(receiver, frame_packets(big, 0, 0, max_payload=1000))
    assert frames == []
    assert receiver.stats.frames_incomplete == 1


def test_packets_from_another_address_or_ssrc_are_refused(small_jpegs):
    receiver = Receiver(server_host=SERVER[0], ssrc=SSRC)
    intruder = frame_packets(small_jpegs[1], 0, 0)
    assert feed(receiver, intruder, addr=("10.9.9.9", 5000)) == []
    stranger = [rtp(i, 0, b"\x00" * 20, ssrc=0xBAD) for i in range(3)]
    assert feed(receiver, stranger) == []
    assert receiver.drops[DropReason.FOREIGN_ADDRESS] == len(intruder)
    assert receiver.drops[DropReason.FOREIGN_SSRC] == 3
    frames = feed(receiver, frame_packets(small_jpegs[0], 0, 0))
    assert len(frames) == 1


def test_latches_onto_the_first_ssrc_when_none_was_announced(small_jpegs):
    receiver = Receiver(server_host=SERVER[0])
    feed(receiver, frame_packets(small_jpegs[0], 0, 0))
    feed(receiver, [rtp(50, 3000, b"\x00" * 20, ssrc=0xBAD)])
    assert receiver.ssrc == SSRC
    assert receiver.drops[DropReason.FOREIGN_SSRC] == 1


def test_other_payload_types_are_refused():
    receiver = Receiver(server_host=SERVER[0], payload_type=PT)
    receiver.rtp_received(RTPPacket(96, 1, 0, SSRC, True, b"x").to_bytes(), SERVER, 0.0)
    assert receiver.drops[DropReason.PAYLOAD_TYPE] == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=200))
def test_arbitrary_bytes_never_escape(rtp_bytes, rtcp_bytes):
    receiver = Receiver(server_host=SERVER[0])
    receiver.rtp_received(rtp_bytes, SERVER, 0.0)
    receiver.rtp_received(b"\x80\x1a\x00\x01" + bytes(8) + rtp_bytes, SERVER, 0.01)
    receiver.rtcp_received(rtcp_bytes, SERVER, 0.0)
    receiver.poll(1.0)
    assert receiver.drops[DropReason.INTERNAL] == 0
