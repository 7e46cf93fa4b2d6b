"""JPEG images for crafted streams, and their split into RFC 2435 fragments.

A small, independent reading of a baseline JFIF file: enough to send a Pillow-made image
the way RFC 2435 wants it (quantization tables in-band, scan data in fragments). It is
deliberately separate from the project's own packetizer so the checker never shares its bugs.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from scapy.packet import Packet, Raw

from analysis.layers import JPEG, JPEGQuantizationTable, JPEGRestartMarker

# JPEG markers (ITU T.81 Table B.1).
SOI, EOI, SOF0, DHT, DQT, DRI, SOS = 0xD8, 0xD9, 0xC0, 0xC4, 0xDB, 0xDD, 0xDA
MARKER_PREFIX = 0xFF
# RFC 2435 §3.1.3: type 0 is 4:2:2 (Y sampled 2x1), type 1 is 4:2:0 (Y 2x2); +64 with DRI.
JPEG_TYPE_422, JPEG_TYPE_420, RESTART_TYPE_OFFSET = 0, 1, 64
# RFC 2435 §3.1.4: Q 128..255 means the tables travel in the Quantization Table header.
Q_IN_BAND = 255
JPEG_MAIN_HEADER_SIZE = 8
RESTART_HEADER_SIZE = 4
QTABLE_HEADER_SIZE = 4
DIMENSION_UNIT = 8
# RFC 2435 §3.1.7: F=L=1 and count 0x3FFF mean "this packet holds whole restart intervals".
RESTART_COUNT_ALL = 0x3FFF


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
        return self.width * DIMENSION_UNIT

    @property
    def height_pixels(self) -> int:
        return self.height * DIMENSION_UNIT


def make_test_jpeg(width: int = 64, height: int = 48, *, quality: int = 75, index: int = 0,
                   subsampling: str = "4:2:0", restart_blocks: int = 0) -> bytes:
    """A small baseline JPEG with standard Huffman tables; ``index`` varies the picture."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), ((index * 37) % 256, 90, 160))
    draw = ImageDraw.Draw(image)
    x = (index * 5) % max(width, 1)
    draw.rectangle([x, height // 4, x + width // 4, height // 2], fill=(250, 250, 40))
    out = io.BytesIO()
    options: dict = {"quality": quality, "subsampling": subsampling, "optimize": False}
    if restart_blocks:
        options["restart_marker_blocks"] = restart_blocks
    image.save(out, "JPEG", **options)
    return out.getvalue()


def read_scan_image(jpeg: bytes) -> ScanImage:
    """Read the parts RFC 2435 needs from a baseline JPEG; ``JPEGSourceError`` otherwise."""
    if jpeg[:2] != bytes([MARKER_PREFIX, SOI]):
        raise JPEGSourceError("not a JPEG: it does not start with SOI (FF D8)")
    pos = 2
    tables: dict[int, bytes] = {}
    precision = 0
    restart = 0
    size: tuple[int, int] | None = None
    jpeg_type: int | None = None
    while pos + 4 <= len(jpeg):
        if jpeg[pos] != MARKER_PREFIX:
            raise JPEGSourceError(f"expected a marker at byte {pos}")
        marker = jpeg[pos + 1]
        (length,) = struct.unpack_from("!H", jpeg, pos + 2)
        segment = jpeg[pos + 4 : pos + 2 + length]
        if marker == DQT:
            i = 0
            while i < len(segment):
                pq, tq = segment[i] >> 4, segment[i] & 0x0F
                n = 128 if pq else 64
                tables[tq] = segment[i + 1 : i + 1 + n]
                precision |= pq << tq
                i += 1 + n
        elif marker == SOF0:
            height, width, ncomp = struct.unpack_from("!HHB", segment, 1)
            if ncomp != 3:
                raise JPEGSourceError(f"RFC 2435 sends 3-component YUV; this JPEG has {ncomp}")
            y_sampling = segment[7]
            jpeg_type = {0x21: JPEG_TYPE_422, 0x22: JPEG_TYPE_420}.get(y_sampling)
            if jpeg_type is None:
                raise JPEGSourceError(f"luma sampling {y_sampling:#x} is neither 4:2:2 nor 4:2:0")
            size = (width, height)
        elif marker in (0xC1, 0xC2, 0xC3):
            raise JPEGSourceError("only baseline JPEG (SOF0) fits RFC 2435")
        elif marker == DRI:
            (restart,) = struct.unpack_from("!H", segment)
        elif marker == SOS:
            scan = jpeg[pos + 2 + length :]
            if scan.endswith(bytes([MARKER_PREFIX, EOI])):
                scan = scan[:-2]
            break
        pos += 2 + length
    else:
        raise JPEGSourceError("no SOS marker: the JPEG has no scan data")
    if size is None or jpeg_type is None:
        raise JPEGSourceError("no SOF0 marker before the scan")
    width, height = size
    if width % DIMENSION_UNIT or height % DIMENSION_UNIT or width > 2040 or height > 2040:
        raise JPEGSourceError(f"{width}x{height} is not a multiple of 8 up to 2040")
    if restart:
        jpeg_type += RESTART_TYPE_OFFSET
    qtables = b"".join(tables[k] for k in sorted(tables)[:2])
    return ScanImage(jpeg_type, width // DIMENSION_UNIT, height // DIMENSION_UNIT, qtables,
                     precision, restart, scan, jpeg)


def fragment_scan(image: ScanImage, max_payload: int = 1400, q: int = Q_IN_BAND, *,
                  include_qtable: bool = True) -> list[Packet]:
    """RFC 2435 payloads (JPEG header layers + scan bytes) for one frame, in order.

    ``include_qtable=False`` omits the Quantization Table header (a defect when Q >= 128).
    """
    packets: list[Packet] = []
    offset = 0
    restart = image.jpeg_type >= RESTART_TYPE_OFFSET
    while True:
        header = JPEG(offset=offset, type=image.jpeg_type, q=q, width=image.width,
                      height=image.height)
        room = max_payload - JPEG_MAIN_HEADER_SIZE
        if restart:
            header = header / JPEGRestartMarker(restart_interval=image.restart_interval,
                                                first=1, last=1,
                                                restart_count=RESTART_COUNT_ALL)
            room -= RESTART_HEADER_SIZE
        if offset == 0 and q >= 128 and include_qtable:
            header = header / JPEGQuantizationTable(precision=image.precision,
                                                    tables=image.qtables)
            room -= QTABLE_HEADER_SIZE + len(image.qtables)
        if room <= 0:
            raise JPEGSourceError(f"max_payload {max_payload} leaves no room for scan data")
        chunk = image.scan[offset : offset + room]
        packets.append(header / Raw(chunk))
        offset += len(chunk)
        if offset >= len(image.scan):
            return packets
