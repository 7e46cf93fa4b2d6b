"""The comments `check --annotate` puts on packets: every finding on the packet it names,
and a summary on the first packet of each RTSP session and RTP stream.

A finding's comment starts with its rule id and severity, so that a Wireshark display
filter finds it (``frame.comment contains "RTP-SEQ-1"``, ``frame.comment contains
"error"``): ``RTP-SEQ-1 error RFC 3550 §5.1: 2 sequence number(s) missing before this
packet in ...``.
"""

from __future__ import annotations

from importlib import metadata

from analysis.check import CheckResult
from analysis.rules import Outcome, RuleResult
from analysis.sessions.rebuild import RTSPSession
from analysis.streams.rtp import CapturedStream

TOOL = "rtsp-workbench"


def finding_comments(result: CheckResult) -> dict[int, list[str]]:
    """Packet number -> its comments: summaries first, then findings in rule order."""
    comments: dict[int, list[str]] = {}
    for session in result.sessions:
        first = _first_packet(session)
        if first is not None:
            comments.setdefault(first, []).append(session_summary(session))
    for stream in result.streams:
        if len(stream.pktno):
            comments.setdefault(int(stream.pktno[0]), []).append(stream_summary(stream))
    for r in result.rules:
        for offence in r.offences:
            comments.setdefault(offence.pktno, []).append(
                finding_comment(r, offence.text, offence.expected)
            )
    return comments


def finding_comment(r: RuleResult, text: str, expected: str | None = None) -> str:
    """``RULE-ID severity RFC §section: text``, with why it was expected when it was."""
    comment = f"{r.rule.id} {r.rule.severity.value} {r.rule.rfc} §{r.rule.section}: {text}"
    return comment + (f" (expected: {expected})" if expected else "")


def session_summary(session: RTSPSession) -> str:
    """One line on an RTSP session: id, ends, its streams."""
    ssrcs = ", ".join(f"{s.ssrc:#010x}" for s in session.streams) or "none seen"
    return (
        f"{TOOL} info: RTSP session {session.id}, {session.connection.client} -> "
        f"{session.connection.server}, {len(session.setups)} SETUP(s), RTP streams: {ssrcs}"
    )


def stream_summary(stream: CapturedStream) -> str:
    """One line on an RTP stream: SSRC, ends, session, format and clock, counts, jitter."""
    st = stream.stats
    jitter = "jitter n/a" if st.jitter_ms is None else f"jitter {st.jitter_ms:.2f} ms"
    session = f", session {stream.session_id}" if stream.session_id else ""
    return (
        f"{TOOL} info: RTP stream SSRC {stream.ssrc:#010x} {stream.src} -> {stream.dst}"
        f"{session}, {stream.fmt.describe()}, {st.packets} packets, {st.lost} lost, {jitter}"
    )


def section_comment(result: CheckResult) -> str:
    """The section header's comment: the tool, its version and the rules run."""
    try:
        version = metadata.version(TOOL)
    except metadata.PackageNotFoundError:
        version = "(version unknown)"
    judged = [r.rule.id for r in result.rules if r.outcome is not Outcome.NOT_APPLICABLE]
    failed = [r.rule.id for r in result.rules if r.failed]
    return (
        f"Annotated by {TOOL} {version} check: {len(result.rules)} rules run "
        f"({len(judged)} applicable), failed: {', '.join(failed) or 'none'}; "
        f"rules: {' '.join(r.rule.id for r in result.rules)}"
    )


def _first_packet(session: RTSPSession) -> int | None:
    """The packet of the session's first captured request or response."""
    packets = [
        m.pktno
        for setup in session.setups
        for m in (setup.exchange.request, setup.exchange.response)
        if m is not None
    ]
    packets += [
        m.pktno for exchange, _ in session.plays for m in (exchange.request, exchange.response) if m
    ]
    return min(packets, default=None)
