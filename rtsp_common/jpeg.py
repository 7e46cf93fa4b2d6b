"""RFC 2435: RTP payload format for JPEG, both ways.

``packetize`` turns one baseline JPEG into RTP payloads (main header, Restart
Marker header on every packet for types 64-127, Quantization Table header on
the first fragment, scan data).  ``Depacketizer`` reassembles payloads by
fragment offset and rebuilds a decodable JFIF with ``build_jpeg``.

JPEG marker scanning and JFIF rebuilding live in ``rtsp_common.jfif``, the
fixed tables in ``rtsp_common.jpeg_tables``; both are re-exported here.
"""

from __future__ import annotations

import logging
import struct
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from rtsp_common.errors import ParseError, UnsupportedJPEG
from rtsp_common.jfif import (
    DIMENSION_UNIT,
    EOI_BYTES,
    QTABLE_8BIT_SIZE,
    QTABLE_16BIT_SIZE,
    SOI_BYTES,
    TYPE_420,
    TYPE_422,
    TYPE_RESTART_FLAG,
    JPEGFrame,
    build_jpeg,
    build_jpeg_from_pieces,
    parse_jpeg,
)
from rtsp_common.jpeg_tables import MAX_Q_FACTOR, MIN_Q_FACTOR, quant_tables
from rtsp_common.rtp import TS_MOD
from rtsp_common.status import Status

__all__ = [
    "JPEGFrame",
    "parse_jpeg",
    "packetize",
    "quant_tables",
    "build_jpeg",
    "Depacketizer",
    "MainHeader",
    "parse_payload",
    "JPEGPayload",
]

logger = logging.getLogger(__name__)

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
# The main header as two words for push's fast path: type-specific + offset, then
# type, Q, width/8, height/8; a whole JPEG shows its SOI in the first word's top bits.
_HEADER_WORDS = struct.Struct(">II")
_SOI_SHIFT = 32 - 8 * len(SOI_BYTES)
_SOI_WORD = int.from_bytes(SOI_BYTES, "big")
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


# What _read_payload returns (see there).
_PayloadValues = tuple[int, int, int, int, int, int, int, tuple[bytes, bytes] | None, int, int]


def _read_payload(view: memoryview) -> _PayloadValues:
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
    specific, offset, ftype, q, w8, h8, restart, qtables, precision, pos = _read_payload(view)
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


@dataclass(slots=True)
class _PendingFrame:
    """A frame being reassembled: fragments by offset, the header fields they agree on."""

    header: MainHeader
    tail: int  # type, Q, width/8, height/8 as one big-endian word: every fragment must match
    restart_interval: int
    fast_tail: int  # ``tail`` when fragments may take push's fast path, else -1 (never matches)
    fragments: dict[int, Piece] = field(default_factory=dict)  # by offset (see ``_keep``)
    held: int = 0  # bytes stored, overlaps included
    reach: int = 0  # the furthest end of any stored fragment
    end: int | None = None  # scan length, known once the marker packet arrived
    qtables: tuple[bytes, bytes] | None = None
    precision: int = 0


class _Conflict(Exception):
    """Fragments of one frame disagree; the frame must be dropped."""


