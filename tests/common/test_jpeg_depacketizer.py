"""RFC 2435 reassembly: reorder, duplicates, loss, Q handling, bogus headers."""

from __future__ import annotations

import random
import struct

import pytest
from jpeg_samples import deliver, marked, payloads_with_q
from media_samples import make_jpeg, pixels

from rtsp_common.errors import ParseError, UnsupportedJPEG
from rtsp_common.jpeg import packetize, parse_jpeg
from rtsp_common.jpeg_depacketizer import Depacketizer

SOURCE = make_jpeg(160, 120, quality=80)
SOURCE_PIXELS = pixels(SOURCE)
PACKETS = marked(packetize(SOURCE, 400))


def test_source_makes_several_fragments():
    assert len(PACKETS) >= 6


@pytest.mark.parametrize("seed", range(8))
def test_reordered_fragments_complete_the_frame(seed):
    packets = PACKETS[:]
    random.Random(seed).shuffle(packets)
    frames = deliver(packets)
    assert len(frames) == 1
    assert pixels(frames[0]) == SOURCE_PIXELS


@pytest.mark.parametrize("seed", range(4))
def test_duplicated_fragments_are_ignored(seed):
    packets = PACKETS + PACKETS[::2]
    random.Random(seed).shuffle(packets)
    dep = Depacketizer()
    frames = deliver(packets, depacketizer=dep)
    assert len(frames) == 1
    assert pixels(frames[0]) == SOURCE_PIXELS
    assert dep.frames_complete == 1 and dep.frames_dropped == 0


def test_overlapping_fragments_with_equal_content_are_accepted():
    # The same frame cut at two sizes: the fragments overlap but agree.
    other = marked(packetize(SOURCE, 700))
    packets = other[1:] + PACKETS[:3]  # PACKETS[:3] covers the start and overlaps other[1]
    assert len(deliver(packets)) == 1


@pytest.mark.parametrize("lost", range(len(PACKETS)))
def test_a_lost_fragment_drops_the_frame(lost):
    dep = Depacketizer()
    damaged = PACKETS[:lost] + PACKETS[lost + 1 :]
    assert deliver(damaged, timestamp=1000, depacketizer=dep) == []
    # Two later frames push the incomplete one out of the reorder window.
    assert len(deliver(PACKETS, timestamp=4000, depacketizer=dep)) == 1
    assert len(deliver(PACKETS, timestamp=7000, depacketizer=dep)) == 1
    assert dep.frames_dropped == 1
    assert dep.frames_complete == 2
    assert dep.pending == 0


def test_a_late_fragment_of_the_previous_frame_still_completes_it():
    dep = Depacketizer()
    late = PACKETS[2]
    assert deliver(PACKETS[:2] + PACKETS[3:], timestamp=1000, depacketizer=dep) == []
    first_of_next = PACKETS[0]
    assert dep.push(first_of_next[0], 4000, first_of_next[1]) is None
    frame = dep.push(late[0], 1000, late[1])
    assert frame is not None and pixels(frame) == SOURCE_PIXELS
    assert deliver(PACKETS[1:], timestamp=4000, depacketizer=dep) != []
    assert (dep.frames_complete, dep.frames_dropped) == (2, 0)


def test_packets_for_finished_frames_are_ignored():
    dep = Depacketizer()
    assert len(deliver(PACKETS, timestamp=1000, depacketizer=dep)) == 1
    assert dep.push(PACKETS[1][0], 1000, False) is None
    assert dep.push(PACKETS[-1][0], 1000, True) is None
    assert dep.pending == 0 and dep.packets_late == 2
    assert (dep.frames_complete, dep.frames_dropped) == (1, 0)


def test_interleaved_frames_both_complete():
    other = make_jpeg(160, 120, quality=40)
    other_packets = marked(packetize(other, 400))
    dep = Depacketizer()
    out = []
    for i in range(max(len(PACKETS), len(other_packets))):
        for ts, packets in ((1000, PACKETS), (4000, other_packets)):
            if i < len(packets):
                result = dep.push(packets[i][0], ts, packets[i][1])
                if result is not None:
                    out.append(result)
    assert [pixels(f) for f in out] == [SOURCE_PIXELS, pixels(other)] or [
        pixels(f) for f in out
    ] == [pixels(other), SOURCE_PIXELS]


def test_conflicting_fragment_drops_the_frame():
    payload, marker = PACKETS[3]
    forged = payload[:-5] + bytes(5)
    dep = Depacketizer()
    frames = deliver(PACKETS[:3] + [(forged, marker)] + PACKETS[3:], depacketizer=dep)
    assert frames == []
    assert dep.frames_dropped == 1


