"""RFC 2435: RTP payload format for JPEG, both ways.

``packetize`` turns one baseline JPEG into RTP payloads (main header, Restart
Marker header on every packet for types 64-127, Quantization Table header on
the first fragment, scan data); ``read_payload`` and ``parse_payload`` read those
headers back. Reassembly is ``rtsp_common.jpeg_depacketizer``.

JPEG marker scanning and JFIF rebuilding live in ``rtsp_common.jfif``, the
fixed tables in ``rtsp_common.jpeg_tables``; both are re-exported here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rtsp_common.errors import ParseError, UnsupportedJPEG
from rtsp_common.jfif import (
    DIMENSION_UNIT,
    QTABLE_8BIT_SIZE,
    QTABLE_16BIT_SIZE,
    TYPE_420,
    TYPE_422,
    TYPE_RESTART_FLAG,
    JPEGFrame,
    build_jpeg,
    parse_jpeg,
)
from rtsp_common.jpeg_tables import MAX_Q_FACTOR, quant_tables

__all__ = [
    "JPEGFrame",
    "parse_jpeg",
    "packetize",
    "quant_tables",
    "build_jpeg",
    "MainHeader",
    "parse_payload",
    "JPEGPayload",
]

# RFC 2435 §3.1: type-specific (8), fragment offset (24), type, Q, width/8, height/8.
MAIN_HEADER = struct.Struct(">IBBBB")
MAIN_HEADER_SIZE = MAIN_HEADER.size  # 8
FRAGMENT_OFFSET_BITS = 24
MAX_FRAGMENT_OFFSET = (1 << FRAGMENT_OFFSET_BITS) - 1
# RFC 2435 §3.1.7: restart interval (16), F (1), L (1), restart count (14).
RESTART_HEADER = struct.Struct(">HH")
RESTART_HEADER_SIZE = RESTART_HEADER.size  # 4
RESTART_FIRST = 0x8000  # F: the packet starts a run of restart intervals
RESTART_LAST = 0x4000  # L: the packet ends a run of restart intervals
RESTART_COUNT_ANY = 0x3FFF  # count value meaning "not aligned to restart intervals"
# RFC 2435 §3.1.8: MBZ (8), precision (8), length (16), then the table data.
QTABLE_HEADER = struct.Struct(">BBH")
QTABLE_HEADER_SIZE = QTABLE_HEADER.size  # 4
# RFC 2435 §4.2: Q 1-99 computed tables, 100-127 reserved, 128-255 in-band tables;
# 255 means the tables may change every frame and are never cached.
Q_INBAND_MIN = 128
Q_DYNAMIC = 255
SUPPORTED_TYPES = (TYPE_422, TYPE_420, TYPE_422 + TYPE_RESTART_FLAG, TYPE_420 + TYPE_RESTART_FLAG)
Piece = bytes | bytearray | memoryview  # part of a scan: a fragment, or a view of one


@dataclass(frozen=True)
class MainHeader:
    """RFC 2435 §3.1 main JPEG header; width and height in pixels."""

    type_specific: int
    offset: int
    type: int
    q: int
    width: int
    height: int


@dataclass(frozen=True)
class JPEGPayload:
    """One RFC 2435 payload read apart.

    ``qtables`` is None when the packet carries no table data (not the first
    fragment, Q < 128, or a zero-length Quantization Table header).
    """

    header: MainHeader
    restart_interval: int
    qtables: tuple[bytes, bytes] | None
    precision: int
    data: memoryview


def _split_tables(section: memoryview, precision: int) -> tuple[tuple[bytes, bytes], int]:
    """Split in-band table data into (luminance, chrominance) and their precision bits."""
    bits = [precision >> i & 1 for i in range(2)]
    sizes = [QTABLE_16BIT_SIZE if bit else QTABLE_8BIT_SIZE for bit in bits]
    length = len(section)
    if length >= sizes[0] + sizes[1]:
        luma = section[: sizes[0]].tobytes()
        return (luma, section[sizes[0] : sizes[0] + sizes[1]].tobytes()), bits[0] | bits[1] << 1
    if length == sizes[0]:
        # One table for all components: tolerated, used for luma and chroma alike.
        table = section.tobytes()
        return (table, table), bits[0] | bits[0] << 1
    raise ParseError(
        f"RFC 2435 quantization table length {length} does not hold two tables "
        f"of precision {precision:#04b}"
    )


# What read_payload returns (see there).
PayloadValues = tuple[int, int, int, int, int, int, int, tuple[bytes, bytes] | None, int, int]


def read_payload(view: memoryview) -> PayloadValues:
    """Read the RFC 2435 headers as plain values; ParseError on bogus headers.

    Returns (type_specific, offset, type, q, width/8, height/8, restart interval,
    tables, precision, start of the scan data).  ``Depacketizer.push`` works on
    these values directly: building the dataclasses per packet cost as much as
    the rest of the reassembly.
    """
    if len(view) < MAIN_HEADER_SIZE:
        raise ParseError(
            f"RFC 2435 payload of {len(view)} bytes is shorter than the 8-byte main header"
        )
    word, ftype, q, w8, h8 = MAIN_HEADER.unpack_from(view)
    offset = word & MAX_FRAGMENT_OFFSET
    if ftype not in SUPPORTED_TYPES:
        raise UnsupportedJPEG(f"RFC 2435 type {ftype} is not supported (only 0, 1, 64, 65)")
    if w8 == 0 or h8 == 0:
        raise ParseError(
            f"RFC 2435 header gives a zero size ({w8 * DIMENSION_UNIT}x{h8 * DIMENSION_UNIT})"
        )
    if q == 0 or MAX_Q_FACTOR < q < Q_INBAND_MIN:
        raise ParseError(f"RFC 2435 Q value {q} is reserved (use 1-99 or 128-255)")
    pos = MAIN_HEADER_SIZE
    restart_interval = 0
    if ftype >= TYPE_RESTART_FLAG:
        if len(view) < pos + RESTART_HEADER_SIZE:
            raise ParseError(f"RFC 2435 type {ftype} payload is missing its Restart Marker header")
        restart_interval, _ = RESTART_HEADER.unpack_from(view, pos)
        pos += RESTART_HEADER_SIZE
    qtables = None
    precision = 0
    if q >= Q_INBAND_MIN and offset == 0:
        if len(view) < pos + QTABLE_HEADER_SIZE:
            raise ParseError("RFC 2435 first fragment is missing its Quantization Table header")
        _mbz, precision, length = QTABLE_HEADER.unpack_from(view, pos)
        pos += QTABLE_HEADER_SIZE
        if pos + length > len(view):
            raise ParseError(
                f"RFC 2435 quantization table length {length} exceeds the "
                f"{len(view) - pos} bytes left in the packet"
            )
        if length == 0 and q == Q_DYNAMIC:
            raise ParseError("RFC 2435 forbids Q=255 with a zero-length quantization table")
        if length:
            qtables, precision = _split_tables(view[pos : pos + length], precision)
        pos += length
    return word >> FRAGMENT_OFFSET_BITS, offset, ftype, q, w8, h8, restart_interval, qtables, precision, pos  # fmt: skip


def parse_payload(payload: bytes | bytearray | memoryview) -> JPEGPayload:
    """Read the RFC 2435 headers of one RTP payload; ParseError on bogus headers."""
    view = memoryview(payload)
    specific, offset, ftype, q, w8, h8, restart, qtables, precision, pos = read_payload(view)
    header = MainHeader(specific, offset, ftype, q, w8 * DIMENSION_UNIT, h8 * DIMENSION_UNIT)
    return JPEGPayload(header, restart, qtables, precision, view[pos:])


def _check_max_payload(first_overhead: int, max_payload: int) -> None:
    if max_payload < first_overhead + 1:
        raise ValueError(
            f"max_payload {max_payload} is too small: the first RFC 2435 packet "
            f"needs {first_overhead} header bytes plus data"
        )


def packetize(jpeg: bytes | bytearray | memoryview | JPEGFrame, max_payload: int) -> list[bytes]:
    """Split one JPEG into RFC 2435 payloads of at most ``max_payload`` bytes.

    Q=255 with the tables in-band on the first fragment; a Restart Marker
    header (F=L=1, count 0x3FFF: fragments not aligned to restart intervals) on
    every packet of types 64-127.  Fragment offsets count scan bytes only.
    Raises UnsupportedJPEG/ParseError for JPEGs RFC 2435 cannot carry.
    """
    frame = jpeg if isinstance(jpeg, JPEGFrame) else parse_jpeg(jpeg)
    scan = memoryview(frame.scan)
    total = len(scan)
    if total and total - 1 > MAX_FRAGMENT_OFFSET:
        raise UnsupportedJPEG(f"scan of {total} bytes exceeds RFC 2435's 24-bit fragment offsets")
    restart = b""
    if frame.type >= TYPE_RESTART_FLAG:
        restart = RESTART_HEADER.pack(
            frame.restart_interval, RESTART_FIRST | RESTART_LAST | RESTART_COUNT_ANY
        )
    tables = b"".join(frame.qtables[:2])
    qheader = QTABLE_HEADER.pack(0, frame.precision, len(tables)) + tables
    overhead = MAIN_HEADER_SIZE + len(restart)
    _check_max_payload(overhead + len(qheader), max_payload)
    w8, h8 = frame.width // DIMENSION_UNIT, frame.height // DIMENSION_UNIT
    pack = MAIN_HEADER.pack
    ftype = frame.type
    first_room = max_payload - overhead - len(qheader)
    room = max_payload - overhead
    packets = [pack(0, ftype, Q_DYNAMIC, w8, h8) + restart + qheader + scan[:first_room]]
    offset = first_room
    while offset < total:
        packets.append(
            pack(offset, ftype, Q_DYNAMIC, w8, h8) + restart + scan[offset : offset + room]
        )
        offset += room
    return packets
