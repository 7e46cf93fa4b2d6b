"""Reception statistics: a pure accumulator of RFC 3550 Appendix A.1, A.3 and A.8.

Fed one RTP packet at a time (sequence number, RTP timestamp, arrival time, size) and
one frame outcome at a time, it answers the figures a receiver reports: packets expected,
received, lost (cumulative and fraction), duplicated, reordered, interarrival jitter,
frames complete and incomplete, frame rate and bit rate, and the fields of an RTCP
receiver report block. No clock is read here: every time is passed in.

Jitter needs the media clock's rate (RFC 3550 A.8 measures transit in timestamp units);
where the rate is not known (the lab's dialect stamps packets on no stated clock) it is
not computed at all rather than computed on a guess.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from rtsp_common.rtcp import CUMULATIVE_LOST_MAX, CUMULATIVE_LOST_MIN, ReportBlock
from rtsp_common.rtp import SEQ_MOD, TS_MOD

logger = logging.getLogger(__name__)

MAX_DROPOUT = 3000  # RFC 3550 A.1: a jump ahead this large is a restart, not loss
MAX_MISORDER = 100  # RFC 3550 A.1: a step back within this is a late packet
FRACTION_SCALE = 256  # RFC 3550 §6.4.1: fraction lost is 8-bit fixed point
JITTER_GAIN = 16  # RFC 3550 A.8: J += (|D| - J) / 16
TIMESTAMP_HALF = TS_MOD // 2  # RFC 3550 A.8: a transit difference past this is a wrap
DLSR_UNITS = 65536  # RFC 3550 §6.4.1: DLSR counts 1/65536 s
VIDEO_CLOCK_RATE = 90_000  # RFC 2435 §3 / RFC 3551: JPEG's RTP clock
DUPLICATE_WINDOW = 1024  # sequence numbers remembered to tell duplicates from late packets
RATE_WINDOW = 2.0  # seconds over which the live fps and bit rate are measured


@dataclass(frozen=True)
class ReceptionStats:
    """A snapshot of what has been received so far; all counts are cumulative."""

    packets_expected: int = 0
    packets_received: int = 0
    packets_lost: int = 0  # expected - received; RFC 3550 lets duplicates make it negative
    loss_percent: float = 0.0  # cumulative, 0..100
    fraction_lost: float = 0.0  # since the previous report block, 0..1
    duplicates: int = 0
    reordered: int = 0
    extended_highest_seq: int = 0
    jitter_ms: float | None = 0.0  # None: the media clock is unknown, so jitter is not measured
    bytes_received: int = 0  # RTP payload octets
    frames_complete: int = 0
    frames_incomplete: int = 0
    fps: float = 0.0  # over the last couple of seconds
    bitrate_kbps: float = 0.0  # over the last couple of seconds
    average_fps: float = 0.0  # over the whole session
    average_bitrate_kbps: float = 0.0
    elapsed: float = 0.0  # seconds from the first packet to the last
    dropped: dict[str, int] = field(default_factory=dict)  # packets refused, by reason
    frames_not_read: int = 0  # dropped, oldest first, from the queue of a caller reading slowly

    def to_dict(self) -> dict:
        """Plain values for JSON."""
        return asdict(self)


class StatsAccumulator:
    """RFC 3550 A.1 sequence bookkeeping, A.3 loss, A.8 jitter, plus frame and rate figures.

    ``probation`` is A.1's MIN_SEQUENTIAL: how many in-order packets a new source needs
    before it counts. A client whose source was announced in SETUP can trust it at once (0).
    ``clock_rate`` None: the timestamps' clock is unknown and jitter is not measured.
    """

    def __init__(self, clock_rate: int | None = VIDEO_CLOCK_RATE, probation: int = 0) -> None:
        self.clock_rate = clock_rate
        self._min_sequential = probation
        self._probation = probation
        self._started = False
        self.base_seq = 0
        self.max_seq = 0
        self.cycles = 0  # count of wraps, already shifted: a multiple of 2^16
        self.bad_seq = SEQ_MOD + 1  # A.1: "so seq == bad_seq is false"
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0
        self.duplicates = 0
        self.reordered = 0
        self._transit: float | None = None
        self.jitter = 0.0  # in RTP timestamp units, as A.8 keeps it
        self.bytes_received = 0
        self.frames_complete = 0
        self.frames_incomplete = 0
        self._first_arrival: float | None = None
        self._last_arrival: float | None = None
        self._first_frame: float | None = None
        self._last_frame: float | None = None
        # extended sequence numbers seen lately, by slot: a duplicate finds itself in its slot
        self._recent: list[int] = [-1] * DUPLICATE_WINDOW
        # (time, bytes, frames) per complete frame: the live rates' window; bytes of
        # packets since the last frame wait in _unframed_bytes (cheap per packet)
        self._window: deque[tuple[float, int, int]] = deque()
        self._unframed_bytes = 0
        self._last_sr: int = 0  # middle 32 bits of the last SR's NTP time
        self._last_sr_arrival: float | None = None

    # --- packets -------------------------------------------------------------

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0
        self._recent = [-1] * DUPLICATE_WINDOW

    def _remember(self, extended: int) -> bool:
        """Note an extended sequence number; True if it was seen recently (a duplicate)."""
        slot = extended % DUPLICATE_WINDOW
        if self._recent[slot] == extended:
            return True
        self._recent[slot] = extended
        return False

    def _update_seq(self, seq: int) -> bool:
        """RFC 3550 A.1 update_seq: False when the packet is not (yet) valid."""
        if not self._started:
            # A.1 init_source: a new source starts on probation, one step before ``seq``.
            self._started = True
            self._probation = self._min_sequential
            if self._probation == 0:
                self._init_seq(seq)
                return True
            self._init_seq(seq)
            self.max_seq = (seq - 1) % SEQ_MOD
        udelta = (seq - self.max_seq) % SEQ_MOD
        if self._probation:
            # A.1: a source is valid once MIN_SEQUENTIAL packets came in order.
            if seq == (self.max_seq + 1) % SEQ_MOD:
                self._probation -= 1
                self.max_seq = seq
                if self._probation == 0:
                    self._init_seq(seq)
                    return True
            else:
                self._probation = self._min_sequential - 1
                self.max_seq = seq
            return False
        if udelta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += SEQ_MOD  # sequence number wrapped
            self.max_seq = seq
        elif udelta <= SEQ_MOD - MAX_MISORDER:
            # A very large jump: a restarted sender, unless it happens twice in a row.
            if seq == self.bad_seq:
                logger.info("RTP sequence restarted at %d", seq)
                self._init_seq(seq)
            else:
                self.bad_seq = (seq + 1) % SEQ_MOD
                return False
        # else: a duplicate or a late packet, still counted as received (A.1)
        return True

    def _extend(self, seq: int) -> int:
        """Extended sequence number of ``seq`` relative to the highest one seen."""
        highest = self.cycles + self.max_seq
        delta = (seq - self.max_seq + SEQ_MOD // 2) % SEQ_MOD - SEQ_MOD // 2
        return highest + delta

    def next_in_order(self) -> int | None:
        """The sequence number that would be A.1's usual case (the next after the highest
        of a valid source), or None while the source is new or on probation."""
        if not self._started or self._probation:
            return None
        return (self.max_seq + 1) % SEQ_MOD

    def packet(self, seq: int, timestamp: int, arrival: float, size: int) -> bool:
        """Account one RTP packet; ``arrival`` in seconds, ``size`` payload octets.

        Returns False when A.1 does not count it (source on probation, or a jump that
        looks like a restart and has not been confirmed).
        """
        if seq == self.next_in_order():
            self.in_order_run([timestamp], [arrival], [size])
            return True
        if self._first_arrival is None:
            self._first_arrival = arrival
        self._last_arrival = arrival
        return self._account(seq, timestamp, arrival, size)

    def in_order_run(
        self,
        timestamps: list[int],
        arrivals: list[float],
        sizes: list[int],
        frames: Sequence[tuple[int, float]] = (),
    ) -> None:
        """Account packets that followed one another from ``next_in_order()`` on (A.1's
        usual case, so none is a duplicate or reordered): their RTP timestamps, arrival
        times and payload octets, in order. ``frames``: each frame the run completed, as
        (how many of the run's packets came up to and with its last, its arrival time).

        The receive path's per-packet work is gathering these; the bookkeeping is done
        here once per run, which may span many frames.
        """
        count = len(timestamps)
        if not count:
            return
        if self._first_arrival is None:
            self._first_arrival = arrivals[0]
        self._last_arrival = arrivals[-1]
        first = self.cycles + self.max_seq + 1  # extended sequence numbers of the run
        last = first + count - 1
        self.cycles = last - last % SEQ_MOD
        self.max_seq = last % SEQ_MOD
        self._remember_run(max(first, last - DUPLICATE_WINDOW + 1), last)
        self.received += count
        self.bytes_received += sum(sizes)
        taken = 0  # packets whose octets are in _unframed_bytes
        for position, arrival in frames:
            self._unframed_bytes += sum(sizes[taken:position])
            taken = position
            self.frame_complete(arrival)
        self._unframed_bytes += sum(sizes[taken:])
        self._jitter(timestamps, arrivals)

    def _remember_run(self, low: int, high: int) -> None:
        """Note extended numbers ``low``..``high`` (at most the window) as received: two
        slice assignments rather than one store per packet."""
        start = low % DUPLICATE_WINDOW
        head = min(high + 1 - low, DUPLICATE_WINDOW - start)
        recent = self._recent
        recent[start : start + head] = range(low, low + head)
        if low + head <= high:  # the run wrapped round the window
            recent[: high + 1 - low - head] = range(low + head, high + 1)

    def _account(self, seq: int, timestamp: int, arrival: float, size: int) -> bool:
        """The general A.1 path of ``packet`` (arrival times already noted)."""
        previous_highest = self.cycles + self.max_seq
        if not self._update_seq(seq):
            return False
        extended = self._extend(seq)
        if self._remember(extended):
            self.duplicates += 1
        elif extended < previous_highest and self.received:
            self.reordered += 1
        self.received += 1
        self.bytes_received += size
        self._unframed_bytes += size
        self._jitter((timestamp,), (arrival,))
        return True

    def _jitter(self, timestamps: Sequence[int], arrivals: Sequence[float]) -> None:
        # RFC 3550 A.8: transit = arrival (in RTP units) - timestamp; J += (|D| - J)/16.
        clock_rate = self.clock_rate
        if clock_rate is None:
            return
        previous, jitter = self._transit, self.jitter
        for timestamp, arrival in zip(timestamps, arrivals):
            transit = arrival * clock_rate - timestamp
            if previous is not None:
                d = abs(transit - previous)
                # A timestamp wrap makes one huge difference; fold it back.
                if d > TIMESTAMP_HALF:
                    d = abs(d - TS_MOD)
                jitter += (d - jitter) / JITTER_GAIN
            previous = transit
        self._transit, self.jitter = previous, jitter

    # --- frames --------------------------------------------------------------

    def frame_complete(self, arrival: float) -> None:
        """Account one frame delivered whole."""
        self.frames_complete += 1
        if self._first_frame is None:
            self._first_frame = arrival
        self._last_frame = arrival
        self._window.append((arrival, self._unframed_bytes, 1))
        self._unframed_bytes = 0
        self._trim(arrival)

    def frames_dropped(self, count: int = 1) -> None:
        """Account frames dropped as incomplete (lost or bad fragments, over the size cap)."""
        self.frames_incomplete += count

    def _trim(self, now: float) -> None:
        while self._window and self._window[0][0] < now - RATE_WINDOW:
            self._window.popleft()

    # --- derived figures -----------------------------------------------------

    @property
    def extended_max(self) -> int:
        """Extended highest sequence number received (A.3)."""
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        """Packets expected: extended highest - base + 1 (A.3)."""
        if not self.received:
            return 0
        return self.extended_max - self.base_seq + 1

    @property
    def lost(self) -> int:
        """Cumulative packets lost; negative when duplicates outnumber losses (A.3)."""
        return self.expected - self.received

    @property
    def jitter_ms(self) -> float | None:
        """Interarrival jitter in milliseconds; None when the media clock is unknown."""
        if self.clock_rate is None:
            return None
        return self.jitter * 1000.0 / self.clock_rate

    def sender_report(self, ntp_timestamp: int, arrival: float) -> None:
        """Remember an SR's time so the next report block carries LSR and DLSR."""
        self._last_sr = (ntp_timestamp >> 16) & 0xFFFFFFFF
        self._last_sr_arrival = arrival

    def report_block(self, ssrc: int, now: float) -> ReportBlock:
        """The RR report block for ``ssrc`` (A.3), advancing the interval for fraction lost."""
        expected = self.expected
        expected_interval = expected - self.expected_prior
        received_interval = self.received - self.received_prior
        self.expected_prior = expected
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            fraction = 0
        else:
            fraction = min((lost_interval * FRACTION_SCALE) // expected_interval, 0xFF)
        cumulative = max(CUMULATIVE_LOST_MIN, min(CUMULATIVE_LOST_MAX, self.lost))
        if self._last_sr_arrival is None:
            lsr = dlsr = 0
        else:
            lsr = self._last_sr
            dlsr = max(0, int((now - self._last_sr_arrival) * DLSR_UNITS)) & 0xFFFFFFFF
        return ReportBlock(
            ssrc=ssrc,
            fraction_lost=fraction,
            cumulative_lost=cumulative,
            highest_seq=self.extended_max & 0xFFFFFFFF,
            jitter=int(self.jitter) & 0xFFFFFFFF,
            lsr=lsr,
            dlsr=dlsr,
        )

    def snapshot(
        self, now: float | None = None, dropped: dict[str, int] | None = None
    ) -> ReceptionStats:
        """Current figures; ``now`` ends the rate window (defaults to the last arrival)."""
        if now is None:
            now = self._last_arrival or 0.0
        self._trim(now)
        span = RATE_WINDOW
        if self._window:
            span = max(min(RATE_WINDOW, now - self._window[0][0]), 1e-3)
        window_bytes = sum(b for _, b, _ in self._window) + self._unframed_bytes
        window_frames = sum(f for _, _, f in self._window)
        elapsed = 0.0
        if self._first_arrival is not None and self._last_arrival is not None:
            elapsed = self._last_arrival - self._first_arrival
        average_fps = 0.0
        if self._first_frame is not None and self._last_frame is not None:
            frame_span = self._last_frame - self._first_frame
            if frame_span > 0:
                average_fps = (self.frames_complete - 1) / frame_span
        expected = self.expected
        return ReceptionStats(
            packets_expected=expected,
            packets_received=self.received,
            packets_lost=self.lost,
            loss_percent=100.0 * max(self.lost, 0) / expected if expected else 0.0,
            fraction_lost=self._fraction_since_report(),
            duplicates=self.duplicates,
            reordered=self.reordered,
            extended_highest_seq=self.extended_max if self.received else 0,
            jitter_ms=self.jitter_ms,
            bytes_received=self.bytes_received,
            frames_complete=self.frames_complete,
            frames_incomplete=self.frames_incomplete,
            fps=window_frames / span if window_frames > 1 else 0.0,
            bitrate_kbps=window_bytes * 8 / span / 1000.0 if window_bytes else 0.0,
            average_fps=average_fps,
            average_bitrate_kbps=self.bytes_received * 8 / elapsed / 1000.0 if elapsed else 0.0,
            elapsed=elapsed,
            dropped=dict(dropped or {}),
        )

    def _fraction_since_report(self) -> float:
        expected_interval = self.expected - self.expected_prior
        lost_interval = expected_interval - (self.received - self.received_prior)
        if expected_interval <= 0 or lost_interval <= 0:
            return 0.0
        return lost_interval / expected_interval
