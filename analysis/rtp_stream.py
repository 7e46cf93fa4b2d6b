"""RTP streams (RFC 3550): fixed headers read in bulk, packets grouped by SSRC, and the
receiver statistics of Appendix A (A.1 extended sequence, A.3 loss, A.8 jitter).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from analysis.frames import (
    FORMAT_SAMPLE,
    RTP_MARKER_SHIFT,
    Frame,
    PayloadFormat,
    SeqPacket,
    assemble,
    detect_format,
    fast_rfc2435,
)
from analysis.jitter import jitter_figures
from analysis.media_format import MediaFormat, media_format
from analysis.netdecode import Endpoint, UdpFlow, flow_label

log = logging.getLogger(__name__)

RTP_VERSION = 2  # RFC 3550 §5.1
RTP_HEADER_LEN = 12
RTP_CSRC_LEN = 4
RTP_WORD = 4  # §5.3.1: the extension length counts 32-bit words
RTP_EXTENSION_HEADER_LEN = 4  # §5.3.1: profile-defined 16 bits + length in 32-bit words
RTP_PLAIN_FIRST_BYTE = 0x80  # version 2, no padding, no extension, no CSRC
# §5.1 first octet: V (2 bits), P, X, CC (4 bits); second octet: M (RTP_MARKER_SHIFT), PT.
RTP_VERSION_SHIFT = 6
RTP_PADDING_BIT = 0x20
RTP_EXTENSION_BIT = 0x10
RTP_CSRC_COUNT_MASK = 0x0F
RTP_PT_MASK = 0x7F
SEQ_MODULUS = 1 << 16
SEQ_HALF = 1 << 15
TS_MODULUS = 1 << 32
TS_HALF = 1 << 31

# One packet in arrival order: pktno, time, seq, timestamp, second header byte, size, payload.
RtpPacket = tuple[int, float, int, int, int, int, bytes]
_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass
class StreamStats:
    """Receiver statistics of one stream (RFC 3550 A.3 and A.8), in plain numbers.

    Figures that need the media clock (jitter, drift, media fps) are None when the clock
    rate is unknown; frame figures are None for formats without frames (audio, unknown)."""

    packets: int = 0  # received, duplicates included (A.3's "received")
    expected: int = 0  # highest extended sequence - first + 1
    lost: int = 0  # sequence numbers never seen: never negative
    a3_lost: int = 0  # expected - received, as A.3 computes it (negative with duplicates)
    duplicates: int = 0
    reorders: int = 0  # packets arriving after a higher sequence number
    frames: int | None = None
    complete_frames: int | None = None
    jitter_ms: float | None = None  # A.8 estimate after the last packet
    max_jitter_ms: float | None = None  # maximum and mean as Wireshark reports them
    mean_jitter_ms: float | None = None  # (analysis.jitter)
    duration_s: float = 0.0  # first to last arrival
    fps: float | None = None  # frames per second of arrival time
    media_fps: float | None = None  # frames per second of RTP timestamp
    bitrate_bps: float = 0.0  # RTP payload bits per second of arrival time (wire sizes)
    drift_ppm: float | None = None  # media clock vs arrival clock; None when too short
    first_seq: int = 0
    first_timestamp: int = 0
    gso_datagrams: int = 0  # captured UDP GSO super-datagrams split into their packets
    cut_packets: int = 0  # packets the capture's snap length cut short

    @property
    def missing(self) -> int:
        """Sequence numbers never seen (the same as ``lost``)."""
        return self.lost


@dataclass(eq=False)  # identity: columns are arrays, and two streams are never "equal"
class RtpStream:
    """Every packet of one SSRC on one flow (UDP ports, or an interleaved channel).

    Per-packet fields are columns (numpy arrays, arrival order): ``pktno``, ``time``,
    ``seq``, ``ts``, ``b1`` (marker and payload type byte), ``size`` (whole RTP packet on
    the wire), ``cut`` (the snap length cut it), and the payload's ``pstart``/``pend`` in
    ``buffer``. ``media_format`` says what it carries and on which clock;
    ``segment_starts`` are the times of the PLAY requests that each begin a segment
    (RFC 2326 §12.33: RTP-Info restates the timestamp mapping), within which continuity is
    judged.
    """

    src: Endpoint
    dst: Endpoint
    ssrc: int
    transport: str = "udp"  # "udp" or "tcp" (interleaved)
    channel: int | None = None
    buffer: bytes = b""
    pktno: np.ndarray = field(default_factory=lambda: _EMPTY)
    time: np.ndarray = field(default_factory=lambda: np.zeros(0))
    seq: np.ndarray = field(default_factory=lambda: _EMPTY)
    ts: np.ndarray = field(default_factory=lambda: _EMPTY)
    b1: np.ndarray = field(default_factory=lambda: _EMPTY)
    size: np.ndarray = field(default_factory=lambda: _EMPTY)
    pstart: np.ndarray = field(default_factory=lambda: _EMPTY)
    pend: np.ndarray = field(default_factory=lambda: _EMPTY)
    uncaptured: np.ndarray = field(default_factory=lambda: _EMPTY)  # bytes the snap length cut
    bad_version: list[int] = field(default_factory=list)
    length_problems: list[tuple[int, str]] = field(default_factory=list)
    media_format: MediaFormat | None = None
    segment_starts: list[float] = field(default_factory=list)
    format: PayloadFormat = PayloadFormat.OTHER
    frames: list[Frame] = field(default_factory=list)
    stats: StreamStats = field(default_factory=StreamStats)
    duplicate_pktnos: list[int] = field(default_factory=list)
    reorder_pktnos: list[int] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (pktno after gap, seqs missing)
    session_id: str | None = None  # the RTSP session this stream belongs to, when known
    control: str | None = None  # the URI of the SETUP that negotiated it
    capture_holes: int = 0  # byte ranges of its TCP connection the capture lacks
    jitter: np.ndarray | None = None  # A.8 estimate after each packet, in timestamp units
    _packets: list[RtpPacket] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.pktno)

    @property
    def fmt(self) -> MediaFormat:
        """The media format (from the payload type alone until a session says more)."""
        if self.media_format is None:
            self.media_format = media_format(self.payload_type)
        return self.media_format

    @property
    def clock_rate(self) -> int | None:
        """The media clock in Hz, or None when unknown."""
        return self.fmt.clock_rate

    @property
    def has_frames(self) -> bool:
        """True when the payload format defines frames: video (the marker bit ends each,
        RFC 3551 §5), or JPEG payloads recognised by their bytes."""
        return self.fmt.is_video or self.format is not PayloadFormat.OTHER

    @property
    def cut(self) -> np.ndarray:
        """Which packets the capture's snap length cut short."""
        return self.uncaptured > 0 if len(self.uncaptured) else np.zeros(len(self), dtype=bool)

    def payload_sizes(self) -> np.ndarray:
        """Payload bytes of each packet as sent (the bytes a cut packet lost included)."""
        sizes = self.pend - self.pstart
        return sizes + self.uncaptured if len(self.uncaptured) else sizes

    @property
    def payload_cut(self) -> bool:
        """True when the snap length cut any payload: payload rules cannot judge it."""
        return bool(self.stats.cut_packets)

    def segments(self, times: np.ndarray) -> np.ndarray:
        """The segment (0 before the first PLAY of several) of each time in ``times``."""
        if len(self.segment_starts) < 2:
            return np.zeros(len(times), dtype=np.int64)
        return np.searchsorted(np.asarray(self.segment_starts), times, side="right")

    def jitter_ms_series(self) -> list[float] | None:
        """The A.8 jitter after each packet in milliseconds, or None when the clock is unknown."""
        if self.jitter is None or not self.clock_rate:
            return None
        return (self.jitter * 1000.0 / self.clock_rate).tolist()

    @property
    def label(self) -> str:
        """SSRC and where the stream runs, for evidence texts."""
        return f"SSRC {self.ssrc:#010x} {flow_label(self.src, self.dst, self.channel)}"

    @property
    def payload_type(self) -> int:
        """The payload type of the first packet."""
        return int(self.b1[0]) & RTP_PT_MASK if len(self.b1) else -1

    @property
    def first_pktno(self) -> int:
        """Packet number of the stream's first packet (0 when empty)."""
        return int(self.pktno[0]) if len(self.pktno) else 0

    def payload(self, i: int) -> bytes:
        """The payload of packet ``i`` (arrival order)."""
        return self.buffer[int(self.pstart[i]) : int(self.pend[i])]

    @property
    def packets(self) -> list[RtpPacket]:
        """Per-packet tuples ``(pktno, time, seq, timestamp, b1, size, payload)``."""
        if self._packets is None:
            buf = self.buffer
            self._packets = [
                (pk, t, sq, ts, b1, size, buf[a:b])
                for pk, t, sq, ts, b1, size, a, b in zip(
                    self.pktno.tolist(), self.time.tolist(), self.seq.tolist(),
                    self.ts.tolist(), self.b1.tolist(), self.size.tolist(),
                    self.pstart.tolist(), self.pend.tolist(),
                )
            ]  # fmt: skip
        return self._packets

    def series(self) -> dict[str, list]:
        """Per-packet series in arrival order, for plots: time, seq, timestamp, marker, size."""
        return {
            "pktno": self.pktno.tolist(),
            "time": self.time.tolist(),
            "seq": self.seq.tolist(),
            "timestamp": self.ts.tolist(),
            "marker": (self.b1 >> RTP_MARKER_SHIFT).tolist(),
            "size": self.size.tolist(),
        }


