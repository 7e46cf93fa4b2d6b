"""JPEG marker scanning and JFIF rebuilding for RFC 2435.

``parse_jpeg`` reads what RFC 2435 needs from a baseline JPEG (size, sampling
type, restart interval, quantization tables, entropy-coded scan) and refuses,
with ``UnsupportedJPEG`` naming the reason, every JPEG the payload format
cannot carry.  ``build_jpeg`` does the reverse on the receiving side: from
those values it writes a complete JFIF file any decoder reads.

Sizes: RFC 2435 sends width and height in 8-pixel units, so only multiples of
8 up to 2040 are accepted.  A 4:2:0 frame need not be a multiple of its
16-pixel MCU: the receiver writes the exact size into SOF and the decoder
crops the last MCU row just as it did for the original.  Anything else would
change the picture size on the way, so it is refused rather than padded.
SOF1 (extended sequential) is accepted when it uses 8-bit samples and the
standard Huffman tables, since its scan is then coded exactly like baseline.
JPEGs without DHT (common from Motion-JPEG cameras) use the standard tables.
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from rtsp_common.errors import ParseError, UnsupportedJPEG
from rtsp_common.jpeg_tables import HUFFMAN_AC, HUFFMAN_DC, STANDARD_HUFFMAN

if TYPE_CHECKING:
    import mmap

logger = logging.getLogger(__name__)

# T.81 Table B.1 marker codes (the byte after 0xFF).
MARKER_PREFIX = 0xFF
SOF0 = 0xC0  # baseline DCT, Huffman
SOF1 = 0xC1  # extended sequential DCT, Huffman
SOF2 = 0xC2  # progressive DCT, Huffman
SOF3 = 0xC3  # lossless, Huffman
DHT = 0xC4
DAC = 0xCC  # arithmetic conditioning
RST0, RST7 = 0xD0, 0xD7
SOI = 0xD8
EOI = 0xD9
SOS = 0xDA
DQT = 0xDB
DNL = 0xDC
DRI = 0xDD
APP0 = 0xE0
APP14 = 0xEE  # Adobe: colour transform flag
TEM = 0x01
SOI_BYTES = b"\xff\xd8"
EOI_BYTES = b"\xff\xd9"

# Frame types T.81 cannot express in RFC 2435, with the reason given to the user.
_UNSUPPORTED_SOF = {
    SOF2: "progressive JPEG (SOF2)",
    SOF3: "lossless JPEG (SOF3)",
    0xC5: "hierarchical JPEG (SOF5)",
    0xC6: "hierarchical progressive JPEG (SOF6)",
    0xC7: "hierarchical lossless JPEG (SOF7)",
    0xC9: "arithmetic-coded JPEG (SOF9)",
    0xCA: "arithmetic-coded progressive JPEG (SOF10)",
    0xCB: "arithmetic-coded lossless JPEG (SOF11)",
    0xCD: "arithmetic-coded hierarchical JPEG (SOF13)",
    0xCE: "arithmetic-coded hierarchical progressive JPEG (SOF14)",
    0xCF: "arithmetic-coded hierarchical lossless JPEG (SOF15)",
}

# RFC 2435 §3.1.5/§3.1.6: width and height travel as one byte each in 8-pixel units.
DIMENSION_UNIT = 8
MAX_DIMENSION = 255 * DIMENSION_UNIT  # 2040
SAMPLE_PRECISION = 8  # bits per sample: the only precision RFC 2435 types carry
COMPONENTS = 3  # Y, Cb, Cr
# RFC 2435 §4.1: type 0 is Y sampled 2x1 (4:2:2), type 1 is Y sampled 2x2 (4:2:0);
# Cb and Cr are 1x1 in both.
TYPE_422 = 0
TYPE_420 = 1
TYPE_RESTART_FLAG = 64  # RFC 2435 §3.1.7: types 64-127 carry restart markers
_SAMPLING_TO_TYPE = {(2, 1): TYPE_422, (2, 2): TYPE_420}
_TYPE_TO_SAMPLING = {t: (h << 4) | v for (h, v), t in _SAMPLING_TO_TYPE.items()}
CHROMA_SAMPLING = 0x11
QTABLE_8BIT_SIZE = 64
QTABLE_16BIT_SIZE = 128
# T.81 B.2.3: a sequential scan covers coefficients 0..63 with no successive approximation.
SPECTRAL_END = 63

_CONVERT_HINT = "re-encode it as baseline 4:2:0 with standard tables, e.g. rtsp-workbench convert"

# In entropy-coded data 0xFF is followed only by 0x00 (stuffing), RSTn or more
# 0xFF fill bytes; anything else is the marker that ends the scan.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

_SEGMENT_LENGTH = struct.Struct(">H")


def find_scan_end(data: bytes | bytearray | memoryview | mmap.mmap, pos: int) -> int:
    """Offset of the marker that ends the entropy-coded data starting at ``pos``; -1 if none.

    A run of 0xFF fill bytes before the marker counts as fill: the offset is its last 0xFF.
    """
    match = _SCAN_END.search(data, pos)
    return -1 if match is None else match.start()


@dataclass(frozen=True)
class JPEGFrame:
    """What RFC 2435 carries of a baseline JPEG.

    ``qtables`` are (luminance, chrominance) in zig-zag order as in DQT, 64 bytes
    (8-bit) or 128 bytes (16-bit, big-endian) each; ``precision`` has bit i set
    when table i is 16-bit (RFC 2435 §3.1.8).  ``scan`` is the entropy-coded data
    after the SOS header up to, not including, EOI; RST markers stay in it.
    """

    width: int
    height: int
    type: int
    restart_interval: int
    qtables: tuple[bytes, ...]
    precision: int
    scan: bytes | memoryview


@dataclass
class _Component:
    ident: int
    h: int
    v: int
    qtable: int


def _unsupported(reason: str) -> UnsupportedJPEG:
    return UnsupportedJPEG(f"RFC 2435 cannot carry this JPEG: {reason}; {_CONVERT_HINT}")


def _check_dimension(name: str, value: int) -> None:
    if value == 0:
        raise _unsupported(f"{name} 0 (defined later by a DNL marker)")
    if value > MAX_DIMENSION:
        raise _unsupported(f"{name} {value} is over {MAX_DIMENSION} pixels")
    if value % DIMENSION_UNIT:
        raise _unsupported(f"{name} {value} is not a multiple of {DIMENSION_UNIT} pixels")


def _parse_sof(marker: int, body: bytes) -> tuple[int, int, list[_Component]]:
    if len(body) < 6:
        raise ParseError("truncated SOF segment")
    precision, height, width, count = struct.unpack_from(">BHHB", body)
    if len(body) < 6 + 3 * count:
        raise ParseError(f"SOF segment too short for {count} components")
    if precision != SAMPLE_PRECISION:
        raise _unsupported(f"{precision}-bit samples (only 8-bit)")
    if count == 1:
        raise _unsupported("grayscale (one component); RFC 2435 carries YCbCr only")
    if count != COMPONENTS:
        raise _unsupported(f"{count} colour components (only YCbCr)")
    comps = []
    for i in range(count):
        ident, hv, tq = body[6 + 3 * i : 9 + 3 * i]
        comps.append(_Component(ident, hv >> 4, hv & 0x0F, tq))
    if len({c.ident for c in comps}) != count:
        raise ParseError("SOF segment repeats a component identifier")
    sampling = [(c.h, c.v) for c in comps]
    if sampling == [(1, 1)] * 3:
        raise _unsupported("4:4:4 sampling (only 4:2:0 and 4:2:2)")
    if sampling[0] not in _SAMPLING_TO_TYPE or sampling[1:] != [(1, 1), (1, 1)]:
        text = ",".join(f"{h}x{v}" for h, v in sampling)
        raise _unsupported(f"sampling factors {text} (only 4:2:0 and 4:2:2)")
    _check_dimension("width", width)
    _check_dimension("height", height)
    if marker == SOF1:
        logger.debug("extended sequential JPEG accepted: 8-bit, Huffman tables checked at SOS")
    return width, height, comps


def _parse_dqt(body: bytes, tables: dict[int, tuple[bytes, bool]]) -> None:
    i = 0
    while i < len(body):
        pq, tq = body[i] >> 4, body[i] & 0x0F
        if pq > 1 or tq > 3:
            raise ParseError(f"DQT segment: invalid precision {pq} or table id {tq}")
        size = QTABLE_16BIT_SIZE if pq else QTABLE_8BIT_SIZE
        if i + 1 + size > len(body):
            raise ParseError(f"DQT segment: table {tq} truncated")
        tables[tq] = (bytes(body[i + 1 : i + 1 + size]), bool(pq))
        i += 1 + size


def _parse_dht(body: bytes, tables: dict[tuple[int, int], tuple[bytes, bytes]]) -> None:
    i = 0
    while i < len(body):
        tc, th = body[i] >> 4, body[i] & 0x0F
        if tc > 1 or th > 3:
            raise ParseError(f"DHT segment: invalid class {tc} or table id {th}")
        if i + 17 > len(body):
            raise ParseError("DHT segment: truncated code lengths")
        bits = bytes(body[i + 1 : i + 17])
        count = sum(bits)
        if i + 17 + count > len(body):
            raise ParseError("DHT segment: truncated symbol values")
        tables[(tc, th)] = (bits, bytes(body[i + 17 : i + 17 + count]))
        i += 17 + count


def _check_huffman(
    defined: dict[tuple[int, int], tuple[bytes, bytes]], tc: int, th: int, slot: int
) -> None:
    # Motion-JPEG frames often omit DHT and rely on the standard tables.
    table = defined.get((tc, th))
    if table is not None and table != STANDARD_HUFFMAN[(tc, slot)]:
        raise UnsupportedJPEG(
            "RFC 2435 cannot carry this JPEG: non-standard Huffman tables: "
            "re-encode with standard tables, e.g. rtsp-workbench convert"
        )


def _parse_sos(
    body: bytes,
    comps: list[_Component],
    huffman: dict[tuple[int, int], tuple[bytes, bytes]],
) -> None:
    if len(body) < 1 or len(body) < 4 + 2 * body[0]:
        raise ParseError("truncated SOS segment")
    count = body[0]
    if count != COMPONENTS or [body[1 + 2 * i] for i in range(count)] != [c.ident for c in comps]:
        raise _unsupported("the scan does not interleave Y, Cb and Cr (multi-scan JPEG)")
    ss, se, ahal = body[1 + 2 * count : 4 + 2 * count]
    if ss != 0 or se != SPECTRAL_END or ahal != 0:
        raise _unsupported("the scan is not sequential (spectral selection or approximation)")
    for i in range(count):
        selectors = body[2 + 2 * i]
        slot = 0 if i == 0 else 1
        _check_huffman(huffman, HUFFMAN_DC, selectors >> 4, slot)
        _check_huffman(huffman, HUFFMAN_AC, selectors & 0x0F, slot)


def _select_qtables(
    comps: list[_Component], defined: dict[int, tuple[bytes, bool]]
) -> tuple[tuple[bytes, bytes], int]:
    used = [c.qtable for c in comps]
    if len(set(used)) > 2:
        raise _unsupported("three quantization tables (at most two: luminance and chrominance)")
    if used[1] != used[2]:
        raise _unsupported("Cb and Cr use different quantization tables")
    chosen = []
    precision = 0
    for bit, tq in enumerate((used[0], used[1])):
        if tq not in defined:
            raise ParseError(f"quantization table {tq} is used but never defined (no DQT)")
        table, sixteen = defined[tq]
        chosen.append(table)
        if sixteen:
            precision |= 1 << bit
    return (chosen[0], chosen[1]), precision


def parse_jpeg(data: bytes | bytearray | memoryview) -> JPEGFrame:
    """Read a baseline JPEG into the values RFC 2435 carries.

    Raises ``UnsupportedJPEG`` naming the reason when RFC 2435 cannot carry it,
    ``ParseError`` when the bytes are not a well-formed JPEG.  ``scan`` is a
    memoryview into ``data`` (no copy).
    """
    view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
    n = len(view)
    if n < 4 or view[0] != MARKER_PREFIX or view[1] != SOI:
        raise ParseError("not a JPEG: it does not start with the SOI marker FF D8")
    qtables: dict[int, tuple[bytes, bool]] = {}
    huffman: dict[tuple[int, int], tuple[bytes, bytes]] = {}
    comps: list[_Component] | None = None
    width = height = 0
    restart_interval = 0
    adobe_transform: int | None = None
    pos = 2
    while True:
        if pos >= n:
            raise ParseError("truncated JPEG: no SOS marker before the end of the data")
        if view[pos] != MARKER_PREFIX:
            raise ParseError(f"JPEG: expected a marker at byte {pos}, found 0x{view[pos]:02X}")
        while pos < n and view[pos] == MARKER_PREFIX:  # fill bytes may precede a marker
            pos += 1
        if pos >= n:
            raise ParseError("truncated JPEG: ends inside a marker")
        marker = view[pos]
        pos += 1
        if marker == TEM or RST0 <= marker <= RST7:
            continue  # stand-alone markers without a length
        if marker in (0x00, SOI, EOI):
            raise ParseError(f"JPEG: unexpected marker FF {marker:02X} at byte {pos - 2}")
        if pos + 2 > n:
            raise ParseError("truncated JPEG: segment length missing")
        (length,) = _SEGMENT_LENGTH.unpack_from(view, pos)
        end = pos + length
        if length < 2 or end > n:
            raise ParseError(
                f"JPEG: segment FF {marker:02X} at byte {pos - 2} has bad length {length}"
            )
        body = view[pos + 2 : end].tobytes()
        pos = end
        if marker in (SOF0, SOF1):
            if comps is not None:
                raise ParseError("JPEG: more than one SOF segment")
            width, height, comps = _parse_sof(marker, body)
        elif marker in _UNSUPPORTED_SOF:
            raise _unsupported(_UNSUPPORTED_SOF[marker])
        elif marker == DAC:
            raise _unsupported("arithmetic coding (DAC segment)")
        elif marker == DQT:
            _parse_dqt(body, qtables)
        elif marker == DHT:
            _parse_dht(body, huffman)
        elif marker == DRI:
            if len(body) < 2:
                raise ParseError("truncated DRI segment")
            (restart_interval,) = _SEGMENT_LENGTH.unpack_from(body)
        elif marker == APP14 and body[:5] == b"Adobe" and len(body) >= 12:
            adobe_transform = body[11]
        elif marker == SOS:
            if comps is None:
                raise ParseError("JPEG: SOS before any SOF segment")
            _parse_sos(body, comps, huffman)
            break
    if adobe_transform == 0:
        raise _unsupported("RGB colour (Adobe transform 0), not YCbCr")
    tables, precision = _select_qtables(comps, qtables)
    scan_end = find_scan_end(view, pos)
    if scan_end < 0:
        raise ParseError("truncated JPEG: no EOI marker after the scan")
    found = view[scan_end + 1]
    if found != EOI:
        if found == DNL:
            raise _unsupported("height defined by a DNL marker")
        raise _unsupported(f"marker FF {found:02X} after the first scan (multi-scan JPEG)")
    frame_type = _SAMPLING_TO_TYPE[(comps[0].h, comps[0].v)]
    if restart_interval:
        frame_type += TYPE_RESTART_FLAG
    return JPEGFrame(
        width=width,
        height=height,
        type=frame_type,
        restart_interval=restart_interval,
        qtables=tables,
        precision=precision,
        scan=view[pos:scan_end],
    )


def _segment(marker: int, body: bytes) -> bytes:
    return bytes((MARKER_PREFIX, marker)) + _SEGMENT_LENGTH.pack(len(body) + 2) + body


# JFIF 1.02 APP0: version, no units, 1:1 pixel aspect, no thumbnail.
_APP0_JFIF = _segment(APP0, b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00")
_DHT_STANDARD = _segment(
    DHT,
    b"".join(
        bytes([(tc << 4) | slot]) + bits + values
        for (tc, slot), (bits, values) in sorted(STANDARD_HUFFMAN.items())
    ),
)


@lru_cache(maxsize=64)
def _jpeg_header(
    frame_type: int,
    width: int,
    height: int,
    qtables: tuple[bytes, ...],
    restart_interval: int,
    precision: int,
) -> bytes:
    restart_type = TYPE_RESTART_FLAG <= frame_type < 2 * TYPE_RESTART_FLAG
    base_type = frame_type - TYPE_RESTART_FLAG if restart_type else frame_type
    if base_type not in _TYPE_TO_SAMPLING:
        raise UnsupportedJPEG(f"RFC 2435 type {frame_type} is not supported (only 0, 1, 64, 65)")
    if not (0 < width <= 0xFFFF and 0 < height <= 0xFFFF):
        raise ValueError(f"JPEG size {width}x{height} out of range")
    if len(qtables) < 2:
        raise ValueError("two quantization tables are needed (luminance, chrominance)")
    dqt = bytearray()
    for i, table in enumerate(qtables[:2]):
        sixteen = bool(precision >> i & 1)
        if len(table) != (QTABLE_16BIT_SIZE if sixteen else QTABLE_8BIT_SIZE):
            raise ValueError(
                f"quantization table {i} has {len(table)} bytes for precision bit {int(sixteen)}"
            )
        dqt.append((int(sixteen) << 4) | i)
        dqt += table
    # 16-bit tables are not baseline (T.81 B.2.4.1): announce extended sequential.
    sof_marker = SOF1 if precision & 0b11 else SOF0
    sof = struct.pack(
        ">BHHB9B",
        SAMPLE_PRECISION, height, width, COMPONENTS,
        1, _TYPE_TO_SAMPLING[base_type], 0,
        2, CHROMA_SAMPLING, 1,
        3, CHROMA_SAMPLING, 1,
    )  # fmt: skip
    parts = [
        SOI_BYTES,
        _APP0_JFIF,
        _segment(DQT, bytes(dqt)),
        _segment(sof_marker, sof),
        _DHT_STANDARD,
    ]
    if restart_interval:
        parts.append(_segment(DRI, _SEGMENT_LENGTH.pack(restart_interval)))
    # Y uses DC/AC tables 0, Cb and Cr tables 1: the slots _DHT_STANDARD fills.
    parts.append(_segment(SOS, bytes([COMPONENTS, 1, 0x00, 2, 0x11, 3, 0x11, 0, SPECTRAL_END, 0])))
    return b"".join(parts)


def build_jpeg(
    type: int,
    width: int,
    height: int,
    qtables: Sequence[bytes],
    restart_interval: int,
    scan: bytes | bytearray | memoryview,
    precision: int = 0,
) -> bytes:
    """Write a complete, decodable JFIF from RFC 2435 values.

    SOI, APP0 JFIF, DQT, SOF0 (SOF1 with 16-bit tables) with the sampling of
    ``type``, the standard Annex K Huffman tables, DRI when ``restart_interval``,
    SOS, ``scan``, EOI.
    """
    return build_jpeg_from_pieces(
        type, width, height, qtables, restart_interval, (scan,), precision
    )


def build_jpeg_from_pieces(
    type: int,
    width: int,
    height: int,
    qtables: Sequence[bytes],
    restart_interval: int,
    pieces: Sequence[bytes | bytearray | memoryview],
    precision: int = 0,
) -> bytes:
    """``build_jpeg`` for a scan given in consecutive pieces (a frame's fragments, in
    order): each piece is copied once, straight into the JPEG file."""
    header = _jpeg_header(
        type, width, height, tuple(bytes(t) for t in qtables), restart_interval, precision
    )
    last = pieces[-1] if pieces else b""
    ending = bytes(last[-2:]) if len(last) >= 2 else b"".join(pieces)[-2:]
    tail = b"" if ending == EOI_BYTES else EOI_BYTES
    return b"".join((header, *pieces, tail))
