"""A baseline JPEG read into what RFC 2435 sends of it: type, size, tables and scan data.

The checker's own small reading of the JFIF markers (ITU T.81 Annex B), independent of the
project's packetizer so the two never share a bug. The Scapy crafter (``craft_jpeg``) and
the bulk synthesizer (``synth``) both start from it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from analysis.payloads.jpeg import (
    DQT,
    DRI,
    EOI,
    MAX_DIMENSION_UNITS,
    PIXELS_PER_UNIT,
    SOF0,
    SOI,
    SOS,
    TABLE_BYTES_8BIT,
    TABLE_BYTES_16BIT,
    TYPE_RESTART_FIRST,
)

MARKER_PREFIX = 0xFF
MARKER_SEGMENT_HEAD = 4  # T.81 B.1.1.4: marker (2 bytes) + segment length (2 bytes)
# T.81 Table B.1: SOF1..SOF3 (extended, progressive, lossless) do not fit RFC 2435.
NON_BASELINE_SOF = (0xC1, 0xC2, 0xC3)
COMPONENTS_YUV = 3  # RFC 2435 §4.1: Y, U, V
# RFC 2435 §3.1.3 and §4.1: type 0 samples Y 2x1 (4:2:2), type 1 samples Y 2x2 (4:2:0).
TYPE_BY_LUMA_SAMPLING = {0x21: 0, 0x22: 1}
TABLES_SENT = 2  # RFC 2435 §4.2: luma and chroma


class JPEGSourceError(ValueError):
    """The JPEG cannot be sent as RFC 2435 (not baseline, odd sampling, too large)."""


@dataclass(frozen=True)
class ScanImage:
    """What RFC 2435 sends of a JPEG: type, size in 8-pixel units, tables and scan data."""

    jpeg_type: int
    width: int
    height: int
    qtables: bytes
    precision: int
    restart_interval: int
    scan: bytes
    jpeg: bytes

    @property
    def width_pixels(self) -> int:
        """Width in pixels."""
        return self.width * PIXELS_PER_UNIT

    @property
    def height_pixels(self) -> int:
        """Height in pixels."""
        return self.height * PIXELS_PER_UNIT


def read_scan_image(jpeg: bytes) -> ScanImage:
    """Read the parts RFC 2435 needs from a baseline JPEG; ``JPEGSourceError`` otherwise."""
    if jpeg[:2] != SOI:
        raise JPEGSourceError("not a JPEG: it does not start with SOI (FF D8)")
    pos = len(SOI)
    tables: dict[int, bytes] = {}
    precision = 0
    restart = 0
    size: tuple[int, int] | None = None
    jpeg_type: int | None = None
    while pos + MARKER_SEGMENT_HEAD <= len(jpeg):
        if jpeg[pos] != MARKER_PREFIX:
            raise JPEGSourceError(f"expected a marker at byte {pos}")
        marker = jpeg[pos + 1]
        (length,) = struct.unpack_from("!H", jpeg, pos + 2)
        segment = jpeg[pos + MARKER_SEGMENT_HEAD : pos + 2 + length]
        if marker == DQT:
            i = 0
            while i < len(segment):
                pq, tq = segment[i] >> 4, segment[i] & 0x0F
                n = TABLE_BYTES_16BIT if pq else TABLE_BYTES_8BIT
                tables[tq] = segment[i + 1 : i + 1 + n]
                precision |= pq << tq
                i += 1 + n
        elif marker == SOF0:
            height, width, ncomp = struct.unpack_from("!HHB", segment, 1)
            if ncomp != COMPONENTS_YUV:
                raise JPEGSourceError(f"RFC 2435 sends 3-component YUV; this JPEG has {ncomp}")
            y_sampling = segment[7]
            jpeg_type = TYPE_BY_LUMA_SAMPLING.get(y_sampling)
            if jpeg_type is None:
                raise JPEGSourceError(f"luma sampling {y_sampling:#x} is neither 4:2:2 nor 4:2:0")
            size = (width, height)
        elif marker in NON_BASELINE_SOF:
            raise JPEGSourceError("only baseline JPEG (SOF0) fits RFC 2435")
        elif marker == DRI:
            (restart,) = struct.unpack_from("!H", segment)
        elif marker == SOS:
            scan = jpeg[pos + 2 + length :]
            if scan.endswith(EOI):
                scan = scan[: -len(EOI)]
            break
        pos += 2 + length
    else:
        raise JPEGSourceError("no SOS marker: the JPEG has no scan data")
    if size is None or jpeg_type is None:
        raise JPEGSourceError("no SOF0 marker before the scan")
    width, height = size
    limit = MAX_DIMENSION_UNITS * PIXELS_PER_UNIT
    if width % PIXELS_PER_UNIT or height % PIXELS_PER_UNIT or width > limit or height > limit:
        raise JPEGSourceError(f"{width}x{height} is not a multiple of 8 up to {limit}")
    if restart:
        jpeg_type += TYPE_RESTART_FIRST
    qtables = b"".join(tables[k] for k in sorted(tables)[:TABLES_SENT])
    return ScanImage(
        jpeg_type,
        width // PIXELS_PER_UNIT,
        height // PIXELS_PER_UNIT,
        qtables,
        precision,
        restart,
        scan,
        jpeg,
    )
