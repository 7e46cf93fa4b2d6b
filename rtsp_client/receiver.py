"""The RTP/RTCP receive path, sans I/O: datagrams in, whole frames out.

Packets are accepted only from the server's address and, once known, from the session's
SSRC; they pass a small reorder buffer, feed the statistics, and are reassembled into
frames by the stream's payload format: JPEG files per RFC 2435 (or taken whole, as the lab's
server sends them), Annex B access units per RFC 6184 / RFC 7798. Every malformed or
foreign packet is counted by kind and dropped: nothing raised here reaches the event loop.
"""

from __future__ import annotations

import logging
import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rtsp_client.reorder import DEFAULT_MAX_DELAY, ReorderBuffer
from rtsp_client.stats import VIDEO_CLOCK_RATE, ReceptionStats, StatsAccumulator
from rtsp_common.errors import ParseError
from rtsp_common.payload_formats import PAYLOAD_FORMATS, PayloadFormat
from rtsp_common.rtcp import Bye, SenderReport, parse_compound
from rtsp_common.rtp import RTP_HEADER_SIZE, RTP_VERSION, SEQ_MOD, RTPPacket

logger = logging.getLogger(__name__)

DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024  # reassembly memory bound per frame

# One datagram as the socket readers give it: its bytes, the sender's address, and its
# arrival time (None: not known, so the time the batch was read).
Datagram = tuple[bytes, tuple | None, float | None]


class DropReason(StrEnum):
    """Why a packet or frame was refused; the keys of ``Receiver.drops``."""

    FOREIGN_ADDRESS = "foreign_address"  # not from the server we talk to
    FOREIGN_SSRC = "foreign_ssrc"  # not the session's source
    MALFORMED_RTP = "malformed_rtp"  # RTP header unreadable
    PAYLOAD_TYPE = "payload_type"  # not the negotiated payload type
    MALFORMED_JPEG = "malformed_jpeg"  # bad RFC 2435 header or fragment
    MALFORMED_PAYLOAD = "malformed_payload"  # a payload breaking RFC 6184 / RFC 7798
    LATE = "late"  # behind what the reorder buffer already released
    DUPLICATE = "duplicate"  # a copy of a packet already taken (RFC 3550 A.1 counts it too)
    NOT_COUNTED = "not_counted"  # RFC 3550 A.1 refused the sequence number
    MALFORMED_RTCP = "malformed_rtcp"
    INTERNAL = "internal_error"  # a bug of ours, caught so the session survives


JPEG_FORMAT = PAYLOAD_FORMATS["JPEG"]


@dataclass(frozen=True)
class Frame:
    """One reassembled frame, as handed to the application: a JPEG file, or an H.264/H.265
    access unit in Annex B form (``encoding`` says which, as the SDP's a=rtpmap names it)."""

    data: bytes
    timestamp: int  # RTP timestamp
    arrival: float  # seconds (the receiver's clock) when its last packet came in
    index: int  # 0-based count of frames delivered in this session
    encoding: str = JPEG_FORMAT.encoding

    @property
    def jpeg(self) -> bytes:
        """The JPEG file of an RFC 2435 frame (the lab's name for ``data``)."""
        return self.data


@dataclass(slots=True)
class _Pending:
    """What reassembly needs of one accepted packet."""

    sequence: int
    timestamp: int
    marker: bool
    payload: bytes | memoryview
    arrival: float


# RFC 3550 §5.1: first octet V=2 with no padding, extension or CSRC (the usual packet);
# then M/PT, sequence, timestamp, SSRC.
_PLAIN_FIRST_OCTET = RTP_VERSION << 6
_FIXED = struct.Struct("!BHII")
_MARKER_BIT = 0x80
_PT_MASK = 0x7F


class _Run:
    """In-order packets ``rtp_batch`` gathered, not yet reassembled nor accounted: their
    payloads, RTP timestamps, markers and arrival times. They follow on from the
    statistics' ``next_in_order()``, which stays put until the run is taken. They go to
    the depacketizer in one call (``push_run``), and to the statistics and the reorder
    position in one more (``StatsAccumulator.in_order_run``), usually once a batch: frames
    reach listeners only after the batch, so none sees the figures lag."""

    __slots__ = ("payloads", "timestamps", "markers", "arrivals")

    def __init__(self) -> None:
        self.payloads: list[memoryview] = []
        self.timestamps: list[int] = []
        self.markers: list[bool] = []
        self.arrivals: list[float] = []

    def clear(self) -> None:
        self.payloads.clear()
        self.timestamps.clear()
        self.markers.clear()
        self.arrivals.clear()


