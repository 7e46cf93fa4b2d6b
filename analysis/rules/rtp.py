"""RTP rules (RFC 3550, with RFC 3551's 90 kHz video clock)."""

from __future__ import annotations

import statistics

import numpy as np

from analysis.frames import PayloadFormat
from analysis.rtp_stream import RTP_PT_MASK, TS_HALF, TS_MODULUS, RtpStream
from analysis.rules import (
    Context,
    Finding,
    Severity,
    media_streams,
    not_applicable,
    passed,
    rule,
    verdict,
)

RFC = "RFC 3550"
STEP_TOLERANCE_TICKS = 2  # rounding of frame times to the 90 kHz clock
# Containers with millisecond timestamps (Matroska) step 33 or 34 ms at 30 fps: 3 %.
STEP_TOLERANCE_FRACTION = 0.05
DRIFT_LIMIT_PPM = 20000.0  # 2 %: beyond what pacing jitter explains over a second or more
JITTER_LIMIT_MS = 30.0  # about one frame interval at 30 fps: more than a small buffer absorbs


def _none(ctx: Context) -> Finding | None:
    return None if media_streams(ctx) else not_applicable("no RTP stream in the capture")


@rule("RTP-VER-1", RFC, "5.1", Severity.ERROR, "RTP version is 2")
def version(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    return verdict(
        (p, f"version is not 2 in {s.label}") for s in media_streams(ctx) for p in s.bad_version
    )


@rule(
    "RTP-LEN-1",
    RFC,
    "5.1, 5.3.1",
    Severity.ERROR,
    "padding, extension and CSRC count fit the packet length",
)
def lengths(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    return verdict((p, text) for s in media_streams(ctx) for p, text in s.length_problems)


@rule("RTP-PT-1", "RFC 3550 / RFC 4566", "5.1 / 6", Severity.ERROR, "payload type matches the SDP")
def payload_type(ctx: Context) -> Finding:
    offences = []
    checked = 0
    for session in ctx.capture.sessions:
        if session.sdp is None or not session.sdp.media:
            continue
        allowed = {pt for m in session.sdp.media for pt in m.formats}
        for s in session.streams:
            checked += 1
            pt = s.b1 & RTP_PT_MASK
            bad = ~np.isin(pt, sorted(allowed))
            offences.extend(
                (pk, f"payload type {value} not among the SDP's {sorted(allowed)}")
                for pk, value in zip(s.pktno[bad].tolist(), pt[bad].tolist(), strict=True)
            )
    if not checked:
        return not_applicable("no stream with an SDP from DESCRIBE")
    return verdict(offences, f"{checked} stream(s) use the payload types their SDP announced")


@rule("RTP-SSRC-1", RFC, "5.1, 8", Severity.ERROR, "one SSRC per flow")
def ssrc_constant(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    flows: dict[tuple, list[RtpStream]] = {}
    for s in media_streams(ctx):
        flows.setdefault((s.src, s.dst, s.channel), []).append(s)
    offences = []
    for streams in flows.values():
        if len(streams) > 1:
            streams.sort(key=lambda s: s.first_pktno)
            base = streams[0]
            for other in streams[1:]:
                offences.append(
                    (
                        other.first_pktno,
                        f"SSRC changed from {base.ssrc:#010x} to {other.ssrc:#010x} on "
                        f"{base.src} -> {base.dst}",
                    )
                )
    return verdict(offences, f"{len(flows)} flow(s), one SSRC each")


@rule(
    "RTP-SSRC-2",
    "RFC 2326",
    "12.39, 12.33",
    Severity.ERROR,
    "SSRC equals the one Transport or RTP-Info announced",
)
def ssrc_announced(ctx: Context) -> Finding:
    offences = []
    checked = 0
    for session in ctx.capture.sessions:
        announced = {
            spec.ssrc for st in session.setups for spec in (st.granted,) if spec and spec.ssrc
        }
        announced |= {e.ssrc for _, entries in session.plays for e in entries if e.ssrc}
        if not announced:
            continue
        for s in session.streams:
            checked += 1
            if s.ssrc not in announced:
                offences.append(
                    (
                        s.first_pktno,
                        f"SSRC {s.ssrc:#010x}, Transport or RTP-Info announced "
                        + ", ".join(f"{a:#010x}" for a in sorted(announced)),
                    )
                )
    if not checked:
        return not_applicable("no Transport header announced an ssrc")
    return verdict(offences, f"{checked} stream(s) use the announced SSRC")


@rule("RTP-SEQ-1", RFC, "5.1, A.1, A.3", Severity.ERROR, "sequence numbers step by one (no loss)")
def sequence_gaps(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    return verdict(
        (p, f"{n} sequence number(s) missing before this packet in {s.label}")
        for s in media_streams(ctx)
        for p, n in s.gaps
    )


@rule("RTP-SEQ-2", RFC, "5.1, A.1", Severity.ERROR, "no duplicate sequence numbers")
def sequence_duplicates(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    return verdict(
        (p, f"duplicate sequence number in {s.label}")
        for s in media_streams(ctx)
        for p in s.duplicate_pktnos
    )


@rule("RTP-SEQ-3", RFC, "5.1, A.1", Severity.WARNING, "packets arrive in sequence order")
def sequence_order(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    return verdict(
        (p, f"arrived after a higher sequence number in {s.label}")
        for s in media_streams(ctx)
        for p in s.reorder_pktnos
    )


@rule(
    "RTP-INIT-1",
    RFC,
    "5.1",
    Severity.WARNING,
    "initial sequence number and timestamp are random, not zero",
)
def initial_values(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    offences = []
    for s in media_streams(ctx):
        first = (("sequence number", int(s.seq[0])), ("timestamp", int(s.ts[0])))
        fields = [name for name, value in first if value == 0]
        if fields:
            offences.append((s.first_pktno, f"initial {' and '.join(fields)} 0 in {s.label}"))
    return verdict(offences)


@rule("RTP-TS-1", "RFC 3550 / RFC 2435", "5.1 / 3", Severity.ERROR, "one timestamp per frame")
def timestamp_per_frame(ctx: Context) -> Finding:
    streams = media_streams(ctx, PayloadFormat.RFC2435)
    if not streams:
        return not_applicable("no RFC 2435 stream")
    return verdict(
        (p, f"timestamp differs from its frame's first packet ({f.timestamp}) in {s.label}")
        for s in streams
        for f in s.frames
        for p in f.timestamp_changes
    )


def _frame_steps(ctx: Context, s: RtpStream) -> list[tuple[int, int, bool]]:
    """(pktno, signed timestamp step, sequence contiguous) between consecutive frames
    (computed once per stream and shared by the timestamp rules)."""
    key = ("frame steps", id(s))
    if key in ctx.memo:
        return ctx.memo[key]
    out = ctx.memo[key] = []
    frames = s.frames
    for a, b in zip(frames, frames[1:]):
        step = (b.timestamp - a.timestamp + TS_HALF) % TS_MODULUS - TS_HALF
        out.append((b.first_pktno, step, b.first_ext == a.last_ext + 1))
    return out


@rule("RTP-TS-2", RFC, "5.1", Severity.ERROR, "timestamps do not go backwards across frames")
def timestamp_monotonic(ctx: Context) -> Finding:
    streams = [s for s in media_streams(ctx) if len(s.frames) > 1]
    if not streams:
        return not_applicable("no stream with two frames")
    return verdict(
        (p, f"timestamp steps back by {-step} ticks in {s.label}")
        for s in streams
        for p, step, _ in _frame_steps(ctx, s)
        if step < 0
    )


def nominal_step(ctx: Context, s: RtpStream, framerate: float | None) -> float | None:
    """Ticks per frame: from the SDP framerate, else the median step seen."""
    if framerate:
        return s.clock_rate / framerate
    steps = [step for _, step, contiguous in _frame_steps(ctx, s) if contiguous and step > 0]
    return statistics.median(steps) if steps else None


def _session_framerate(ctx: Context, s: RtpStream) -> float | None:
    for session in ctx.capture.sessions:
        if s in session.streams and session.sdp:
            rates = [m.framerate for m in session.sdp.media if m.framerate]
            return rates[0] if rates else session.sdp.framerate
    return None


@rule(
    "RTP-TS-3",
    "RFC 3550 / RFC 3551",
    "5.1 / 5",
    Severity.WARNING,
    "timestamps step by the 90 kHz clock at the frame rate",
)
def timestamp_step(ctx: Context) -> Finding:
    streams = [
        s
        for s in media_streams(ctx)
        if len(s.frames) > 2 and s.format is not PayloadFormat.WHOLE_JPEG
    ]
    if not streams:
        return not_applicable("no RFC 2435 stream with three frames")
    offences = []
    for s in streams:
        nominal = nominal_step(ctx, s, _session_framerate(ctx, s))
        if not nominal:
            continue
        tolerance = max(STEP_TOLERANCE_TICKS, nominal * STEP_TOLERANCE_FRACTION)
        for p, step, contiguous in _frame_steps(ctx, s):
            if contiguous and step >= 0 and abs(step - nominal) > tolerance:
                offences.append(
                    (p, f"timestamp step {step} ticks, expected {nominal:g} in {s.label}")
                )
    return verdict(offences, "every frame steps by the nominal frame interval")


@rule("RTP-CLK-1", RFC, "5.1, 6.4.1", Severity.WARNING, "media clock keeps pace with arrival time")
def clock_drift(ctx: Context) -> Finding:
    streams = [s for s in media_streams(ctx) if s.stats.drift_ppm is not None]
    if not streams:
        return not_applicable("no stream long enough (one second) to measure drift")
    offences = [
        (s.frames[0].first_pktno, f"media clock drifts {s.stats.drift_ppm:+.0f} ppm in {s.label}")
        for s in streams
        if abs(s.stats.drift_ppm) > DRIFT_LIMIT_PPM
    ]
    worst = max(streams, key=lambda s: abs(s.stats.drift_ppm))
    return verdict(offences, f"largest drift {worst.stats.drift_ppm:+.0f} ppm")


@rule(
    "RTP-MARK-1",
    "RFC 3550 / RFC 2435",
    "5.1 / 3",
    Severity.ERROR,
    "marker bit on exactly the last packet of each frame",
)
def marker(ctx: Context) -> Finding:
    streams = media_streams(ctx, PayloadFormat.RFC2435)
    if not streams:
        return not_applicable("no RFC 2435 stream (the lab's format is judged by LAB-MARK-1)")
    offences = []
    for s in streams:
        for f in s.frames:
            offences.extend(
                (p, f"marker set before the frame's last packet in {s.label}")
                for p in f.marker_inside
            )
            if f.complete and not f.marker_last:
                offences.append(
                    (f.last_pktno, f"frame's last packet lacks the marker in {s.label}")
                )
    return verdict(offences)


@rule("RTP-JIT-1", RFC, "6.4.1, A.8", Severity.INFO, "interarrival jitter stays low")
def jitter(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    worst = max(media_streams(ctx), key=lambda s: s.stats.max_jitter_ms)
    text = f"highest jitter {worst.stats.max_jitter_ms:.2f} ms ({worst.label})"
    if worst.stats.max_jitter_ms > JITTER_LIMIT_MS:
        return verdict([(worst.first_pktno, text + f" exceeds {JITTER_LIMIT_MS:g} ms")])
    return passed(text)
