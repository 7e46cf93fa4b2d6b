"""What RFC 2435 carries of a baseline JPEG, and its payloads, made without Scapy for
synthetic captures and benchmarks (the JPEG itself is read by ``analysis.craft.jpeg_source``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from analysis.craft.jpeg_source import JPEGSourceError, read_scan_image
from analysis.payloads.jpeg import (
    FRAGMENT_OFFSET_MASK,
    PIXELS_PER_UNIT,
    Q_ALWAYS_INBAND,
    Q_INBAND_FIRST,
    TABLE_BYTES_8BIT,
)


@dataclass
class JPEGParts:
    """What RFC 2435 carries of a baseline JPEG."""

    jtype: int  # 0 (4:2:2) or 1 (4:2:0)
    width: int
    height: int
    tables: bytes  # luma then chroma, zig-zag order, 8-bit
    scan: bytes  # entropy-coded data up to (not including) EOI


def split_jpeg(jpeg: bytes) -> JPEGParts:
    """What RFC 2435 carries of a baseline JPEG, as ``jpeg_source.read_scan_image`` reads it.

    ``JPEGSourceError`` (a ValueError) for what these streams cannot send: besides what
    RFC 2435 refuses, restart intervals (no Restart Marker header is written) and 16-bit
    tables (the Quantization Table header is written with precision 0).
    """
    image = read_scan_image(jpeg)
    if image.restart_interval:
        raise JPEGSourceError("synthetic streams carry no Restart Marker header: use no DRI")
    if image.precision:
        raise JPEGSourceError("synthetic streams send 8-bit quantization tables only")
    tables = image.qtables
    if len(tables) == TABLE_BYTES_8BIT:
        tables += tables  # one table shared by every component: send it as luma and chroma
    return JPEGParts(image.jpeg_type, image.width_pixels, image.height_pixels, tables, image.scan)


def rfc2435_payloads(
    parts: JPEGParts, max_payload: int = 1400, q: int = Q_ALWAYS_INBAND
) -> list[bytes]:
    """RFC 2435 payloads of one frame; Q >= 128 sends the tables in-band on the first."""
    out: list[bytes] = []
    offset = 0
    scan = parts.scan
    while offset < len(scan) or not out:
        header = struct.pack(
            "!IBBBB", offset & FRAGMENT_OFFSET_MASK, parts.jtype, q,
            parts.width // PIXELS_PER_UNIT, parts.height // PIXELS_PER_UNIT,
        )  # fmt: skip
        if offset == 0 and q >= Q_INBAND_FIRST:
            header += struct.pack("!BBH", 0, 0, len(parts.tables)) + parts.tables
        room = max_payload - len(header)
        piece = scan[offset : offset + room]
        out.append(header + piece)
        offset += len(piece)
    return out
