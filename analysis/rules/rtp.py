"""RTP rules (RFC 3550): headers, payload types, SSRCs, sequence numbers, marker bits.
Timing (timestamps, clock, jitter) is ``analysis.rules.rtp_timing``'s.

Only media streams are judged: streams past RFC 3550 A.1 source validation, in the
direction media flows. Keep-alives and stray datagrams are listed apart
(``CheckResult.non_media``).
"""

from __future__ import annotations

import numpy as np

from analysis.payloads.frames import PayloadFormat
from analysis.rules.registry import (
    Context,
    Finding,
    Severity,
    media_streams,
    not_applicable,
    rule,
    verdict,
    verdict_if_judged,
)
from analysis.streams.rtp import RTP_PT_MASK, CapturedStream

RFC = "RFC 3550"


def _none(ctx: Context) -> Finding | None:
    return None if media_streams(ctx) else not_applicable("no RTP media stream in the capture")


@rule("RTP-VER-1", RFC, "5.1", Severity.ERROR, "RTP version is 2")
def version(ctx: Context) -> Finding:
    """Every packet of a media stream carries version 2. Datagrams that never pass source
    validation are not judged (they are listed as non-media). Not applicable without a
    media stream."""
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
    """CSRC list, extension and padding fit the packet as sent. A packet the snap length cut
    is judged against its length on the wire; its padding count (the last byte) cannot be
    read and is not judged. Not applicable without a media stream."""
    if na := _none(ctx):
        return na
    return verdict((p, text) for s in media_streams(ctx) for p, text in s.length_problems)


@rule("RTP-PT-1", "RFC 3550 / RFC 4566", "5.1 / 6", Severity.ERROR, "payload type matches the SDP")
def payload_type(ctx: Context) -> Finding:
    """Each stream of a session uses the payload types its SDP lists. Not applicable when no
    session has an SDP (no DESCRIBE or ANNOUNCE in the capture)."""
    offences: list[tuple[int, str]] = []
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
    return verdict_if_judged(
        checked,
        offences,
        f"{checked} stream(s) use the payload types their SDP announced",
        "no stream with an SDP from DESCRIBE or ANNOUNCE",
    )


def _announced_at_play(ctx: Context, s: CapturedStream) -> bool:
    """True when a PLAY reply's RTP-Info announced this stream's SSRC or first sequence
    number: a new SSRC after a seek that the server said it would use."""
    session = ctx.capture.session(s.session_id)
    if session is None:
        return False
    first_seq = int(s.seq[0])
    return any(
        entry.ssrc == s.ssrc or entry.seq == first_seq
        for _ex, entries in session.plays
        for entry in entries
    )


@rule("RTP-SSRC-1", RFC, "5.1, 8", Severity.ERROR, "one SSRC per flow")
def ssrc_constant(ctx: Context) -> Finding:
    """A flow's media keeps one SSRC, except where a PLAY reply's RTP-Info announced the new
    one. Sources that fail validation (a single stray packet) are not media and not
    counted. Not applicable without a media stream."""
    if na := _none(ctx):
        return na
    flows: dict[tuple, list[CapturedStream]] = {}
    for s in media_streams(ctx):
        flows.setdefault((s.src, s.dst, s.channel), []).append(s)
    offences = []
    for streams in flows.values():
        if len(streams) > 1:
            streams.sort(key=lambda s: s.first_pktno)
            base = streams[0]
            for other in streams[1:]:
                if _announced_at_play(ctx, other):
                    continue
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
    """Streams of a session use an SSRC its Transport or RTP-Info headers announced. Not
    applicable when no header announced one."""
    offences: list[tuple[int, str]] = []
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
    return verdict_if_judged(
        checked,
        offences,
        f"{checked} stream(s) use the announced SSRC",
        "no Transport header announced an ssrc",
    )


@rule("RTP-SEQ-1", RFC, "5.1, A.1, A.3", Severity.ERROR, "sequence numbers step by one (no loss)")
def sequence_gaps(ctx: Context) -> Finding:
    """No sequence number is missing. A gap that a PLAY reply's RTP-Info announced (the
    first packet after a seek) is not a loss. Not judged on interleaved streams whose TCP
    bytes the capture lost (a snap length, or packets the capture dropped): their frames
    went with those bytes. Not applicable without a media stream."""
    if na := _none(ctx):
        return na
    # Gaps in a stream whose carrying TCP bytes the capture lost may be the capture's.
    streams = [s for s in media_streams(ctx) if not (s.capture_holes and s.gaps)]
    if not streams:
        return not_applicable("the capture lost TCP bytes of every interleaved stream with gaps")
    return verdict(
        (p, f"{n} sequence number(s) missing before this packet in {s.label}")
        for s in streams
        for p, n in s.gaps
    )


@rule("RTP-SEQ-2", RFC, "5.1, A.1", Severity.ERROR, "no duplicate sequence numbers")
def sequence_duplicates(ctx: Context) -> Finding:
    """No packet arrives twice. Copies the capture itself made (a loopback or merged
    capture: same bytes and IP identification within microseconds) are read once before
    this rule looks. Not applicable without a media stream."""
    if na := _none(ctx):
        return na
    return verdict(
        (p, f"duplicate sequence number in {s.label}")
        for s in media_streams(ctx)
        for p in s.duplicate_pktnos
    )


@rule("RTP-SEQ-3", RFC, "5.1, A.1", Severity.WARNING, "packets arrive in sequence order")
def sequence_order(ctx: Context) -> Finding:
    """Packets arrive in sequence order (a network's doing more often than the sender's).
    Not applicable without a media stream."""
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
    """Neither the first packet's sequence number nor its timestamp is zero. Judged only
    on streams whose session the capture saw set up: a capture that begins mid-stream
    does not hold the initial values. Not applicable when there is no such stream."""
    sessions = {s.id for s in ctx.capture.sessions if s.setup_captured}
    streams = [s for s in media_streams(ctx) if s.session_id in sessions]
    if not streams:
        return not_applicable(
            "no stream whose SETUP is in the capture (its first packet may be missing)"
        )
    offences: list[tuple[int, str]] = []
    for s in streams:
        first = (("sequence number", int(s.seq[0])), ("timestamp", int(s.ts[0])))
        fields = [name for name, value in first if value == 0]
        if fields:
            offences.append((s.first_pktno, f"initial {' and '.join(fields)} 0 in {s.label}"))
    return verdict(offences)


@rule(
    "RTP-MARK-1",
    "RFC 3550 / RFC 2435",
    "5.1 / 3",
    Severity.ERROR,
    "marker bit on exactly the last packet of each frame",
)
def marker(ctx: Context) -> Finding:
    """In RFC 2435 streams, the marker bit is on a frame's last packet and on no other.
    Where the snap length cut the payloads, frames are told apart by timestamp alone and
    only a missing marker can be seen. Not applicable without an RFC 2435 stream (the
    lab's format is judged by LAB-MARK-1; other formats' marker rules are their own)."""
    streams = media_streams(ctx, PayloadFormat.RFC2435)
    if not streams:
        return not_applicable("no RFC 2435 stream (the lab's format is judged by LAB-MARK-1)")
    offences: list[tuple[int, str]] = []
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
