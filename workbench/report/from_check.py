"""Report parts read from a checked capture: ladder, statistics, plot series, conformance.

The analysis package is the independent oracle: these functions only translate what it
found (connections, RTP streams, rule results) into the report's model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np

from analysis.rules import Outcome, RuleResult
from analysis.sessions.rebuild import CapturedConnection
from analysis.streams.decimate import keep_extremes
from analysis.streams.rtp import SEQ_MODULUS, TS_MODULUS, CapturedStream, unwrapped
from analysis.wire.rtsp import Kind
from workbench.report.model import (
    MAX_EVIDENCE,
    ConformanceRow,
    LadderMessage,
    LadderSession,
    StatRow,
    StreamSeries,
)

log = logging.getLogger(__name__)

MS_PER_S = 1000.0
PERCENT = 100.0
# A connection's ladder: its opening (the handshake and PLAY) and its end are what a reader
# studies; the keep-alives of a long capture between them are counted, not drawn.
LADDER_HEAD = 40
LADDER_TAIL = 10


def stream_label(stream: CapturedStream) -> str:
    """A short name for a stream: transport, SSRC and destination."""
    kind = "TCP" if stream.transport == "tcp" else "UDP"
    return f"{kind} SSRC 0x{stream.ssrc:08X} → {stream.dst}"


def series_from_stream(
    stream: CapturedStream,
    origin: float,
    label: str | None = None,
    pauses: Iterable[tuple[float, float]] = (),
) -> StreamSeries:
    """Per-packet and per-frame measurements of a stream, times relative to ``origin``.

    A long stream's per-packet series are decimated (``keep_extremes``): at most
    MAX_SERIES_POINTS packets, the extremes of inter-arrival, jitter, sequence and
    timestamp kept, so that a spike or a jump still shows."""
    times = stream.time
    sequence = unwrapped(stream.seq, SEQ_MODULUS)
    timestamps = unwrapped(stream.ts, TS_MODULUS)
    interarrival = np.diff(times, prepend=np.nan) * MS_PER_S
    jitter = stream.jitter_ms_series()
    # None when the clock rate is unknown: no jitter is drawn rather than a guessed one.
    jitter_ms = np.asarray(jitter) if jitter is not None else None
    measured = [interarrival, sequence, timestamps] + ([jitter_ms] if jitter_ms is not None else [])
    keep = keep_extremes(len(times), measured)
    series = StreamSeries(label or stream_label(stream))
    series.arrival = (times[keep] - origin).tolist()
    series.sequence = sequence[keep].tolist()
    series.timestamp = timestamps[keep].tolist()
    series.interarrival_ms = interarrival[keep[1:]].tolist()  # the first packet has none
    series.clock_rate = stream.clock_rate or None
    series.jitter_ms = jitter_ms[keep].tolist() if jitter_ms is not None else []
    series.frame_arrival = [f.time - origin for f in stream.frames]
    series.frame_sizes = [f.size for f in stream.frames]
    if len(times):
        first, last = float(times[0]), float(times[-1])
        series.pauses = [
            (start - origin, end - origin) for start, end in pauses if first < end and start < last
        ]
    return series


def _overlap(start: float, end: float, spans: Iterable[tuple[float, float]]) -> float:
    """Seconds of [start, end] covered by ``spans``."""
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)


def stat_row(
    stream: CapturedStream, label: str | None = None, pauses: Iterable[tuple[float, float]] = ()
) -> StatRow:
    """The statistics table's row for one stream (RFC 3550 A.3 loss, A.8 jitter).

    The frame rate counts the time the stream was playing, the frame intervals that span
    a pause left out: over the whole duration a pause would pull it down (16.8 frames/s
    for a 20 fps clip paused 1 s in 6)."""
    stats = stream.stats
    expected = max(stats.expected, 1)
    lost = max(stats.lost, 0)
    times = [f.time for f in stream.frames]
    pauses = list(pauses)
    duration = paused = 0.0
    fps = overall = stats.fps or None
    if len(times) > 1:
        duration = times[-1] - times[0]
        paused = _overlap(times[0], times[-1], pauses)
        # Frame intervals while playing: the one that spans a pause is not one of them.
        playing = [b - a for a, b in zip(times, times[1:]) if not _overlap(a, b, pauses)]
        if playing and sum(playing) > 0:
            fps = len(playing) / sum(playing)
    return StatRow(
        stream=label or stream_label(stream),
        packets=stats.packets,
        lost=lost,
        loss_percent=PERCENT * lost / expected,
        jitter_ms=stats.jitter_ms,
        bitrate_kbps=stats.bitrate_bps / 1000.0 if stats.bitrate_bps else None,
        fps=fps,
        frames=stats.frames,
        duration_s=duration,
        paused_s=paused,
        overall_fps=overall,
    )


def ladder_from_connection(
    connection: CapturedConnection, origin: float, title: str | None = None
) -> LadderSession:
    """The RTSP messages of a connection in capture order: all of them, or for a long
    connection its first LADDER_HEAD and last LADDER_TAIL with the count left out."""
    session = LadderSession(title or connection.label)
    messages = connection.messages
    if len(messages) > LADDER_HEAD + LADDER_TAIL:
        session.left_out = len(messages) - LADDER_HEAD - LADDER_TAIL
        session.left_out_after = LADDER_HEAD
        messages = [*messages[:LADDER_HEAD], *messages[-LADDER_TAIL:]]
    for message in messages:
        text = message.raw.decode("utf-8", "replace")
        session.messages.append(
            LadderMessage(
                # an unreadable message is placed by its start line: replies begin "RTSP/"
                from_client=message.kind is Kind.REQUEST
                or (message.kind is Kind.INVALID and not message.start_line.startswith("RTSP/")),
                first_line=message.start_line,
                text=text,
                time=message.time - origin,
                status=message.status if message.kind is Kind.RESPONSE else None,
            )
        )
    return session


def evidence_text(packets: Iterable[int], detail: str = "") -> str:
    """``#12, #13, ... (+n more)`` as Wireshark numbers the packets, after the detail."""
    numbers = list(packets)
    shown = ", ".join(f"#{n}" for n in numbers[:MAX_EVIDENCE])
    if len(numbers) > MAX_EVIDENCE:
        shown += f" (+{len(numbers) - MAX_EVIDENCE})"
    return "; ".join(part for part in (detail, shown) if part)


