"""RTP streams (RFC 3550): fixed headers read in bulk, packets grouped by SSRC, and the
receiver statistics of Appendix A (A.1 extended sequence, A.3 loss, A.8 jitter).
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field

from analysis.frames import Frame, PayloadFormat, SeqPacket, assemble, detect_format
from analysis.netdecode import Endpoint

log = logging.getLogger(__name__)

RTP_VERSION = 2  # RFC 3550 §5.1
RTP_HEADER_LEN = 12
RTP_CSRC_LEN = 4
RTP_EXTENSION_HEADER_LEN = 4  # §5.3.1: profile-defined 16 bits + length in 32-bit words
RTP_PLAIN_FIRST_BYTE = 0x80  # version 2, no padding, no extension, no CSRC
SEQ_MODULUS = 1 << 16
SEQ_HALF = 1 << 15
TS_MODULUS = 1 << 32
TS_HALF = 1 << 31
VIDEO_CLOCK_RATE = 90000  # RFC 3551 §5: JPEG and most video payload types
JITTER_GAIN = 16  # RFC 3550 A.8: J += (|D| - J) / 16

_FIXED = struct.Struct("!BBHII").unpack_from

# One packet in arrival order: pktno, time, seq, timestamp, second header byte, size, payload.
RtpPacket = tuple[int, float, int, int, int, int, bytes]


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


@dataclass
class RtpStream:
    """Every packet of one SSRC on one flow (UDP ports, or an interleaved channel)."""

    src: Endpoint
    dst: Endpoint
    ssrc: int
    transport: str = "udp"  # "udp" or "tcp" (interleaved)
    channel: int | None = None
    packets: list[RtpPacket] = field(default_factory=list)
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

    @property
    def label(self) -> str:
        where = f"{self.src} -> {self.dst}"
        if self.channel is not None:
            where += f" channel {self.channel}"
        return f"SSRC {self.ssrc:#010x} {where}"

    @property
    def payload_type(self) -> int:
        """The payload type of the first packet."""
        return self.packets[0][4] & 0x7F if self.packets else -1

    def series(self) -> dict[str, list]:
        """Per-packet series in arrival order, for plots: time, seq, timestamp, marker, size."""
        if not self.packets:
            return {k: [] for k in ("pktno", "time", "seq", "timestamp", "marker", "size")}
        pktnos, times, seqs, tss, b1s, sizes, _ = zip(*self.packets, strict=True)
        return {
            "pktno": list(pktnos),
            "time": list(times),
            "seq": list(seqs),
            "timestamp": list(tss),
            "marker": [b >> 7 for b in b1s],
            "size": list(sizes),
        }


def split_by_ssrc(
    src: Endpoint, dst: Endpoint, datagrams: list[tuple[int, float, bytes]], **where
) -> list[RtpStream]:
    """Read the RTP fixed header of every datagram and group them by SSRC."""
    streams: dict[int, RtpStream] = {}
    last_ssrc = None
    stream = None
    short: list[int] = []
    for pktno, t, p in datagrams:
        n = len(p)
        if n < RTP_HEADER_LEN:
            short.append(pktno)
            continue
        b0, b1, seq, ts, ssrc = _FIXED(p)
        if ssrc != last_ssrc:
            stream = streams.get(ssrc)
            if stream is None:
                stream = streams[ssrc] = RtpStream(src, dst, ssrc, **where)
            last_ssrc = ssrc
        if b0 == RTP_PLAIN_FIRST_BYTE:
            stream.packets.append((pktno, t, seq, ts, b1, n, p[RTP_HEADER_LEN:]))
            continue
        if b0 >> 6 != RTP_VERSION:
            stream.bad_version.append(pktno)
        payload, problem = _payload(p, b0)
        if problem:
            stream.length_problems.append((pktno, problem))
        stream.packets.append((pktno, t, seq, ts, b1, n, payload))
    if short:
        first = next(iter(streams.values()), None)
        if first is not None:
            first.length_problems.extend(
                (pk, "shorter than the 12-byte RTP header") for pk in short
            )
    return list(streams.values())


def _payload(p: bytes, b0: int) -> tuple[bytes, str]:
    """The payload after CSRCs, extension and before padding, and any length problem."""
    n = len(p)
    hdr = RTP_HEADER_LEN + (b0 & 0x0F) * RTP_CSRC_LEN
    if hdr > n:
        return b"", f"CSRC count {b0 & 0x0F} needs {hdr} bytes, packet has {n}"
    if b0 & 0x10:
        if hdr + RTP_EXTENSION_HEADER_LEN > n:
            return b"", "extension bit set but no room for the extension header"
        words = (p[hdr + 2] << 8) | p[hdr + 3]
        hdr += RTP_EXTENSION_HEADER_LEN + words * 4
        if hdr > n:
            return b"", f"extension of {words} words runs past the end ({hdr} > {n} bytes)"
    pad = 0
    if b0 & 0x20:
        pad = p[-1]
        if pad == 0 or hdr + pad > n:
            return p[hdr:], f"padding count {pad} does not fit the {n - hdr}-byte payload"
    return p[hdr : n - pad], ""


def analyse(stream: RtpStream, jpeg_from_sdp: bool = False) -> None:
    """Fill in statistics and frames of a stream whose packets are loaded."""
    packets = stream.packets
    stats = stream.stats
    if not packets:
        return
    rate = stream.clock_rate
    first = packets[0]
    stats.first_seq, stats.first_timestamp = first[2], first[3]
    max_seq = first[2]
    ext_max = first[2]
    ext_base = ext_max
    seen: set[int] = set()
    dups, reorders = stream.duplicate_pktnos, stream.reorder_pktnos
    ordered: list[SeqPacket] = []
    jitter = 0.0
    max_jitter = 0.0
    prev_transit = None
    payload_bytes = 0
    for pktno, t, seq, ts, b1, _size, payload in packets:
        delta = (seq - max_seq) & 0xFFFF
        if delta < SEQ_HALF:
            ext = ext_max + delta
            if delta:
                ext_max, max_seq = ext, seq
        else:
            ext = ext_max - (SEQ_MODULUS - delta)
        if ext in seen:
            dups.append(pktno)
        else:
            if ext < ext_max:
                reorders.append(pktno)
            seen.add(ext)
            ordered.append((ext, pktno, t, ts, b1 >> 7 == 1, payload))
        if ext < ext_base:
            ext_base = ext
        payload_bytes += len(payload)
        # A.8: transit time in timestamp units; wrap of the timestamp is harmless in the
        # difference once brought back to a signed 32-bit value.
        transit = t * rate - ts
        if prev_transit is not None:
            d = transit - prev_transit
            d = (d + TS_HALF) % TS_MODULUS - TS_HALF
            jitter += (abs(d) - jitter) / JITTER_GAIN
            if jitter > max_jitter:
                max_jitter = jitter
        prev_transit = transit
    ordered.sort()
    for i in range(1, len(ordered)):
        step = ordered[i][0] - ordered[i - 1][0]
        if step > 1:
            stream.gaps.append((ordered[i][1], step - 1))
    stats.packets = len(packets)
    stats.expected = ext_max - ext_base + 1
    stats.lost = stats.expected - stats.packets
    stats.missing = stats.expected - len(ordered)
    stats.duplicates = len(dups)
    stats.reorders = len(reorders)
    stats.jitter_ms = jitter * 1000.0 / rate
    stats.max_jitter_ms = max_jitter * 1000.0 / rate
    stats.duration_s = packets[-1][1] - first[1]
    if stats.duration_s > 0:
        stats.bitrate_bps = payload_bytes * 8 / stats.duration_s
    stream.format = detect_format(stream.payload_type, [p[5] for p in ordered[:50]], jpeg_from_sdp)
    stream.frames = assemble(ordered, stream.format)
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
        stats.drift_ppm = drift_ppm([f.time for f in frames], ext_ts, rate)


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