def split_by_ssrc(
    src: Endpoint, dst: Endpoint, datagrams: UdpFlow | list[tuple[int, float, bytes]], **where
) -> list[RtpStream]:
    """Read the RTP fixed header of every datagram (all at once) and group them by SSRC.

    Datagrams shorter than an RTP header belong to no stream (``short_datagrams`` lists
    them); a datagram the snap length cut is read as far as it goes (``RtpStream.cut``)."""
    flow = datagrams if isinstance(datagrams, UdpFlow) else UdpFlow.from_datagrams(datagrams)
    flow, super_datagrams = split_gso(flow)
    buf = np.frombuffer(flow.buffer, dtype=np.uint8)
    starts, ends = flow.starts, flow.ends
    sizes = ends - starts
    long_enough = sizes >= RTP_HEADER_LEN
    keep = np.nonzero(long_enough)[0]
    s = starts[keep]
    wire = flow.wire_lengths[keep]
    cut = wire > sizes[keep]
    u32 = np.uint32
    b0 = buf[s]
    b1 = buf[s + 1].astype(np.int64)
    seq = (buf[s + 2].astype(np.int64) << 8) | buf[s + 3]
    ts = (
        (buf[s + 4].astype(u32) << 24) | (buf[s + 5].astype(u32) << 16)
        | (buf[s + 6].astype(u32) << 8) | buf[s + 7].astype(u32)
    ).astype(np.int64)  # fmt: skip
    ssrc = (
        (buf[s + 8].astype(u32) << 24) | (buf[s + 9].astype(u32) << 16)
        | (buf[s + 10].astype(u32) << 8) | buf[s + 11].astype(u32)
    ).astype(np.int64)  # fmt: skip
    pstart = s + RTP_HEADER_LEN
    pend = ends[keep].copy()
    bad_version: list[int] = []
    problems: list[tuple[int, str]] = []
    for i in np.nonzero((b0 != RTP_PLAIN_FIRST_BYTE) | cut)[0].tolist():
        first = int(b0[i])
        pktno = int(flow.pktnos[keep[i]])
        if first >> RTP_VERSION_SHIFT != RTP_VERSION:
            bad_version.append(pktno)
        a, b, problem = _payload_span(
            flow.buffer, int(s[i]), int(pend[i]), first, int(s[i]) + int(wire[i])
        )
        pstart[i], pend[i] = a, b
        if problem:
            problems.append((pktno, problem))
    streams: list[RtpStream] = []
    if len(keep):
        uniq, first_index, inverse = np.unique(ssrc, return_index=True, return_inverse=True)
        for u in np.argsort(first_index, kind="stable").tolist():
            rows = np.nonzero(inverse.ravel() == u)[0] if len(uniq) > 1 else np.arange(len(keep))
            value = int(uniq[u])
            stream = RtpStream(
                src, dst, value, buffer=flow.buffer, pktno=flow.pktnos[keep[rows]],
                time=flow.times[keep[rows]], seq=seq[rows], ts=ts[rows], b1=b1[rows],
                size=wire[rows], pstart=pstart[rows], pend=pend[rows],
                uncaptured=(wire - sizes[keep])[rows], **where,
            )  # fmt: skip
            pks = set(stream.pktno.tolist()) if (bad_version or problems) else set()
            stream.bad_version = [p for p in bad_version if p in pks]
            stream.length_problems = [pr for pr in problems if pr[0] in pks]
            streams.append(stream)
    if super_datagrams and streams:
        streams[0].stats.gso_datagrams = super_datagrams
    return streams


