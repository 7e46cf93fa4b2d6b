"""The H.264/H.265 reader keeps NAL units where the capture holds them and reads a
camera's stream a NAL unit, not a packet, at a time: what makes a capture of a million
H.264 packets cost as little as one of MJPEG."""

from __future__ import annotations

import gc
import io
import tracemalloc

import pytest

from analysis.craft.h26x import access_unit, packetize
from analysis.payloads.h26x import _Reader, read_h26x
from analysis.payloads.nal_syntax import H264, H265
from analysis.payloads.seq_columns import SeqColumns

PICTURES = 120
PICTURE_BYTES = 23_000  # 17 fragments of 1400 octets
MTU = 1400
PARAMS = {"packetization-mode": "1"}


def camera_stream(syntax):
    """Pictures as a camera sends them: an IDR with its parameter sets, then P pictures,
    each one slice in fragmentation units."""
    aus = [access_unit(syntax, idr=i % 30 == 0, size=PICTURE_BYTES) for i in range(PICTURES)]
    packets = []
    for i, nals in enumerate(aus):
        payloads = packetize(syntax, nals, MTU)
        for k, payload in enumerate(payloads):
            n = len(packets)
            packets.append((n, n + 1, n / 1000, i * 3000, k == len(payloads) - 1, payload))
    return aus, SeqColumns.of_packets(packets)


@pytest.mark.parametrize("syntax", [H264, H265], ids=["h264", "h265"])
def test_a_reading_holds_spans_of_the_capture_not_copies(syntax):
    aus, packets = camera_stream(syntax)
    encoding = "H264" if syntax is H264 else "H265"
    gc.collect()
    tracemalloc.start()
    try:
        reading = read_h26x(packets, syntax, encoding, PARAMS)
        gc.collect()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    payload_octets = len(packets.source)
    # A copy of the NAL units would be all of the payload; spans are a few integers a
    # packet and an access unit a picture.
    assert kept < payload_octets / 10, (kept, payload_octets)
    assert [reading.nal_units(f) for f in reading.frames] == aus
    assert all(f.complete for f in reading.frames)


@pytest.mark.parametrize("syntax", [H264, H265], ids=["h264", "h265"])
def test_the_fragments_after_a_start_are_taken_in_one_step(syntax, monkeypatch):
    """Only each picture's aggregation packet and start fragment are read packet by
    packet; the middle and end fragments after a start are one step."""
    aus, packets = camera_stream(syntax)
    encoding = "H264" if syntax is H264 else "H265"
    read_in_full = []
    full = _Reader.packet

    def counted(self, row, *args):
        read_in_full.append(row)
        full(self, row, *args)

    monkeypatch.setattr(_Reader, "packet", counted)
    reading = read_h26x(packets, syntax, encoding, PARAMS)
    idrs = sum(1 for i in range(PICTURES) if i % 30 == 0)  # their parameter sets: one STAP
    assert len(read_in_full) == PICTURES + idrs
    assert len(packets) > 16 * PICTURES
    assert [reading.nal_units(f) for f in reading.frames] == aus


class Writes(io.BytesIO):
    """A file that remembers the size of each write."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, data) -> int:
        self.sizes.append(len(data))
        return super().write(data)


def test_the_elementary_stream_is_written_an_access_unit_at_a_time():
    aus, packets = camera_stream(H264)
    reading = read_h26x(packets, H264, "H264", PARAMS)
    out = Writes()
    assert reading.write_elementary_stream(out) == (PICTURES, 0)
    start = b"\x00\x00\x00\x01"
    assert out.getvalue() == b"".join(start + nal for au in aus for nal in au)
    largest = max(sum(len(start) + len(nal) for nal in au) for au in aus)
    assert max(out.sizes) == largest  # never the whole stream in memory at once
