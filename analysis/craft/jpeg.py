"""JPEG images for crafted streams, and their split into RFC 2435 fragments as Scapy layers.

A Pillow-made image is read by ``analysis.craft.jpeg_source`` and sent the way RFC 2435 wants it
(quantization tables in-band, scan data in fragments), deliberately apart from the
project's own packetizer so the checker never shares its bugs.
"""

from __future__ import annotations

import io

from scapy.packet import Packet, Raw

from analysis.craft.jpeg_source import JPEGSourceError, ScanImage, read_scan_image
from analysis.layers import JPEG, JPEGQuantizationTable, JPEGRestartMarker
from analysis.payloads.jpeg import (
    MAIN_HEADER_LEN,
    Q_ALWAYS_INBAND,
    Q_INBAND_FIRST,
    QT_HEADER_LEN,
    RESTART_COUNT_ALL,
    RESTART_HEADER_LEN,
    TYPE_RESTART_FIRST,
)

__all__ = ["JPEGSourceError", "ScanImage", "fragment_scan", "make_test_jpeg", "read_scan_image"]


def make_test_jpeg(
    width: int = 64,
    height: int = 48,
    *,
    quality: int = 75,
    index: int = 0,
    subsampling: str = "4:2:0",
    restart_blocks: int = 0,
) -> bytes:
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


def fragment_scan(
    image: ScanImage,
    max_payload: int = 1400,
    q: int = Q_ALWAYS_INBAND,
    *,
    include_qtable: bool = True,
) -> list[Packet]:
    """RFC 2435 payloads (JPEG header layers + scan bytes) for one frame, in order.

    ``include_qtable=False`` omits the Quantization Table header (a defect when Q >= 128).
    """
    packets: list[Packet] = []
    offset = 0
    restart = image.jpeg_type >= TYPE_RESTART_FIRST
    while True:
        header = JPEG(
            offset=offset, type=image.jpeg_type, q=q, width=image.width, height=image.height
        )
        room = max_payload - MAIN_HEADER_LEN
        if restart:
            header = header / JPEGRestartMarker(
                restart_interval=image.restart_interval,
                first=1,
                last=1,
                restart_count=RESTART_COUNT_ALL,
            )
            room -= RESTART_HEADER_LEN
        if offset == 0 and q >= Q_INBAND_FIRST and include_qtable:
            header = header / JPEGQuantizationTable(precision=image.precision, tables=image.qtables)
            room -= QT_HEADER_LEN + len(image.qtables)
        if room <= 0:
            raise JPEGSourceError(f"max_payload {max_payload} leaves no room for scan data")
        chunk = image.scan[offset : offset + room]
        packets.append(header / Raw(chunk))
        offset += len(chunk)
        if offset >= len(image.scan):
            return packets