class Receiver:
    """Sans-I/O RTP receiver: call ``rtp_received``/``rtcp_received`` and ``poll``.

    ``server_host`` is the server's IP address (None: do not check, as for TCP interleaving).
    ``ssrc`` is the source announced in SETUP, or None to latch onto the first valid packet.
    ``clock_rate`` is the media clock (None: unknown, so no jitter is measured).
    ``payload_format`` and its SDP ``fmtp`` parameters choose the depacketizer (JPEG when
    not given).
    """

    def __init__(
        self,
        server_host: str | None = None,
        ssrc: int | None = None,
        payload_type: int | None = None,
        clock_rate: int | None = VIDEO_CLOCK_RATE,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        reorder_delay: float = DEFAULT_MAX_DELAY,
        payload_format: PayloadFormat = JPEG_FORMAT,
        fmtp: dict[str, str] | None = None,
    ) -> None:
        self.server_host = server_host
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.max_frame_bytes = max_frame_bytes
        self.stats = StatsAccumulator(clock_rate=clock_rate)
        self.drops: Counter[str] = Counter()
        self.bye = False
        self._reorder: ReorderBuffer[_Pending] = ReorderBuffer(max_delay=reorder_delay)
        self.payload_format = payload_format
        self._depacketizer = payload_format.depacketizer(fmtp or {}, max_frame_bytes)
        self._malformed = (
            DropReason.MALFORMED_JPEG if payload_format.is_jpeg else DropReason.MALFORMED_PAYLOAD
        )
        self._depacketizer_dropped = 0
        self._depacketizer_malformed = 0
        self._encoding = payload_format.encoding
        self._index = 0

    # --- input ---------------------------------------------------------------

    def rtp_received(self, data: bytes, addr: tuple | None, now: float) -> list[Frame]:
        """One RTP datagram (or interleaved payload); returns frames completed by it."""
        return self.rtp_batch(((data, addr, now),), now)

    def rtp_batch(self, datagrams: Iterable[Datagram], now: float) -> list[Frame]:
        """RTP datagrams read together, each (data, sender, arrival time or None for
        ``now``); returns the frames they completed, in order.

        The usual packet (the next in order from the session's source) joins a run after
        one read of its header; a run goes to the depacketizer, the statistics and the
        reorder position in one call each (see ``_take_run``), so a frame it holds whole
        is built in one step. Any other packet takes the general path (``_rtp``). What
        the depacketizer dropped is counted once per batch.
        """
        frames: list[Frame] = []
        server_host, payload_type = self.server_host, self.payload_type
        unpack = _FIXED.unpack_from
        # The run of in-order packets not yet taken (``_Run``); ``expected`` is the
        # sequence number that continues it.
        run = _Run()
        payloads, timestamps = run.payloads, run.timestamps
        markers, arrivals = run.markers, run.arrivals
        expected = self._next_in_order()
        for data, addr, arrival in datagrams:
            if arrival is None:
                arrival = now
            try:
                if (
                    len(data) > RTP_HEADER_SIZE
                    and data[0] == _PLAIN_FIRST_OCTET
                    and (server_host is None or addr is None or addr[0] == server_host)
                ):
                    second, sequence, timestamp, ssrc = unpack(data, 1)
                    if (
                        sequence == expected
                        and ssrc == self.ssrc
                        and (payload_type is None or second & _PT_MASK == payload_type)
                    ):
                        expected = (sequence + 1) % SEQ_MOD
                        payloads.append(memoryview(data)[RTP_HEADER_SIZE:])
                        timestamps.append(timestamp)
                        markers.append(second >= _MARKER_BIT)
                        arrivals.append(arrival)
                        continue
                if timestamps:
                    self._take_run(run, frames)
                self._rtp(data, addr, arrival, frames)
                expected = self._next_in_order()
            except Exception:  # the receive path must survive our own bugs too
                logger.exception("unexpected error on the RTP receive path")
                self.drops[DropReason.INTERNAL] += 1
        if timestamps:
            try:
                self._take_run(run, frames)
            except Exception:
                logger.exception("unexpected error on the RTP receive path")
                self.drops[DropReason.INTERNAL] += 1
        self._count_depacketizer_outcomes()
        return frames

    def rtcp_received(self, data: bytes, addr: tuple | None, now: float) -> None:
        """One RTCP datagram: remembers SR times for LSR/DLSR, notes a BYE."""
        try:
            self._rtcp(data, addr, now)
        except Exception:
            logger.exception("unexpected error on the RTCP receive path")
            self.drops[DropReason.INTERNAL] += 1

    def poll(self, now: float) -> list[Frame]:
        """Frames released because a reorder gap waited too long."""
        frames: list[Frame] = []
        try:
            self._reassemble(self._reorder.poll(now), frames)
        except Exception:
            logger.exception("unexpected error while releasing reordered packets")
            self.drops[DropReason.INTERNAL] += 1
        self._count_depacketizer_outcomes()
        return frames

    def deadline(self) -> float | None:
        """When ``poll`` should next be called, or None."""
        return self._reorder.deadline()

    def restart_sequence(self) -> None:
        """Forget the reorder position (a PLAY from another point may jump the numbers)."""
        self._reorder.reset()

    @property
    def stream_header(self) -> bytes:
        """What a recording of this stream starts with: the SDP's parameter sets for
        H.264/H.265 in Annex B form, nothing for JPEG."""
        return self._depacketizer.stream_header

    def snapshot(self, now: float | None = None) -> ReceptionStats:
        """Statistics so far, with the drop counts."""
        return self.stats.snapshot(now, dropped=dict(self.drops))

    # --- internals -----------------------------------------------------------

    def _from_server(self, addr: tuple | None) -> bool:
        return self.server_host is None or addr is None or addr[0] == self.server_host

    def _rtp(self, data: bytes, addr: tuple | None, now: float, frames: list[Frame]) -> None:
        """One datagram; the frames it completes are appended to ``frames``."""
        server_host = self.server_host  # _from_server, inlined on the per-packet path
        if server_host is not None and addr is not None and addr[0] != server_host:
            self.drops[DropReason.FOREIGN_ADDRESS] += 1
            return
        if len(data) > RTP_HEADER_SIZE and data[0] == _PLAIN_FIRST_OCTET:
            # The fast path for the usual packet: read the fixed header in place, once.
            second, sequence, timestamp, ssrc = _FIXED.unpack_from(data, 1)
            payload_type, marker = second & _PT_MASK, second >= _MARKER_BIT
            payload: bytes | memoryview = memoryview(data)[RTP_HEADER_SIZE:]
        else:
            try:
                packet = RTPPacket.parse(data)
            except ParseError as exc:
                logger.debug("malformed RTP from %s: %s", addr, exc)
                self.drops[DropReason.MALFORMED_RTP] += 1
                return
            payload_type, marker, sequence = packet.payload_type, packet.marker, packet.sequence
            timestamp, ssrc, payload = packet.timestamp, packet.ssrc, packet.payload
        if self.payload_type is not None and payload_type != self.payload_type:
            self.drops[DropReason.PAYLOAD_TYPE] += 1
            return
        if self.ssrc is None:
            self.ssrc = ssrc
            logger.debug("latched onto SSRC %08x", ssrc)
        elif ssrc != self.ssrc:
            self.drops[DropReason.FOREIGN_SSRC] += 1
            return
        stats = self.stats
        duplicates = stats.duplicates
        if not stats.packet(sequence, timestamp, now, len(payload)):
            self.drops[DropReason.NOT_COUNTED] += 1
            return
        reorder = self._reorder
        if reorder.take_in_order(sequence):
            # The usual case: in order with nothing waiting, so straight to reassembly.
            self._reassemble_one(sequence, timestamp, marker, payload, now, frames)
            return
        # A gap that waited past its deadline is given up first, as the poll timer would
        # have done before this packet came in (datagrams may be read in late batches).
        released = reorder.poll(now)
        late_before = reorder.late
        pending = _Pending(sequence, timestamp, marker, payload, now)
        released += reorder.push(sequence, pending, now)
        if reorder.late != late_before:
            copy = stats.duplicates != duplicates  # a copy, not a packet arriving too late
            self.drops[DropReason.DUPLICATE if copy else DropReason.LATE] += 1
        self._reassemble(released, frames)

    def _reassemble(self, pending: list[_Pending], frames: list[Frame]) -> None:
        for item in pending:
            self._reassemble_one(
                item.sequence, item.timestamp, item.marker, item.payload, item.arrival, frames
            )

    def _reassemble_one(
        self,
        sequence: int,
        timestamp: int,
        marker: bool,
        payload: bytes | memoryview,
        arrival: float,
        frames: list[Frame],
    ) -> None:
        completed = self._depacketizer.push(payload, timestamp, marker, sequence)
        if completed:
            self._hand_over(completed, arrival, frames)

    def _hand_over(
        self, completed: list[tuple[int, bytes]], arrival: float, frames: list[Frame]
    ) -> None:
        """Count the depacketizer's completed frames and append them to ``frames``."""
        for _ in completed:
            self.stats.frame_complete(arrival)
        self._new_frames([(timestamp, data, arrival) for timestamp, data in completed], frames)

    def _new_frames(
        self, completed: Iterable[tuple[int, bytes, float]], frames: list[Frame]
    ) -> None:
        """Append frames completed, as (RTP timestamp, data, arrival time), to ``frames``
        (counted elsewhere)."""
        for frame_timestamp, data, arrival in completed:
            frames.append(Frame(bytes(data), frame_timestamp, arrival, self._index, self._encoding))
            self._index += 1

    def _next_in_order(self) -> int:
        """The sequence number that would continue an in-order run: the statistics' and
        the reorder buffer's next, from a known source; -1 when there is none."""
        expected = self.stats.next_in_order()
        if expected is None or self.ssrc is None:
            return -1
        return expected if self._reorder.would_take_in_order(expected) else -1

    def _take_run(self, run: _Run, frames: list[Frame]) -> None:
        """Reassemble the in-order run gathered by ``rtp_batch``, append the frames it
        completed to ``frames``, account it in the statistics and the reorder position,
        and empty it."""
        try:
            stats, payloads, arrivals = self.stats, run.payloads, run.arrivals
            first = stats.next_in_order()
            assert first is not None  # a run starts only from a valid source's next number
            completed = self._depacketizer.push_run(payloads, run.timestamps, run.markers, first)
            self._new_frames(
                [(timestamp, data, arrivals[index]) for index, timestamp, data in completed], frames
            )
            stats.in_order_run(
                run.timestamps,
                arrivals,
                list(map(len, payloads)),
                [(index + 1, arrivals[index]) for index, _, _ in completed],
            )
            self._reorder.took_in_order(stats.max_seq)  # the run's last number
        finally:  # a run is taken once, whatever happens
            run.clear()

    def _count_depacketizer_outcomes(self) -> None:
        """Count what the depacketizer refused or gave up since the last call (once per
        batch: its counters are properties, too dear to read for every packet)."""
        depacketizer = self._depacketizer
        malformed = depacketizer.packets_malformed
        if malformed != self._depacketizer_malformed:
            logger.debug(
                "%d bad payload(s), the last: %s",
                malformed - self._depacketizer_malformed,
                depacketizer.last_error,
            )
            self.drops[self._malformed] += malformed - self._depacketizer_malformed
            self._depacketizer_malformed = malformed
        dropped = depacketizer.frames_dropped
        if dropped > self._depacketizer_dropped:
            self.stats.frames_dropped(dropped - self._depacketizer_dropped)
        self._depacketizer_dropped = dropped

    def _rtcp(self, data: bytes, addr: tuple | None, now: float) -> None:
        if not self._from_server(addr):
            self.drops[DropReason.FOREIGN_ADDRESS] += 1
            return
        try:
            packets = parse_compound(data)
        except ParseError as exc:
            logger.debug("malformed RTCP from %s: %s", addr, exc)
            self.drops[DropReason.MALFORMED_RTCP] += 1
            return
        for packet in packets:
            if isinstance(packet, SenderReport) and packet.ssrc == self.ssrc:
                self.stats.sender_report(packet.ntp_timestamp, now)
            elif isinstance(packet, Bye) and self.ssrc in packet.ssrcs:
                logger.info("server said BYE%s", f": {packet.reason}" if packet.reason else "")
                self.bye = True