def test_conflicting_overlap_at_another_offset_drops_the_frame():
    payload, _ = PACKETS[2]
    word = struct.unpack_from(">I", payload)[0]
    shifted = struct.pack(">I", word + 10) + payload[4:]  # same bytes, 10 bytes further on
    dep = Depacketizer()
    assert deliver(PACKETS[:2] + [(shifted, False)] + PACKETS[2:], depacketizer=dep) == []
    assert dep.frames_dropped == 1


def test_fragments_disagreeing_on_size_drop_the_frame():
    payload, marker = PACKETS[1]
    other_size = payload[:6] + bytes([payload[6] + 1]) + payload[7:]
    dep = Depacketizer()
    assert deliver(PACKETS[:1] + [(other_size, marker)] + PACKETS[1:], depacketizer=dep) == []
    assert dep.frames_dropped == 1


def test_a_frame_over_max_frame_bytes_is_dropped():
    dep = Depacketizer(max_frame_bytes=1000)
    assert deliver(PACKETS, depacketizer=dep) == []
    assert dep.frames_dropped == 1
    assert dep.pending <= 1  # what arrives after the drop is bounded by the limit too


def test_third_timestamp_drops_the_oldest_incomplete_frame():
    dep = Depacketizer()
    for ts in (1000, 4000, 7000):
        dep.push(PACKETS[0][0], ts, False)
    assert dep.frames_dropped == 1 and dep.pending == 2
    assert dep.push(PACKETS[1][0], 1000, False) is None  # late: frame already dropped
    assert dep.frames_dropped == 1 and dep.packets_late == 1
    assert dep.flush() == 2 and dep.frames_dropped == 3 and dep.pending == 0


# --- Q values (RFC 2435 §4.2) ---


def _handmade_payloads(jpeg: bytes, q: int, tables: bytes | None, chunk: int = 500) -> list:
    """``payloads_with_q``, each with its marker."""
    return marked(payloads_with_q(jpeg, q, tables, chunk))


@pytest.mark.parametrize("q", [1, 20, 50, 75, 99])
def test_q_1_to_99_rebuilds_with_appendix_a_tables(q):
    source = make_jpeg(96, 64, quality=q)
    frames = deliver(_handmade_payloads(source, q, None))
    assert len(frames) == 1 and pixels(frames[0]) == pixels(source)


def test_q_128_to_254_tables_are_cached_for_later_frames():
    source = make_jpeg(96, 64, quality=60)
    tables = b"".join(parse_jpeg(source).qtables)
    dep = Depacketizer()
    first = deliver(_handmade_payloads(source, 200, tables), 1000, dep)
    later = deliver(_handmade_payloads(source, 200, None), 4000, dep)
    assert len(first) == 1 and len(later) == 1
    assert pixels(later[0]) == pixels(source)


def test_q_128_to_254_without_known_tables_drops_the_frame():
    source = make_jpeg(96, 64, quality=60)
    dep = Depacketizer()
    assert deliver(_handmade_payloads(source, 200, None), 1000, dep) == []
    assert dep.frames_dropped == 1


def test_q_255_requires_tables_in_every_frame():
    source = make_jpeg(96, 64)
    tables = b"".join(parse_jpeg(source).qtables)
    dep = Depacketizer()
    assert len(deliver(_handmade_payloads(source, 255, tables), 1000, dep)) == 1
    first, _ = _handmade_payloads(source, 255, None)[0]
    with pytest.raises(ParseError, match="Q=255"):
        dep.push(first, 4000, False)


def test_each_frame_gets_its_own_headers_when_they_repeat_or_change():
    # The first fragment's headers are read once while they repeat; a frame whose tables
    # (Q=255: in every frame) or size differ from the one before must not get the old ones.
    sources = [make_jpeg(96, 64, quality=30), make_jpeg(96, 64, quality=90), make_jpeg(64, 48)]
    order = [0, 0, 1, 1, 0, 2, 2, 1, 0]
    dep = Depacketizer()
    for n, which in enumerate(order):
        source = sources[which]
        payloads = _handmade_payloads(source, 255, b"".join(parse_jpeg(source).qtables))
        frames = deliver(payloads, n * 3000, dep)
        alone = deliver(payloads, 0, Depacketizer())
        assert frames == alone and pixels(frames[0]) == pixels(source), n


@pytest.mark.parametrize("q", [0, 100, 127])
def test_reserved_q_values_are_rejected(q):
    first, _ = _handmade_payloads(SOURCE, 50, None)[0]
    payload = first[:5] + bytes([q]) + first[6:]
    with pytest.raises(ParseError, match="reserved"):
        Depacketizer().push(payload, 0, False)