def short_datagrams(flow: UdpFlow) -> list[tuple[int, bytes]]:
    """(packet number, payload) of each datagram too short for an RTP header."""
    short = np.nonzero((flow.ends - flow.starts) < RTP_HEADER_LEN)[0].tolist()
    return [
        (int(flow.pktnos[i]), flow.buffer[int(flow.starts[i]) : int(flow.ends[i])]) for i in short
    ]


GSO_CANDIDATE_MIN = 1500  # larger than any Ethernet-sized datagram: maybe a GSO one


def split_gso(flow: UdpFlow) -> tuple[UdpFlow, int]:
    """Cut UDP GSO super-datagrams (one send of many equal-sized segments, captured on the
    sending host before segmentation) into the RTP packets the receiver gets.

    A datagram is cut only when, at every multiple of one segment size, an RTP header with
    the same SSRC and timestamp and the next sequence number begins.
    """
    sizes = flow.ends - flow.starts
    big = np.nonzero(sizes > GSO_CANDIDATE_MIN)[0].tolist()
    cuts = {}
    for i in big:
        segments = _gso_segments(flow.buffer, int(flow.starts[i]), int(flow.ends[i]))
        if segments:
            cuts[i] = segments
    if not cuts:
        return flow, 0
    pktnos, times, starts, ends, wire = [], [], [], [], []
    for i, (pk, t, a, b, w) in enumerate(
        zip(
            flow.pktnos.tolist(), flow.times.tolist(), flow.starts.tolist(),
            flow.ends.tolist(), flow.wire_lengths.tolist(),
        )
    ):  # fmt: skip
        for start, end in cuts.get(i, ((a, b),)):
            pktnos.append(pk)
            times.append(t)
            starts.append(start)
            ends.append(end)
            wire.append(w if i not in cuts else end - start)
    return UdpFlow(flow.buffer, pktnos, times, starts, ends, wire), len(cuts)