class Depacketizer:
    """Reassemble RFC 2435 payloads into complete JPEG files (sans-I/O).

    Frames are keyed by RTP timestamp; fragments may arrive reordered or
    duplicated.  A frame is complete when its marker packet arrived and its
    fragments cover the scan from offset 0 without gaps.  The frames of the
    last two timestamps are kept, so a late fragment of the previous frame can
    still complete it; an older incomplete frame is dropped when a newer
    timestamp starts (``frames_dropped``).
    """

    IN_FLIGHT = 2  # timestamps kept: the current frame and the one before it
    FINISHED_MEMORY = 16  # timestamps of finished frames whose late packets are ignored

    def __init__(self, max_frame_bytes: int = 8 * 1024 * 1024) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.frames_complete = 0
        self.frames_dropped = 0
        self.packets_late = 0  # packets for frames already completed or dropped
        self._pending: OrderedDict[int, _PendingFrame] = OrderedDict()
        self._finished: deque[int] = deque(maxlen=self.FINISHED_MEMORY)
        self._recent: deque[int] = deque(maxlen=self.IN_FLIGHT)  # last timestamps opened
        self._qtable_cache: dict[int, tuple[tuple[bytes, bytes], int]] = {}
        # The last first fragment's headers, as bytes, with their reading: the next
        # frame's usually repeat them byte for byte (same size, Q and tables).
        self._last_first: tuple[bytes, _PayloadValues, MainHeader] | None = None

    def push(
        self, payload: bytes | bytearray | memoryview, timestamp: int, marker: bool
    ) -> bytes | None:
        """Add one RTP payload; return a complete JPEG when this packet finishes a frame.

        Raises ParseError on a malformed RFC 2435 header (the caller counts
        and drops the packet).  A payload that is a whole JPEG (the lab's
        server sends one per datagram) is returned as is.
        """
        # The fast path, for the usual packet: a later fragment of a frame already open
        # whose header words match the first fragment's (so they were validated then),
        # new offset, within every limit.  Anything else, before any state changes,
        # takes the full path below, which reads and checks everything.
        size = len(payload) - MAIN_HEADER_SIZE
        if size >= 0:
            word, tail = _HEADER_WORDS.unpack_from(payload)
            frame = self._pending.get(timestamp % TS_MOD)
            if frame is not None and tail == frame.fast_tail and word >> _SOI_SHIFT != _SOI_WORD:
                offset = word & MAX_FRAGMENT_OFFSET
                stop = offset + size
                held = frame.held + size
                end = frame.end
                if marker:
                    fits = (end is None or end == stop) and frame.reach <= stop
                else:
                    fits = end is None or stop <= end
                fragments = frame.fragments
                limit = self.max_frame_bytes
                if fits and offset and stop <= limit and held <= limit and offset not in fragments:
                    fragments[offset] = _keep(payload, MAIN_HEADER_SIZE)
                    frame.held = held
                    if stop > frame.reach:
                        frame.reach = stop
                    if marker:
                        frame.end = end = stop
                    if end is None or held < end:
                        return None
                    return self._try_complete(timestamp % TS_MOD, frame)
        return self._push_checked(payload, timestamp, marker)

    def _push_checked(
        self, payload: bytes | bytearray | memoryview, timestamp: int, marker: bool
    ) -> bytes | None:
        if payload[:2] == SOI_BYTES:
            return self._whole_jpeg(payload)
        view = memoryview(payload)
        last = self._last_first
        if last is not None and view[: len(last[0])] == last[0]:
            values, header = last[1], last[2]  # read and checked already
        else:
            values, header = _read_payload(view), None
        specific, offset, ftype, q, w8, h8, restart, qtables, precision, pos = values
        tail = ftype << 24 | q << 16 | w8 << 8 | h8
        timestamp %= TS_MOD
        frame = self._pending.get(timestamp)
        if frame is None:
            if timestamp in self._finished:
                self.packets_late += 1
                return None
            if header is None:
                header = MainHeader(
                    specific, offset, ftype, q, w8 * DIMENSION_UNIT, h8 * DIMENSION_UNIT
                )
                if offset == 0:
                    self._last_first = (view[:pos].tobytes(), values, header)
            frame = self._open(timestamp, header, tail, restart)
        try:
            self._add(frame, offset, tail, restart, q, qtables, precision, view[pos:], marker)
        except _Conflict as exc:
            self._drop(timestamp, str(exc))
            return None
        except ParseError:
            self._drop(timestamp, "bogus fragment")
            raise
        return self._try_complete(timestamp, frame)

    def flush(self) -> int:
        """Drop every incomplete frame (end of stream); return how many were dropped."""
        count = len(self._pending)
        for timestamp in list(self._pending):
            self._drop(timestamp, "stream ended before the frame completed")
        return count

    @property
    def pending(self) -> int:
        """Frames currently being reassembled."""
        return len(self._pending)

    def _whole_jpeg(self, payload: bytes | bytearray | memoryview) -> bytes:
        if payload[-2:] != EOI_BYTES:
            raise ParseError(
                "payload starts like a whole JPEG (FF D8) but does not end with EOI FF D9"
            )
        if len(payload) > self.max_frame_bytes:
            self.frames_dropped += 1
            raise ParseError(
                f"whole-JPEG payload of {len(payload)} bytes is over max_frame_bytes",
                Status.REQUEST_ENTITY_TOO_LARGE,
            )
        self.frames_complete += 1
        return bytes(payload)

    def _open(
        self, timestamp: int, header: MainHeader, tail: int, restart_interval: int
    ) -> _PendingFrame:
        self._recent.append(timestamp)
        for old in [ts for ts in self._pending if ts not in self._recent]:
            self._drop(old, "newer frames started before it completed")
        fast_tail = tail if header.type < TYPE_RESTART_FLAG else -1
        frame = _PendingFrame(header, tail, restart_interval, fast_tail)
        self._pending[timestamp] = frame
        return frame

    def _drop(self, timestamp: int, reason: str) -> None:
        if self._pending.pop(timestamp, None) is not None:
            self.frames_dropped += 1
            self._finished.append(timestamp)
            logger.debug("dropped JPEG frame at timestamp %d: %s", timestamp, reason)

    def _add(
        self,
        frame: _PendingFrame,
        offset: int,
        tail: int,
        restart_interval: int,
        q: int,
        qtables: tuple[bytes, bytes] | None,
        precision: int,
        data: memoryview,
        marker: bool,
    ) -> None:
        if tail != frame.tail:
            raise _Conflict("fragments disagree on type, Q or size")
        if restart_interval != frame.restart_interval:
            raise _Conflict("fragments disagree on the restart interval")
        stop = offset + len(data)
        if stop > self.max_frame_bytes:
            raise _Conflict(f"frame grows past max_frame_bytes ({self.max_frame_bytes})")
        if frame.end is not None and stop > frame.end:
            raise ParseError(
                f"RFC 2435 fragment at offset {offset} extends past the frame end {frame.end}"
            )
        if marker:
            if frame.end is not None and frame.end != stop:
                raise _Conflict("two marker packets give different frame ends")
            if frame.reach > stop:
                raise _Conflict("a fragment extends past the marker packet's end")
            frame.end = stop
        if offset == 0:
            self._take_tables(frame, q, qtables, precision)
        old = frame.fragments.get(offset)
        if old is not None:
            if old != data:
                raise _Conflict(f"two different fragments at offset {offset}")
            return  # duplicate
        frame.held += len(data)
        if frame.held > self.max_frame_bytes:
            raise _Conflict(f"frame holds more than max_frame_bytes ({self.max_frame_bytes})")
        frame.fragments[offset] = _keep(data, 0)
        frame.reach = max(frame.reach, stop)

    def _take_tables(
        self, frame: _PendingFrame, q: int, qtables: tuple[bytes, bytes] | None, precision: int
    ) -> None:
        if q < Q_INBAND_MIN:
            if MIN_Q_FACTOR <= q <= MAX_Q_FACTOR:
                frame.qtables, frame.precision = quant_tables(q), 0
            return
        if qtables is not None:
            frame.qtables, frame.precision = qtables, precision
            if q != Q_DYNAMIC:  # §4.2: 128-254 are static for the session, 255 never cached
                self._qtable_cache[q] = (qtables, precision)
            return
        cached = self._qtable_cache.get(q)
        if cached is not None:
            frame.qtables, frame.precision = cached

    def _try_complete(self, timestamp: int, frame: _PendingFrame) -> bytes | None:
        end = frame.end
        if end is None or frame.held < end:
            return None
        try:
            scan = _assemble(frame.fragments, end)
        except _Conflict as exc:
            self._drop(timestamp, str(exc))
            return None
        if scan is None:
            return None
        if frame.qtables is None:
            self._drop(timestamp, f"no quantization tables known for Q={frame.header.q}")
            return None
        h = frame.header
        jpeg = build_jpeg_from_pieces(
            h.type, h.width, h.height, frame.qtables, frame.restart_interval, scan, frame.precision
        )
        del self._pending[timestamp]
        self._finished.append(timestamp)
        self.frames_complete += 1
        return jpeg


def _keep(payload: Piece, start: int) -> Piece:
    """The payload from ``start``, to hold: a view if it views immutable ``bytes``, else a copy."""
    if type(payload) is memoryview and type(payload.obj) is bytes:
        return payload[start:]
    return bytes(payload[start:])


def _assemble(fragments: dict[int, Piece], end: int) -> list[Piece] | None:
    """The scan as consecutive pieces; None when a gap remains, _Conflict on a disagreeing overlap."""
    ordered = sorted(fragments)
    pos = 0
    for off in ordered:  # the usual case: contiguous, no overlap, the fragments themselves
        if off != pos:
            break
        pos += len(fragments[off])
    else:
        return [fragments[off] for off in ordered] if pos == end else None
    buf = bytearray(end)
    pos = 0
    for off in ordered:
        data = fragments[off]
        if off > pos:
            return None
        stop = off + len(data)
        if off < pos:
            overlap = min(stop, pos) - off
            if buf[off : off + overlap] != data[:overlap]:
                raise _Conflict(f"overlapping fragments at offset {off} differ")
            if stop > pos:
                buf[pos:stop] = data[overlap:]
        else:
            buf[off:stop] = data
        pos = max(pos, stop)
    if pos < end:
        return None
    return [buf]