# --- bogus headers ---


def _first() -> bytes:
    return PACKETS[0][0]


BOGUS = {
    "empty": (b"", "shorter than the 8-byte main header"),
    "truncated main header": (_first()[:7], "shorter than the 8-byte main header"),
    "zero width": (_first()[:6] + b"\x00" + _first()[7:], "zero size"),
    "zero height": (_first()[:7] + b"\x00" + _first()[8:], "zero size"),
    "missing qtable header": (_first()[:9], "missing its Quantization Table header"),
    "qtable length past the packet": (
        _first()[:10] + b"\x10\x00" + _first()[12:60],
        "exceeds the",
    ),
    "qtable length holds no table": (
        _first()[:10] + b"\x00\x0a" + _first()[12:],
        "does not hold two tables",
    ),
    "restart type without restart header": (
        struct.pack(">IBBBB", 0, 65, 50, 20, 15) + b"\x00",
        "missing its Restart Marker header",
    ),
    "whole JPEG cut short": (SOURCE[:-10], "does not end with EOI"),
}


@pytest.mark.parametrize("case", sorted(BOGUS))
def test_bogus_headers_raise_parse_error(case):
    payload, reason = BOGUS[case]
    dep = Depacketizer()
    with pytest.raises(ParseError, match=reason):
        dep.push(payload, 0, True)
    assert dep.frames_complete == 0


@pytest.mark.parametrize("rtp_type", [2, 63, 66, 128, 255])
def test_unassigned_types_are_unsupported(rtp_type):
    payload = struct.pack(">IBBBB", 0, rtp_type, 50, 20, 15) + bytes(20)
    with pytest.raises(UnsupportedJPEG, match=f"type {rtp_type}"):
        Depacketizer().push(payload, 0, True)


def test_fragment_past_the_frame_end_raises_and_drops():
    dep = Depacketizer()
    dep.push(PACKETS[0][0], 0, False)
    last, _ = PACKETS[-1]
    dep.push(last, 0, True)
    word = struct.unpack_from(">I", last)[0]
    beyond = struct.pack(">I", word + 5000) + last[4:]
    with pytest.raises(ParseError, match="past the frame end"):
        dep.push(beyond, 0, False)
    assert dep.frames_dropped == 1 and dep.pending == 0


def test_whole_jpeg_payload_is_returned_as_is():
    dep = Depacketizer()
    assert dep.push(SOURCE, 0, True) == SOURCE
    assert dep.push(bytearray(SOURCE), 1, True) == SOURCE
    assert dep.frames_complete == 2


@pytest.mark.parametrize(
    ("precision", "table_bytes"),
    [(0b10, 64), (0b01, 128), (0b11, 128), (0b100, 128), (0b111, 256)],
)
def test_in_band_tables_of_any_declared_precision_rebuild_or_raise_parse_error(
    precision, table_bytes
):
    # One table where two are due, or precision bits beyond the two tables: never a crash.
    frame = parse_jpeg(SOURCE)
    tables = bytes(range(1, table_bytes + 1)) if table_bytes <= 255 else bytes([7]) * table_bytes
    header = struct.pack(">IBBBB", 0, frame.type, 255, frame.width // 8, frame.height // 8)
    payload = header + struct.pack(">BBH", 0, precision, len(tables)) + tables + bytes(frame.scan)
    dep = Depacketizer()
    out = dep.push(payload, 0, True)
    assert out is not None and out.startswith(b"\xff\xd8") and out.endswith(b"\xff\xd9")
    assert dep.frames_complete == 1
    assert pixels(out)[0] == (frame.width, frame.height)  # Pillow decodes it


@pytest.mark.parametrize("kind", ["bytes", "view of bytes", "bytearray", "view of bytearray"])
def test_fragments_held_until_the_frame_completes_cannot_change_under_it(kind):
    # Views of immutable packets are kept without a copy; a buffer the caller reuses (a
    # socket's receive buffer) is copied, so rewriting it after push changes nothing.
    dep = Depacketizer()
    reused = []
    result = None
    for payload, marker in PACKETS:
        if kind == "bytes":
            given = payload
        elif kind == "view of bytes":
            given = memoryview(payload)[0:]
        else:
            buffer = bytearray(payload)
            reused.append(buffer)
            given = buffer if kind == "bytearray" else memoryview(buffer)
        result = dep.push(given, 3000, marker)
        for buffer in reused[:-1]:  # earlier packets' buffers are overwritten meanwhile
            buffer[:] = bytes(len(buffer))
    assert result is not None
    assert pixels(result) == SOURCE_PIXELS
