"""RFC 2435 reassembly: RTP payloads back into complete JPEG files (sans-I/O).

``Depacketizer`` keys frames by RTP timestamp, places fragments by offset (reordered
or duplicated ones too) and rebuilds a decodable JFIF once the scan is whole. The
payload headers are read by ``rtsp_common.jpeg``.
"""

from __future__ import annotations

import logging
import struct
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from rtsp_common.errors import ParseError
from rtsp_common.jfif import (
    DIMENSION_UNIT,
    EOI_BYTES,
    SOI_BYTES,
    TYPE_RESTART_FLAG,
    build_jpeg_from_pieces,
)
from rtsp_common.jpeg import (
    MAIN_HEADER_SIZE,
    MAX_FRAGMENT_OFFSET,
    Q_DYNAMIC,
    Q_INBAND_MIN,
    MainHeader,
    PayloadValues,
    Piece,
    read_payload,
)
from rtsp_common.jpeg_tables import MAX_Q_FACTOR, MIN_Q_FACTOR, quant_tables
from rtsp_common.rtp import TS_MOD
from rtsp_common.status import Status

logger = logging.getLogger(__name__)

# The main header as two words for push's fast path: type-specific + offset, then
# type, Q, width/8, height/8; a whole JPEG shows its SOI in the first word's top bits.
_HEADER_WORDS = struct.Struct(">II")
_SOI_SHIFT = 32 - 8 * len(SOI_BYTES)
_SOI_WORD = int.from_bytes(SOI_BYTES, "big")


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
        self._last_first: tuple[bytes, PayloadValues, MainHeader] | None = None

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
        # Compared as bytes: a memoryview compares item by item, ten times slower.
        if last is not None and view[: len(last[0])].tobytes() == last[0]:
            values, header = last[1], last[2]  # read and checked already
        else:
            values, header = read_payload(view), None
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

    def take_whole_frame(
        self,
        payloads: Sequence[Piece],
        timestamps: Sequence[int],
        markers: Sequence[bool],
        start: int,
    ) -> tuple[int, bytes | None] | None:
        """The frame that packets ``start``.. of a run in sequence order hold whole, as
        (index of its marker packet, JPEG file, or None when no tables are known and it was
        dropped); None, changing nothing, unless it is the usual frame that ``push`` would
        take packet by packet.

        Usual means: a new timestamp; a first fragment whose headers repeat the last first
        fragment's byte for byte (so they were read and checked then); later fragments
        with the same timestamp and header words, each starting where the one before
        ended; the marker on the last; within ``max_frame_bytes``. The frame is then
        finished straight from the payloads, with the same effects as ``push``."""
        last = self._last_first
        timestamp = timestamps[start] % TS_MOD
        if last is None or timestamp in self._pending or timestamp in self._finished:
            return None
        head, values, header = last
        first = payloads[start]
        if header.type >= TYPE_RESTART_FLAG or bytes(first[: len(head)]) != head:
            return None
        tail = values[2] << 24 | values[3] << 16 | values[4] << 8 | values[5]
        limit = self.max_frame_bytes
        pieces = [memoryview(first)[len(head) :]]
        stop = len(pieces[0])
        end = start
        while not markers[end]:
            end += 1
            if end == len(payloads) or timestamps[end] % TS_MOD != timestamp:
                return None  # the frame goes on past the run: packet by packet
            payload = payloads[end]
            size = len(payload) - MAIN_HEADER_SIZE
            word, words_tail = _HEADER_WORDS.unpack_from(payload) if size > 0 else (0, -1)
            if (
                words_tail != tail
                or word & MAX_FRAGMENT_OFFSET != stop
                or word >> _SOI_SHIFT == _SOI_WORD
            ):
                return None
            pieces.append(memoryview(payload)[MAIN_HEADER_SIZE:])
            stop += size
        if not pieces[0] or stop > limit:
            return None
        frame = self._open(timestamp, header, tail, values[6])
        self._take_tables(frame, values[3], values[7], values[8])
        return end, self._complete(timestamp, frame, pieces)

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
        return self._complete(timestamp, frame, scan)

    def _complete(
        self, timestamp: int, frame: _PendingFrame, scan: Sequence[Piece]
    ) -> bytes | None:
        """Finish a frame whose scan is whole: its JPEG file, or None when no tables are
        known for its Q (the frame is then dropped)."""
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
