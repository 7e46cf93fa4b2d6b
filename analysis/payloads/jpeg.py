"""RFC 2435 (RTP payload format for JPEG): the checker's reading of its headers, and the
rebuild of a JFIF image from a frame's fragments.
"""

from __future__ import annotations

import functools
import struct

from analysis.payloads.jpeg_tables import (
    AC_CHROMA_BITS,
    AC_CHROMA_VALUES,
    AC_LUMA_BITS,
    AC_LUMA_VALUES,
    DC_CHROMA_BITS,
    DC_CHROMA_VALUES,
    DC_LUMA_BITS,
    DC_LUMA_VALUES,
)

PT_JPEG = 26  # RFC 3551 §6: the static payload type of JPEG
MAIN_HEADER_LEN = 8  # §3.1: type-specific, fragment offset, type, Q, width, height
FRAGMENT_OFFSET_MASK = 0xFFFFFF  # §3.1.2: 24 bits after the type-specific byte
RESTART_HEADER_LEN = 4  # §3.1.7
QT_HEADER_LEN = 4  # §3.1.8: MBZ, precision, length
TYPE_RESTART_FIRST = 64  # §3.1.3: types 64..127 carry a Restart Marker header
TYPE_RESTART_LAST = 127
TYPE_DYNAMIC_FIRST = 128  # types 128..255 are defined out of band
BASE_TYPES = (0, 1)  # §4.1: 4:2:2 and 4:2:0 sampling
Q_TABLE_LAST = 99  # §4.2: Q 1..99 select the Appendix A scaled tables
Q_RESERVED = range(100, 128)
Q_INBAND_FIRST = 128  # Q 128..255: tables travel in the Quantization Table header
Q_ALWAYS_INBAND = 255  # tables change every frame: must be present in each (§3.1.8)
TABLE_BYTES_8BIT = 64
TABLE_BYTES_16BIT = 128
PIXELS_PER_UNIT = 8  # §3.1.5/6: width and height travel in 8-pixel units
MAX_DIMENSION_UNITS = 255  # one byte each: at most 2040 pixels
# §3.1.7: F=L=1 with count 0x3FFF says "this packet holds whole restart intervals".
RESTART_COUNT_ALL = 0x3FFF

_MAIN = struct.Struct("!IBBBB").unpack_from
_SHORTS = struct.Struct("!HH").unpack_from

# JPEG markers (T.81 Table B.1).
SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
DQT = 0xDB
SOF0 = 0xC0
DHT = 0xC4
DRI = 0xDD
SOS = 0xDA


def parse_main(payload: bytes) -> tuple[int, int, int, int, int] | None:
    """(fragment offset, type, Q, width, height in pixels) or None when too short."""
    if len(payload) < MAIN_HEADER_LEN:
        return None
    first, jtype, q, width, height = _MAIN(payload)
    return first & FRAGMENT_OFFSET_MASK, jtype, q, width * PIXELS_PER_UNIT, height * PIXELS_PER_UNIT


def table_bytes(precision: int, count: int = 2) -> int:
    """Bytes of ``count`` tables under a QT header's precision bits (§3.1.8)."""
    return sum(
        TABLE_BYTES_16BIT if precision & (1 << i) else TABLE_BYTES_8BIT for i in range(count)
    )


def _segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack("!H", len(body) + 2) + body


def _dht(table_class_id: int, bits: tuple[int, ...], values: tuple[int, ...]) -> bytes:
    return _segment(DHT, bytes((table_class_id,)) + bytes(bits) + bytes(values))


_HUFFMAN = (
    _dht(0x00, DC_LUMA_BITS, DC_LUMA_VALUES)
    + _dht(0x10, AC_LUMA_BITS, AC_LUMA_VALUES)
    + _dht(0x01, DC_CHROMA_BITS, DC_CHROMA_VALUES)
    + _dht(0x11, AC_CHROMA_BITS, AC_CHROMA_VALUES)
)


@functools.lru_cache(maxsize=256)
def jfif_header(
    jtype: int, width: int, height: int, tables: bytes, precision: int = 0, dri: int = 0
) -> bytes:
    """The JPEG headers RFC 2435 leaves out, rebuilt (§4 and Appendix B).

    ``tables`` holds the luma then chroma table in zig-zag order; ``precision`` the QT
    header's precision bits; ``dri`` the restart interval (0 for none).
    """
    out = bytearray(SOI)
    pos = 0
    count = 0
    for table_id in range(2):
        size = TABLE_BYTES_16BIT if precision & (1 << table_id) else TABLE_BYTES_8BIT
        if pos + size > len(tables):
            break  # one table only: every component uses it
        pq = 1 if size == TABLE_BYTES_16BIT else 0
        out += _segment(DQT, bytes(((pq << 4) | table_id,)) + tables[pos : pos + size])
        pos += size
        count += 1
    chroma_table = 1 if count > 1 else 0
    luma_sampling = 0x21 if jtype % TYPE_RESTART_FIRST == 0 else 0x22
    out += _segment(
        SOF0,
        struct.pack("!BHHB", 8, height, width, 3)
        + bytes((1, luma_sampling, 0, 2, 0x11, chroma_table, 3, 0x11, chroma_table)),
    )
    out += _HUFFMAN
    if dri:
        out += _segment(DRI, struct.pack("!H", dri))
    out += _segment(SOS, bytes((3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)))
    return bytes(out)
