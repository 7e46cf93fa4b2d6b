"""The receive path for H.264/H.265: the SDP chooses the depacketizer, losses and bad payloads
are counted in the statistics, and a format the client cannot read is refused before SETUP."""

from __future__ import annotations

import base64

from fake_rtsp import FakeRTSPServer, reply

from rtsp_client import RTSPClient, UnsupportedMedia
from rtsp_client.receiver import DropReason, Receiver
from rtsp_common.annex_b import join_nal_units
from rtsp_common.nal_packetizer import packetize_h264
from rtsp_common.payload_formats import payload_format
from rtsp_common.rtp import pack_header
from rtsp_common.sdp import SessionDescription

PT = 96
SSRC = 0x1234
SPS = bytes([0x67, 0x42, 0xC0, 0x1E, 0xDA])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
IDR = bytes([0x65]) + bytes(range(256)) * 8


def packets(units, timestamp, first_sequence, max_payload=700):
    payloads = packetize_h264(units, max_payload)
    return [
        pack_header(PT, first_sequence + i, timestamp, SSRC, i == len(payloads) - 1) + payload
        for i, payload in enumerate(payloads)
    ]


def h264_receiver() -> Receiver:
    sprop = ",".join(base64.b64encode(u).decode() for u in (SPS, PPS))
    return Receiver(
        payload_type=PT,
        payload_format=payload_format("H264"),
        fmtp={"packetization-mode": "1", "sprop-parameter-sets": sprop},
    )


def test_access_units_come_whole_and_a_lost_fragment_is_counted():
    receiver = h264_receiver()
    assert receiver.stream_header == join_nal_units([SPS, PPS])
    first = packets([SPS, PPS, IDR], 0, 0)
    frames = [f for p in first for f in receiver.rtp_received(p, None, 1.0)]
    assert [(f.data, f.timestamp, f.encoding) for f in frames] == [
        (join_nal_units([SPS, PPS, IDR]), 0, "H264")
    ]
    second = packets([IDR], 3000, len(first))
    for i, packet in enumerate(second):
        if i != 1:  # a middle fragment lost
            assert receiver.rtp_received(packet, None, 1.1 + i / 100) == []
    # The next access unit, after the reorder buffer gave up waiting, comes whole.
    third = packets([IDR], 6000, len(first) + len(second))
    frames = [f for p in third for f in receiver.rtp_received(p, None, 3.0)]
    frames += receiver.poll(10.0)
    assert [(f.data, f.timestamp) for f in frames] == [(join_nal_units([IDR]), 6000)]
    stats = receiver.snapshot(10.0)
    assert stats.frames_incomplete == 1 and stats.packets_lost == 1
    assert stats.frames_complete == 2


def test_a_bad_payload_is_counted_not_raised():
    receiver = h264_receiver()
    bad = pack_header(PT, 0, 0, SSRC, True) + bytes([0x78, 0x00, 0x40, 0x65])  # STAP-A, bad size
    assert receiver.rtp_received(bad, None, 1.0) == []
    assert receiver.drops[DropReason.MALFORMED_PAYLOAD] == 1
    assert receiver.snapshot(1.0).frames_incomplete == 1


def sdp_for(encoding: str) -> bytes:
    description = SessionDescription(payload_type=PT, encoding=encoding, clock_rate=90000)
    return description.to_text().encode()


def test_a_format_the_client_cannot_read_is_refused_before_setup():
    def handler(request):
        if request.method == "DESCRIBE":
            return reply(request, headers=[("Content-Type", "application/sdp")],
                         body=sdp_for("MP4V-ES"))  # fmt: skip
        return reply(request, headers=[("Session", "1")])

    with FakeRTSPServer(handler) as fake:
        with RTSPClient.from_url(f"rtsp://127.0.0.1:{fake.port}/cam") as client:
            try:
                client.setup()
            except UnsupportedMedia as exc:
                message = str(exc)
            else:
                raise AssertionError("SETUP of an MP4V-ES stream went ahead")
    assert "MP4V-ES" in message and "H264" in message
    assert [r.method for r in fake.requests] == ["DESCRIBE"]