def _gso_segments(buf, start: int, end: int) -> list[tuple[int, int]] | None:
    n = end - start
    if buf[start] >> RTP_VERSION_SHIFT != RTP_VERSION:
        return None
    seq = (buf[start + 2] << 8) | buf[start + 3]
    tail = buf[start + 4 : start + 12]  # timestamp and SSRC: equal in every segment
    found = buf.find(tail[4:], start + RTP_HEADER_LEN + 8, end)
    while found != -1:
        size = found - 8 - start
        count = -(-n // size)
        if (
            count > 1
            and n - (count - 1) * size >= RTP_HEADER_LEN
            and all(
                buf[start + k * size] == buf[start]
                and (buf[start + k * size + 2] << 8 | buf[start + k * size + 3])
                == (seq + k) % SEQ_MODULUS
                and buf[start + k * size + 4 : start + k * size + 12] == tail
                for k in range(1, count)
            )
        ):
            return [(start + k * size, min(start + (k + 1) * size, end)) for k in range(count)]
        found = buf.find(tail[4:], found + 1, end)
    return None


def _payload_span(
    buffer: bytes, start: int, end: int, b0: int, wire_end: int | None = None
) -> tuple[int, int, str]:
    """Where the payload lies after CSRCs and extension and before padding, and any
    length problem (RFC 3550 §5.1, §5.3.1). Lengths are judged against the packet on the
    wire (``wire_end``); a packet the snap length cut has no padding count to read."""
    wire_end = end if wire_end is None else wire_end
    n = wire_end - start
    hdr = RTP_HEADER_LEN + (b0 & RTP_CSRC_COUNT_MASK) * RTP_CSRC_LEN
    if hdr > n:
        return end, end, f"CSRC count {b0 & RTP_CSRC_COUNT_MASK} needs {hdr} bytes, packet has {n}"
    if b0 & RTP_EXTENSION_BIT:
        if start + hdr + RTP_EXTENSION_HEADER_LEN > end:
            if hdr + RTP_EXTENSION_HEADER_LEN > n:
                return end, end, "extension bit set but no room for the extension header"
            return end, end, ""  # cut before the extension header: nothing to judge
        words = (buffer[start + hdr + 2] << 8) | buffer[start + hdr + 3]
        hdr += RTP_EXTENSION_HEADER_LEN + words * RTP_WORD
        if hdr > n:
            return end, end, f"extension of {words} words runs past the end ({hdr} > {n} bytes)"
    if wire_end > end:
        return min(start + hdr, end), end, ""  # the padding count was cut off
    if b0 & RTP_PADDING_BIT:
        pad = buffer[end - 1]
        if pad == 0 or hdr + pad > n:
            return start + hdr, end, f"padding count {pad} does not fit the {n - hdr}-byte payload"
        return start + hdr, end - pad, ""
    return start + hdr, end, ""


def analyse(
    stream: RtpStream,
    fmt: MediaFormat | None = None,
    play_starts: list[float] = (),
    resumed_seqs: set[int] = frozenset(),
) -> None:
    """Fill in statistics and frames of a stream whose packets are loaded.

    ``fmt`` is the stream's media format when a session's SDP says it (else the payload
    type's); ``play_starts`` are the times of the session's PLAY requests: jitter and drift
    are measured within the segments they begin, not across pauses. A sequence gap whose
    next packet is one a PLAY reply's RTP-Info named (``resumed_seqs``) is a new segment's
    announced start, not a loss."""
    n = len(stream.pktno)
    stats = stream.stats
    if fmt is not None:
        stream.media_format = fmt
    fmt = stream.fmt
    stream.segment_starts = sorted(play_starts)
    if not n:
        return
    rate = fmt.clock_rate
    seq = stream.seq
    stats.first_seq, stats.first_timestamp = int(seq[0]), int(stream.ts[0])
    stats.cut_packets = int(np.count_nonzero(stream.cut))
    # A.1: extended sequence numbers; each step taken as the nearest signed 16-bit one.
    steps = (np.diff(seq) + SEQ_HALF) % SEQ_MODULUS - SEQ_HALF
    ext = np.concatenate(([0], np.cumsum(steps))) + int(seq[0])
    uniq, first = np.unique(ext, return_index=True)
    is_first = np.zeros(n, dtype=bool)
    is_first[first] = True
    before_max = np.concatenate(([ext[0]], np.maximum.accumulate(ext)[:-1]))
    reordered = is_first & (ext < before_max)
    pktno = stream.pktno
    stream.duplicate_pktnos = pktno[~is_first].tolist()
    stream.reorder_pktnos = pktno[reordered].tolist()
    order = first  # arrival indices of first copies, in sequence order
    jumps = np.diff(uniq)
    gap_at = np.nonzero(jumps > 1)[0]
    announced = set()
    if resumed_seqs and len(gap_at):
        after = seq[order[gap_at + 1]]
        announced = {int(k) for k, s in zip(gap_at.tolist(), after.tolist()) if s in resumed_seqs}
    stream.gaps = [
        (int(pktno[order[k + 1]]), int(jumps[k]) - 1) for k in gap_at.tolist() if k not in announced
    ]
    skipped = sum(int(jumps[k]) - 1 for k in announced)
    stats.packets = n
    stats.expected = int(uniq[-1] - uniq[0] + 1) - skipped
    stats.a3_lost = stats.expected - n
    stats.lost = stats.expected - len(uniq)
    stats.duplicates = len(stream.duplicate_pktnos)
    stats.reorders = len(stream.reorder_pktnos)
    period = stream.segments(stream.time)
    resync = np.concatenate(([False], period[1:] != period[:-1])) if len(play_starts) > 1 else None
    if rate:
        ts_steps = (np.diff(stream.ts) + TS_HALF) % TS_MODULUS - TS_HALF
        ext_ts = np.concatenate(([0], np.cumsum(ts_steps))) + int(stream.ts[0])
        figures = jitter_figures(
            stream.time, ext_ts, stream.b1, rate, resync, decoding_order=fmt.may_reorder
        )
        stream.jitter = figures.series
        stats.jitter_ms = figures.last_ms
        stats.max_jitter_ms = figures.max_ms
        stats.mean_jitter_ms = figures.mean_ms
    stats.duration_s = float(stream.time[-1] - stream.time[0])
    if stats.duration_s > 0:
        stats.bitrate_bps = float(stream.payload_sizes().sum()) * 8 / stats.duration_s
    sample = [stream.payload(i) for i in order[:FORMAT_SAMPLE].tolist()]
    stream.format = detect_format(stream.payload_type, sample, fmt.encoding == "JPEG")
    if stream.has_frames:
        _frame_figures(stream, order, uniq, rate)
    elif rate:
        # No frames (audio): the clock is measured on every packet.
        keep = _longest_segment(stream, stream.time[order])
        stats.drift_ppm = drift_ppm(
            stream.time[order][keep].tolist(),
            extended_timestamps(stream.ts[order][keep].tolist()),
            rate,
        )


def _longest_segment(stream: RtpStream, times: np.ndarray) -> np.ndarray:
    """Indices (into ``times``) of the longest play segment: a pause stops the media clock
    only, so drift is measured within one."""
    period = stream.segments(times)
    if not len(period):
        return np.zeros(0, dtype=np.int64)
    longest = int(np.bincount(period).argmax())
    return np.nonzero(period == longest)[0]


def _frame_figures(
    stream: RtpStream, order: np.ndarray, uniq: np.ndarray, rate: int | None
) -> None:
    """Frames and the figures drawn from them: fps, media fps, drift."""
    stats = stream.stats
    stream.frames = assemble_stream(stream, order, uniq)
    frames = stream.frames
    stats.frames = len(frames)
    stats.complete_frames = sum(1 for f in frames if f.complete)
    if len(frames) < 2:
        return
    span_t = frames[-1].time - frames[0].time
    if span_t > 0:
        stats.fps = (len(frames) - 1) / span_t
    if not rate:
        return
    frame_times = np.asarray([f.time for f in frames])
    keep = _longest_segment(stream, frame_times).tolist()
    kept_ts = extended_timestamps([frames[i].timestamp for i in keep])
    if len(kept_ts) > 1:
        span_ts = max(kept_ts) - min(kept_ts)
        if span_ts > 0:
            stats.media_fps = (len(kept_ts) - 1) * rate / span_ts
    stats.drift_ppm = drift_ppm([frames[i].time for i in keep], kept_ts, rate)


def assemble_stream(stream: RtpStream, order: np.ndarray, ext: np.ndarray) -> list[Frame]:
    """Frames of a stream: the vectorized path for regular RFC 2435 streams, else the
    packet-by-packet reader (which names every problem). Payloads the snap length cut
    are not read: frames are then told apart by timestamp and marker only."""
    fmt = stream.format
    if stream.payload_cut and fmt is PayloadFormat.RFC2435:
        fmt = PayloadFormat.OTHER
    if fmt is PayloadFormat.RFC2435:
        frames = fast_rfc2435(stream, order, ext)
        if frames is not None:
            return frames
    buf = stream.buffer
    packets: list[SeqPacket] = [
        (e, pk, t, ts, b1 >> RTP_MARKER_SHIFT == 1, buf[a:b])
        for e, pk, t, ts, b1, a, b in zip(
            ext.tolist(), stream.pktno[order].tolist(), stream.time[order].tolist(),
            stream.ts[order].tolist(), stream.b1[order].tolist(),
            stream.pstart[order].tolist(), stream.pend[order].tolist(),
        )
    ]  # fmt: skip
    frames = assemble(packets, fmt)
    if stream.payload_cut and fmt is PayloadFormat.WHOLE_JPEG:
        cut = set(stream.pktno[stream.cut].tolist())
        for frame in frames:
            if frame.first_pktno in cut:
                frame.whole = None  # part of the JPEG is missing from the capture
    return frames


def extended_timestamps(timestamps: list[int]) -> list[int]:
    """Timestamps unwrapped across 2^32 (each step taken as a signed 32-bit difference)."""
    if not timestamps:
        return []
    out = [timestamps[0]]
    prev = timestamps[0]
    acc = prev
    for ts in timestamps[1:]:
        acc += (ts - prev + TS_HALF) % TS_MODULUS - TS_HALF
        out.append(acc)
        prev = ts
    return out


MIN_DRIFT_SPAN_S = 1.0  # shorter spans say more about pacing jitter than about clocks


def drift_ppm(times: list[float], ext_ts: list[int], rate: int) -> float | None:
    """Media clock rate against arrival clock, in parts per million (least squares slope)."""
    n = len(times)
    if n < 3 or times[-1] - times[0] < MIN_DRIFT_SPAN_S:
        return None
    t0, m0 = times[0], ext_ts[0]
    xs = [t - t0 for t in times]
    ys = [(m - m0) / rate for m in ext_ts]
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return (sxy / sxx - 1.0) * 1e6
