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
VIDEO_CLOCK_RATE = 90000  # RFC 3551 §5: JPEG and most video payload types
JITTER_GAIN = 16  # RFC 3550 A.8: J += (|D| - J) / 16

# One packet in arrival order: pktno, time, seq, timestamp, second header byte, size, payload.
RtpPacket = tuple[int, float, int, int, int, int, bytes]
_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass
class StreamStats:
    """Receiver statistics of one stream (RFC 3550 A.3 and A.8), in plain numbers."""

    packets: int = 0  # received, duplicates included (A.3's "received")
    expected: int = 0  # highest extended sequence - first + 1
    lost: int = 0  # expected - received, as A.3 computes it (negative with duplicates)
    missing: int = 0  # sequence numbers never seen
    duplicates: int = 0
    reorders: int = 0  # packets arriving after a higher sequence number
    frames: int = 0
    complete_frames: int = 0
    jitter_ms: float = 0.0  # A.8 estimate after the last packet
    max_jitter_ms: float = 0.0
    duration_s: float = 0.0  # first to last arrival
    fps: float = 0.0  # frames per second of arrival time
    media_fps: float = 0.0  # frames per second of RTP timestamp
    bitrate_bps: float = 0.0  # RTP payload bits per second of arrival time
    drift_ppm: float | None = None  # media clock vs arrival clock; None when too short
    first_seq: int = 0
    first_timestamp: int = 0
    gso_datagrams: int = 0  # captured UDP GSO super-datagrams split into their packets


