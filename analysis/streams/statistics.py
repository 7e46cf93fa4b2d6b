"""Receiver statistics of an RTP stream (RFC 3550 A.1 extended sequence numbers, A.3
loss, A.8 jitter, media clock drift) and its frames, within the play segments its
session's PLAY requests begin.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet

import numpy as np

from analysis.payloads.frames import (
    FORMAT_SAMPLE,
    Frame,
    PayloadFormat,
    assemble,
    detect_format,
    fast_rfc2435,
)
from analysis.payloads.h26x import read_h26x
from analysis.payloads.nal_syntax import SYNTAX_BY_ENCODING
from analysis.payloads.seq_columns import SeqColumns
from analysis.streams.jitter import jitter_figures
from analysis.streams.media_format import MediaFormat
from analysis.streams.rtp import (
    SEQ_MODULUS,
    TS_MODULUS,
    CapturedStream,
    unwrapped,
)


def analyse(
    stream: CapturedStream,
    fmt: MediaFormat | None = None,
    play_starts: Sequence[float] = (),
    resumed_seqs: AbstractSet[int] = frozenset(),
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
    ext = unwrapped(seq, SEQ_MODULUS)  # A.1: extended sequence numbers
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
        ext_ts = unwrapped(stream.ts, TS_MODULUS)
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
    stream.format = detect_format(stream.payload_type, sample, fmt.encoding)
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


def _longest_segment(stream: CapturedStream, times: np.ndarray) -> np.ndarray:
    """Indices (into ``times``) of the longest play segment: a pause stops the media clock
    only, so drift is measured within one."""
    period = stream.segments(times)
    if not len(period):
        return np.zeros(0, dtype=np.int64)
    longest = int(np.bincount(period).argmax())
    return np.nonzero(period == longest)[0]


def _frame_figures(
    stream: CapturedStream, order: np.ndarray, uniq: np.ndarray, rate: int | None
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


def assemble_stream(stream: CapturedStream, order: np.ndarray, ext: np.ndarray) -> list[Frame]:
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
    columns = SeqColumns.of_stream(stream, order, ext)
    encoding = stream.fmt.encoding or ""
    syntax = SYNTAX_BY_ENCODING.get(encoding)
    if fmt in (PayloadFormat.H264, PayloadFormat.H265) and syntax and not stream.payload_cut:
        stream.h26x = read_h26x(columns, syntax, encoding, dict(stream.fmt.parameters))
        return stream.h26x.frames
    frames = assemble(columns.packets(), fmt)
    if stream.payload_cut and fmt is PayloadFormat.WHOLE_JPEG:
        cut = set(stream.pktno[stream.cut].tolist())
        for frame in frames:
            if frame.first_pktno in cut:
                frame.whole = None  # part of the JPEG is missing from the capture
    return frames


def extended_timestamps(timestamps: list[int]) -> list[int]:
    """Timestamps unwrapped across 2^32 (each step taken as a signed 32-bit difference)."""
    return unwrapped(np.asarray(timestamps, dtype=np.int64), TS_MODULUS).tolist()


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
