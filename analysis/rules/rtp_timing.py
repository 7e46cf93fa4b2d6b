"""RTP timing rules (RFC 3550 §5.1, §6.4.1, A.8; RFC 4566's a=framerate): timestamps per
frame and from frame to frame, the media clock against arrival time, and jitter.

Each stream runs on its own clock (its SDP, else RFC 3551's static payload types); a rule
that needs an unknown clock answers "not applicable" with the reason. Continuity is judged
within play segments: a PLAY (with its RTP-Info) starts a new one, so a pause or a seek is
no timestamp fault; a dropped frame (a step of whole intervals, with an arrival gap to
match) is none either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.payloads.frames import PayloadFormat
from analysis.rules.registry import (
    Context,
    Finding,
    Severity,
    clocked_streams,
    media_streams,
    not_applicable,
    passed,
    rule,
    unclocked_note,
    verdict,
    verdict_if_judged,
)
from analysis.streams.rtp import SEQ_MODULUS, TS_HALF, TS_MODULUS, CapturedStream

RFC = "RFC 3550"
STEP_TOLERANCE_TICKS = 2  # rounding of frame times to the clock
# Containers with millisecond timestamps (Matroska) step 33 or 34 ms at 30 fps: 3 %.
STEP_TOLERANCE_FRACTION = 0.05
# A timestamp step of k frame intervals is k - 1 dropped frames only if arrival shows a
# gap too; a jump with frames still arriving at the frame rate is the clock jumping.
DROPPED_FRAME_ARRIVAL_SHARE = 0.5
DRIFT_LIMIT_PPM = 20000.0  # 2 %: beyond what pacing jitter explains over a second or more
JITTER_LIMIT_MS = 30.0  # about one frame interval at 30 fps: more than a small buffer absorbs


@rule("RTP-TS-1", "RFC 3550 / RFC 2435", "5.1 / 3", Severity.ERROR, "one timestamp per frame")
def timestamp_per_frame(ctx: Context) -> Finding:
    """All packets of an RFC 2435 frame carry its timestamp. Frames are told apart by the
    fragment offsets in the payload: not applicable when the snap length cut the payloads,
    or without an RFC 2435 stream."""
    streams = [s for s in media_streams(ctx, PayloadFormat.RFC2435) if not s.payload_cut]
    if not streams:
        cut = media_streams(ctx, PayloadFormat.RFC2435)
        if cut:
            n = sum(s.stats.cut_packets for s in cut)
            return not_applicable(f"payload cut by snap length ({n} packets)")
        return not_applicable("no RFC 2435 stream")
    return verdict(
        (p, f"timestamp differs from its frame's first packet ({f.timestamp}) in {s.label}")
        for s in streams
        for f in s.frames
        for p in f.timestamp_changes
    )


@dataclass(frozen=True)
class Units:
    """What a timestamp labels, in sequence order: frames for video, packets otherwise.
    Columns: first packet number, arrival, timestamp (unwrapped across 2^32), first and
    last extended sequence number, and play segment."""

    pktno: np.ndarray
    time: np.ndarray
    ts: np.ndarray
    first_ext: np.ndarray
    last_ext: np.ndarray
    segment: np.ndarray

    def __len__(self) -> int:
        return len(self.pktno)


@dataclass(frozen=True)
class Steps:
    """From each unit to the next within one play segment (a new PLAY restates the
    mapping: no continuity across it): the later unit's packet, the signed timestamp step,
    the arrival step, and whether no packet was lost between them."""

    pktno: np.ndarray
    step: np.ndarray
    dt: np.ndarray
    contiguous: np.ndarray


def _units(ctx: Context, s: CapturedStream) -> Units:
    """The stream's timestamped units (memoized: several rules share them)."""
    key = ("units", id(s))
    if key not in ctx.memo:
        if s.has_frames:
            frames = s.frames
            columns = [
                np.fromiter((getattr(f, name) for f in frames), dtype=kind, count=len(frames))
                for name, kind in (
                    ("first_pktno", np.int64), ("time", np.float64), ("timestamp", np.int64),
                    ("first_ext", np.int64), ("last_ext", np.int64),
                )
            ]  # fmt: skip
        else:
            steps = (np.diff(s.seq) + SEQ_MODULUS // 2) % SEQ_MODULUS - SEQ_MODULUS // 2
            ext = np.concatenate(([0], np.cumsum(steps)))
            order = np.argsort(ext, kind="stable")
            columns = [s.pktno[order], s.time[order], s.ts[order], ext[order], ext[order]]
        ts = columns[2]
        if len(ts):
            wrapped = (np.diff(ts) + TS_HALF) % TS_MODULUS - TS_HALF
            columns[2] = np.concatenate(([0], np.cumsum(wrapped))) + int(ts[0])
        pktno, time, ts, first_ext, last_ext = columns
        ctx.memo[key] = Units(pktno, time, ts, first_ext, last_ext, s.segments(time))
    return ctx.memo[key]


def _steps(ctx: Context, s: CapturedStream) -> Steps:
    """Steps between consecutive units of one play segment (memoized)."""
    key = ("steps", id(s))
    if key not in ctx.memo:
        u = _units(ctx, s)
        same = u.segment[1:] == u.segment[:-1]
        step = np.diff(u.ts)
        ctx.memo[key] = Steps(
            u.pktno[1:][same],
            step[same],
            np.diff(u.time)[same],
            (u.first_ext[1:] == u.last_ext[:-1] + 1)[same],
        )
    return ctx.memo[key]


@rule("RTP-TS-2", RFC, "5.1", Severity.ERROR, "timestamps do not go backwards")
def timestamp_monotonic(ctx: Context) -> Finding:
    """Within a play segment, timestamps never step back from one frame (video) or packet
    (audio) to the next. Not applicable to formats whose packets go in decoding order
    (H.264, H.265, MPEG-4: B-frames step back by design) or whose format is unknown, nor
    to streams with fewer than two frames or packets."""
    streams = [s for s in media_streams(ctx) if not s.fmt.may_reorder or s.format.is_jpeg]
    streams = [s for s in streams if len(_units(ctx, s)) > 1]
    if not streams:
        return not_applicable(
            "no stream in a format whose timestamps must rise (audio, JPEG) with two frames"
        )
    offences: list[tuple[int, str]] = []
    for s in streams:
        steps = _steps(ctx, s)
        back = steps.step < 0
        offences.extend(
            (p, f"timestamp steps back by {-step} ticks in {s.label}")
            for p, step in zip(steps.pktno[back].tolist(), steps.step[back].tolist(), strict=True)
        )
    return verdict(offences)


def session_framerate(ctx: Context, s: CapturedStream) -> float | None:
    """The a=framerate of the stream's SDP media section (or session), if any."""
    session = ctx.capture.session(s.session_id)
    if session is None or session.sdp is None:
        return None
    for setup in session.setups:
        if setup.uri == s.control and setup.sdp_media is not None and setup.sdp_media.framerate:
            return setup.sdp_media.framerate
    rates = [m.framerate for m in session.sdp.media if m.framerate and m.kind == "video"]
    return rates[0] if len(rates) == 1 else session.sdp.framerate


def _irregular_steps(ctx: Context, s: CapturedStream, nominal: float) -> list[tuple[int, str]]:
    """Frame steps that are no whole number of frame intervals, or a jump of several
    intervals while frames kept arriving at the frame rate. Dropped frames (a step of k
    intervals with an arrival gap to match) are no fault."""
    tolerance = max(STEP_TOLERANCE_TICKS, nominal * STEP_TOLERANCE_FRACTION)
    assert s.clock_rate  # only clocked streams have a nominal interval
    interval_s = nominal / s.clock_rate
    if s.fmt.may_reorder and not s.format.is_jpeg:
        # Decoding order: judge the distinct timestamps of each segment in presentation order.
        u = _units(ctx, s)
        out: list[tuple[int, str]] = []
        for seg in np.unique(u.segment).tolist():
            rows = u.segment == seg
            stamps, first = np.unique(u.ts[rows], return_index=True)
            pktnos = u.pktno[rows][first]
            step = np.diff(stamps)
            k = np.rint(step / nominal)
            bad = (k < 1) | (np.abs(step - k * nominal) > tolerance)
            out.extend(
                (p, f"timestamp step {d} ticks, expected a multiple of {nominal:g} in {s.label}")
                for p, d in zip(pktnos[1:][bad].tolist(), step[bad].tolist(), strict=True)
            )
        return out
    steps = _steps(ctx, s)
    judged = steps.contiguous & (steps.step >= 0)  # loss is RTP-SEQ-1's, a step back TS-2's
    k = np.rint(steps.step / nominal)
    off_grid = judged & ((k < 1) | (np.abs(steps.step - k * nominal) > tolerance))
    jumped = (
        judged & ~off_grid & (k > 1)
        & (steps.dt < (k - 1) * interval_s * DROPPED_FRAME_ARRIVAL_SHARE)
    )  # fmt: skip
    out = [
        (p, f"timestamp step {d} ticks, expected {nominal:g} in {s.label}")
        for p, d in zip(steps.pktno[off_grid].tolist(), steps.step[off_grid].tolist(), strict=True)
    ]
    out.extend(
        (
            p,
            f"timestamp jumps {int(n)} frame intervals ({d} ticks) while frames arrive "
            f"{dt * 1000:.0f} ms apart in {s.label}",
        )
        for p, d, n, dt in zip(
            steps.pktno[jumped].tolist(), steps.step[jumped].tolist(),
            k[jumped].tolist(), steps.dt[jumped].tolist(), strict=True,
        )
    )  # fmt: skip
    return out


def _presentation_steps(ctx: Context, s: CapturedStream) -> np.ndarray:
    """Positive timestamp steps between frames in presentation order (distinct timestamps
    per segment, for formats sent in decoding order), or between contiguous frames."""
    if not (s.fmt.may_reorder and not s.format.is_jpeg):
        steps = _steps(ctx, s)
        return steps.step[steps.contiguous & (steps.step > 0)]
    u = _units(ctx, s)
    parts = [np.diff(np.unique(u.ts[u.segment == seg])) for seg in np.unique(u.segment).tolist()]
    distinct = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return distinct[distinct > 0]


def _video_streams(ctx: Context) -> tuple[list[CapturedStream], Finding | None]:
    streams = [
        s for s in media_streams(ctx)
        if s.has_frames and len(s.frames) > 2 and s.format is not PayloadFormat.WHOLE_JPEG
    ]  # fmt: skip
    return clocked_streams(streams, "video stream with three frames")


def _nominal_interval(ctx: Context, s: CapturedStream, promised: bool) -> float | None:
    """Ticks per frame: from the SDP's a=framerate (``promised``), else the median step
    in presentation order; None when that source says nothing."""
    framerate = session_framerate(ctx, s)
    if promised:
        return s.clock_rate / framerate if framerate and s.clock_rate else None
    if framerate:
        return None  # RTP-TS-3 judges this stream against its promise
    steps = _presentation_steps(ctx, s)
    return float(np.median(steps)) if len(steps) else None


def _frame_rate_verdict(ctx: Context, promised: bool, none: str, ok: str) -> Finding:
    """Irregular frame steps of every video stream whose interval is known (from its SDP,
    or from its own median step)."""
    streams, na = _video_streams(ctx)
    if na:
        return na
    offences = []
    judged = 0
    for s in streams:
        nominal = _nominal_interval(ctx, s, promised)
        if nominal:
            judged += 1
            offences.extend(_irregular_steps(ctx, s, nominal))
    return verdict_if_judged(judged, offences, ok, none)


@rule(
    "RTP-TS-3",
    "RFC 3550 / RFC 4566",
    "5.1 / 6",
    Severity.WARNING,
    "video timestamps step by the SDP's a=framerate",
)
def timestamp_step(ctx: Context) -> Finding:
    """Within a play segment, a video stream's frame timestamps step by whole frame
    intervals of its SDP's a=framerate, on its media clock. Dropped frames (a step of
    several intervals, with an arrival gap to match) are no fault. Not applicable
    without a=framerate (RTP-TS-4 then looks at regularity), when the clock rate is
    unknown, or without a video stream of three frames."""
    return _frame_rate_verdict(
        ctx,
        promised=True,
        none="no video stream whose SDP gives a=framerate",
        ok="every frame steps by whole intervals of the SDP frame rate",
    )


@rule(
    "RTP-TS-4",
    "RFC 3550",
    "5.1",
    Severity.INFO,
    "video frame intervals are regular",
)
def frame_regularity(ctx: Context) -> Finding:
    """Information: where no SDP a=framerate says what the interval should be, frames
    step by whole multiples of the usual (median) interval. Irregular intervals are
    allowed by RFC 3550, hence information only. Not applicable when the clock rate is
    unknown, or without a video stream of three frames lacking a=framerate."""
    return _frame_rate_verdict(
        ctx,
        promised=False,
        none="every video stream has an SDP a=framerate (RTP-TS-3 judges it)",
        ok="frames step by whole multiples of the usual interval",
    )


@rule("RTP-CLK-1", RFC, "5.1, 6.4.1", Severity.WARNING, "media clock keeps pace with arrival time")
def clock_drift(ctx: Context) -> Finding:
    """Over the longest play segment of a second or more, the media clock (RTP timestamps
    at the stream's clock rate) keeps pace with arrival time. Not applicable when the
    clock rate is unknown (a dynamic payload type without SDP) or no stream is long
    enough."""
    streams, na = clocked_streams(media_streams(ctx))
    if na:
        return na
    streams = [s for s in streams if s.stats.drift_ppm is not None]
    if not streams:
        return not_applicable("no stream long enough (one second) to measure drift")
    offences = [
        (
            s.first_pktno,
            f"media clock drifts {s.stats.drift_ppm:+.0f} ppm at {s.clock_rate} Hz in {s.label}",
        )
        for s in streams
        if abs(s.stats.drift_ppm or 0.0) > DRIFT_LIMIT_PPM
    ]
    worst = max(streams, key=lambda s: abs(s.stats.drift_ppm or 0.0))  # None filtered above
    return verdict(
        offences,
        f"largest drift {worst.stats.drift_ppm:+.0f} ppm" + unclocked_note(media_streams(ctx)),
    )


@rule("RTP-JIT-1", RFC, "6.4.1, A.8", Severity.INFO, "interarrival jitter stays low")
def jitter(ctx: Context) -> Finding:
    """Information: the RFC 3550 A.8 interarrival jitter (on the stream's own clock, reset
    at each PLAY) stays under about one video frame interval. Not applicable when no
    stream's clock rate is known."""
    streams, na = clocked_streams(media_streams(ctx))
    if na:
        return na
    # None (no jitter measured yet) counts as none.
    worst = max(streams, key=lambda s: s.stats.max_jitter_ms or 0.0)
    worst_ms = worst.stats.max_jitter_ms or 0.0
    text = f"highest jitter {worst_ms:.2f} ms ({worst.label})"
    if worst_ms > JITTER_LIMIT_MS:
        return verdict([(worst.first_pktno, text + f" exceeds {JITTER_LIMIT_MS:g} ms")])
    return passed(text + unclocked_note(media_streams(ctx)))