def conformance_row(
    rule_id: str,
    rfc: str,
    severity: str,
    title: str,
    passed: bool | None,
    count: int = 0,
    packets: Iterable[int] = (),
    detail: str = "",
    expected: str = "",
) -> ConformanceRow:
    """One row of the conformance table."""
    packets = list(packets)
    evidence = evidence_text(packets, detail)
    return ConformanceRow(rule_id, rfc, severity, title, passed, count, evidence, packets, expected)


def conformance_rows(results: Iterable[RuleResult]) -> list[ConformanceRow]:
    """The conformance table of a checked capture: each rule with its verdict, the owners of
    its findings (session or flow, with counts), and why they were expected when they were."""
    rows = []
    for r in results:
        detail = r.evidence
        owners = r.by_owner()
        if len(owners) > 1:
            detail += " — " + "; ".join(f"{owner}: {n}" for owner, n in owners.items())
        reasons = r.reasons
        expected = "; ".join(reasons) if r.outcome is Outcome.EXPECTED else ""
        if reasons:  # say which findings were expected, and why
            detail += f" (expected: {'; '.join(reasons)})"
        rows.append(
            conformance_row(
                r.rule.id,
                f"{r.rule.rfc} §{r.rule.section}",
                r.rule.severity.value,
                r.rule.title,
                None if r.outcome is Outcome.NOT_APPLICABLE else not r.failed,
                r.count,
                r.packets,
                detail,
                expected,
            )
        )
    return rows