@dataclass(eq=False)  # identity: columns are arrays, and two streams are never "equal"
class RtpStream:
    """Every packet of one SSRC on one flow (UDP ports, or an interleaved channel).

    Per-packet fields are columns (numpy arrays, arrival order): ``pktno``, ``time``,
    ``seq``, ``ts``, ``b1`` (marker and payload type byte), ``size`` (whole RTP packet),
    and the payload's ``pstart``/``pend`` in ``buffer``.
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
    bad_version: list[int] = field(default_factory=list)
    length_problems: list[tuple[int, str]] = field(default_factory=list)
    clock_rate: int = VIDEO_CLOCK_RATE
    format: PayloadFormat = PayloadFormat.OTHER
    frames: list[Frame] = field(default_factory=list)
    stats: StreamStats = field(default_factory=StreamStats)
    duplicate_pktnos: list[int] = field(default_factory=list)
    reorder_pktnos: list[int] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (pktno after gap, seqs missing)
    session_id: str | None = None  # the RTSP session this stream belongs to, when known
    _packets: list[RtpPacket] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.pktno)

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
    """Read the RTP fixed header of every datagram (all at once) and group them by SSRC."""
    flow = datagrams if isinstance(datagrams, UdpFlow) else UdpFlow.from_datagrams(datagrams)
    flow, super_datagrams = split_gso(flow)
    buf = np.frombuffer(flow.buffer, dtype=np.uint8)
    starts, ends = flow.starts, flow.ends
    sizes = ends - starts
    long_enough = sizes >= RTP_HEADER_LEN
    short = flow.pktnos[~long_enough].tolist()
    keep = np.nonzero(long_enough)[0]
    s = starts[keep]
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
    problem_ssrc: list[int] = []
    for i in np.nonzero(b0 != RTP_PLAIN_FIRST_BYTE)[0].tolist():
        first = int(b0[i])
        pktno = int(flow.pktnos[keep[i]])
        if first >> RTP_VERSION_SHIFT != RTP_VERSION:
            bad_version.append(pktno)
        a, b, problem = _payload_span(flow.buffer, int(s[i]), int(pend[i]), first)
        pstart[i], pend[i] = a, b
        if problem:
            problems.append((pktno, problem))
            problem_ssrc.append(int(ssrc[i]))
    streams: list[RtpStream] = []
    if len(keep):
        uniq, first_index, inverse = np.unique(ssrc, return_index=True, return_inverse=True)
        for u in np.argsort(first_index, kind="stable").tolist():
            rows = np.nonzero(inverse.ravel() == u)[0] if len(uniq) > 1 else np.arange(len(keep))
            value = int(uniq[u])
            stream = RtpStream(
                src, dst, value, buffer=flow.buffer, pktno=flow.pktnos[keep[rows]],
                time=flow.times[keep[rows]], seq=seq[rows], ts=ts[rows], b1=b1[rows],
                size=sizes[keep[rows]], pstart=pstart[rows], pend=pend[rows], **where,
            )  # fmt: skip
            pks = set(stream.pktno.tolist()) if (bad_version or problems) else set()
            stream.bad_version = [p for p in bad_version if p in pks]
            stream.length_problems = [pr for pr in problems if pr[0] in pks]
            streams.append(stream)
    if short and streams:
        streams[0].length_problems.extend(
            (pk, "shorter than the 12-byte RTP header") for pk in short
        )
    if super_datagrams and streams:
        streams[0].stats.gso_datagrams = super_datagrams
    return streams


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
    pktnos, times, starts, ends = [], [], [], []
    for i, (pk, t, a, b) in enumerate(
        zip(flow.pktnos.tolist(), flow.times.tolist(), flow.starts.tolist(), flow.ends.tolist())
    ):
        for start, end in cuts.get(i, ((a, b),)):
            pktnos.append(pk)
            times.append(t)
            starts.append(start)
            ends.append(end)
    return UdpFlow(flow.buffer, pktnos, times, starts, ends), len(cuts)


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


def _payload_span(buffer: bytes, start: int, end: int, b0: int) -> tuple[int, int, str]:
    """Where the payload lies after CSRCs and extension and before padding, and any
    length problem (RFC 3550 §5.1, §5.3.1)."""
    n = end - start
    hdr = RTP_HEADER_LEN + (b0 & RTP_CSRC_COUNT_MASK) * RTP_CSRC_LEN
    if hdr > n:
        return end, end, f"CSRC count {b0 & RTP_CSRC_COUNT_MASK} needs {hdr} bytes, packet has {n}"
    if b0 & RTP_EXTENSION_BIT:
        if hdr + RTP_EXTENSION_HEADER_LEN > n:
            return end, end, "extension bit set but no room for the extension header"
        words = (buffer[start + hdr + 2] << 8) | buffer[start + hdr + 3]
        hdr += RTP_EXTENSION_HEADER_LEN + words * RTP_WORD
        if hdr > n:
            return end, end, f"extension of {words} words runs past the end ({hdr} > {n} bytes)"
    if b0 & RTP_PADDING_BIT:
        pad = buffer[end - 1]
        if pad == 0 or hdr + pad > n:
            return start + hdr, end, f"padding count {pad} does not fit the {n - hdr}-byte payload"
        return start + hdr, end - pad, ""
    return start + hdr, end, ""


JITTER_CHUNK = 2048  # (16/15)**2048 stays far inside float range


def jitter_series(
    arrival: np.ndarray, ts: np.ndarray, rate: int, resync: np.ndarray | None = None
) -> np.ndarray:
    """RFC 3550 A.8 jitter after each packet, in timestamp units (J += (|D| - J) / 16).

    The recurrence is a first-order filter: computed in chunks with a scaled cumulative sum.
    ``resync`` marks packets that follow a new PLAY (RFC 2326 §12.33: RTP-Info restates
    the timestamp mapping): the transit difference across a pause is not jitter.
    """
    n = len(arrival)
    out = np.zeros(n)
    if n < 2:
        return out
    transit = arrival * rate - ts
    d = np.diff(transit)
    d = np.abs((d + TS_HALF) % TS_MODULUS - TS_HALF)
    if resync is not None:
        d[resync[1:]] = 0.0
    keep = 1.0 - 1.0 / JITTER_GAIN
    j = 0.0
    for a in range(0, len(d), JITTER_CHUNK):
        chunk = d[a : a + JITTER_CHUNK] / JITTER_GAIN
        k = np.arange(1, len(chunk) + 1)
        scale = keep ** -k.astype(float)
        series = keep**k * (j + np.cumsum(chunk * scale))
        out[a + 1 : a + 1 + len(chunk)] = series
        j = float(series[-1])
    return out


def analyse(stream: RtpStream, jpeg_from_sdp: bool = False, play_starts: list[float] = ()) -> None:
    """Fill in statistics and frames of a stream whose packets are loaded.

    ``play_starts`` are the times of the session's PLAY requests: jitter and drift are
    measured within play periods, not across pauses."""
    n = len(stream.pktno)
    stats = stream.stats
    if not n:
        return
    rate = stream.clock_rate
    seq = stream.seq
    stats.first_seq, stats.first_timestamp = int(seq[0]), int(stream.ts[0])
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
    stream.gaps = list(
        zip(pktno[order[gap_at + 1]].tolist(), (jumps[gap_at] - 1).tolist(), strict=True)
    )
    stats.packets = n
    stats.expected = int(uniq[-1] - uniq[0] + 1)
    stats.lost = stats.expected - n
    stats.missing = stats.expected - len(uniq)
    stats.duplicates = len(stream.duplicate_pktnos)
    stats.reorders = len(stream.reorder_pktnos)
    resync = None
    period = np.zeros(n, dtype=np.int64)
    if len(play_starts) > 1:
        period = np.searchsorted(np.asarray(sorted(play_starts)), stream.time, side="right")
        resync = np.concatenate(([False], period[1:] != period[:-1]))
    jitter = jitter_series(stream.time, stream.ts.astype(np.float64), rate, resync)
    stats.jitter_ms = float(jitter[-1]) * 1000.0 / rate
    stats.max_jitter_ms = float(jitter.max()) * 1000.0 / rate
    stats.duration_s = float(stream.time[-1] - stream.time[0])
    if stats.duration_s > 0:
        stats.bitrate_bps = float((stream.pend - stream.pstart).sum()) * 8 / stats.duration_s
    sample = [stream.payload(i) for i in order[:FORMAT_SAMPLE].tolist()]
    stream.format = detect_format(stream.payload_type, sample, jpeg_from_sdp)
    stream.frames = assemble_stream(stream, order, uniq)
    frames = stream.frames
    stats.frames = len(frames)
    stats.complete_frames = sum(1 for f in frames if f.complete)
    if len(frames) > 1:
        span_t = frames[-1].time - frames[0].time
        if span_t > 0:
            stats.fps = (len(frames) - 1) / span_t
        ext_ts = extended_timestamps([f.timestamp for f in frames])
        span_ts = ext_ts[-1] - ext_ts[0]
        if span_ts > 0:
            stats.media_fps = (len(frames) - 1) * rate / span_ts
        if len(play_starts) > 1:
            # Drift within the longest play period: a pause stops the media clock only.
            starts = np.asarray(sorted(play_starts))
            frame_period = np.searchsorted(starts, [f.time for f in frames], side="right")
            longest = int(np.bincount(frame_period).argmax())
            keep = np.nonzero(frame_period == longest)[0].tolist()
            stats.drift_ppm = drift_ppm(
                [frames[i].time for i in keep], [ext_ts[i] for i in keep], rate
            )
        else:
            stats.drift_ppm = drift_ppm([f.time for f in frames], ext_ts, rate)


def assemble_stream(stream: RtpStream, order: np.ndarray, ext: np.ndarray) -> list[Frame]:
    """Frames of a stream: the vectorized path for regular RFC 2435 streams, else the
    packet-by-packet reader (which names every problem)."""
    if stream.format is PayloadFormat.RFC2435:
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
    return assemble(packets, stream.format)


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
