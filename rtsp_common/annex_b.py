"""H.264/H.265 byte-stream format (ITU-T H.264 Annex B, H.265 Annex B): NAL units behind
start codes, as recorded in .h264/.h265 files and read by ffmpeg and ffprobe."""

from __future__ import annotations

from collections.abc import Iterable

# Annex B.1: a four-byte start code (zero_byte + start_code_prefix_one_3bytes) before each NAL
# unit; the zero_byte is required before parameter sets and the first NAL unit of an access unit,
# so writing it before all of them is always valid.
START_CODE = b"\x00\x00\x00\x01"
_SHORT_START_CODE = b"\x00\x00\x01"


def join_nal_units(nal_units: Iterable[bytes | bytearray | memoryview]) -> bytes:
    """NAL units as one Annex B byte stream."""
    return b"".join(START_CODE + bytes(nal) for nal in nal_units)


def split_nal_units(stream: bytes | bytearray | memoryview) -> list[bytes]:
    """The NAL units of an Annex B byte stream (3- or 4-byte start codes, trailing zero bytes
    dropped); bytes before the first start code are not a NAL unit and are skipped."""
    data = bytes(stream)
    units: list[bytes] = []
    start = data.find(_SHORT_START_CODE)
    while start != -1:
        begin = start + len(_SHORT_START_CODE)
        following = data.find(_SHORT_START_CODE, begin)
        end = len(data) if following == -1 else following
        unit = data[begin:end].rstrip(b"\x00")
        if unit:
            units.append(unit)
        start = following
    return units
