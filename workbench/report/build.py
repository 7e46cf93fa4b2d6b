"""Assemble a Report: functional tests, the checked capture's parts, screenshots, plots.

``analyse_capture`` reads a pcap with the analysis package (the independent checker);
``judge_capture`` turns what it found into the demo's capture tests; ``build_report``
puts everything together and draws the plots into the report folder.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from analysis.capture.live import CaptureSummary
from analysis.check import CheckResult, check_capture
from analysis.errors import AnalysisError
from analysis.expected import Expectation
from analysis.streams.rtp import CapturedStream
from workbench.report.comments import frame_rate_comments, wireshark_comments
from workbench.report.from_check import (
    conformance_rows,
    ladder_from_connection,
    series_from_stream,
    stat_row,
    stream_label,
)
from workbench.report.functional import TestBook
from workbench.report.i18n import Catalog
from workbench.report.model import ConformanceRow, FunctionalTest, Report, Screenshot
from workbench.wireshark import (
    DecodeAs,
    TsharkCheck,
    TsharkStatus,
    annotate,
    check_with_tshark,
    failed_rules_filter,
)

log = logging.getLogger(__name__)

# Severities the conformance test judges; information is shown, never failed on.
JUDGED = ("error", "warning")
MAX_PLOTTED_STREAMS = 4
MAX_LADDER_CONNECTIONS = 40  # RTSP connections drawn; a count says how many more there are
STANDARD_SESSIONS = 2  # the demo's UDP and TCP sessions


@dataclass
class CaptureStage:
    """What happened to the live capture during the demo."""

    path: Path
    summary: CaptureSummary | None = None
    start_error: str | None = None
    stop_error: str | None = None

    def describe(self, catalog: Catalog) -> str | None:
        if self.start_error:
            return catalog.t("obs.capture_refused", error=self.start_error)
        if self.stop_error:
            return catalog.t("obs.error", error=self.stop_error)
        if self.summary is None:
            return None
        s = self.summary
        return catalog.t(
            "obs.capture_summary",
            packets=s.packets_written,
            seen=s.packets_seen,
            drops=s.kernel_drops,
            seconds=round(s.duration, 1),
        )


@dataclass
class AnalysedCapture:
    """A capture read back and checked, translated into report parts."""

    path: Path
    check: CheckResult | None = None
    error: str | None = None
    conformance: list[ConformanceRow] = field(default_factory=list)
    wireshark: str | None = None
    tshark: TsharkCheck | None = None
    # The pcapng copy with findings as packet comments, and the command showing the failed
    # rules' packets in it; or why it could not be written.
    annotated: Path | None = None
    annotated_wireshark: str | None = None
    annotation_error: str | None = None
    # Streams in the lab's format: left out of the Wireshark command (not RFC 2435).
    not_decoded: list[CapturedStream] = field(default_factory=list)

    @property
    def streams(self) -> list[CapturedStream]:
        return list(self.check.streams) if self.check is not None else []

    @property
    def unexpected_failures(self) -> list[ConformanceRow]:
        """Rules of severity error or warning with findings no expectation covers."""
        return [r for r in self.conformance if r.verdict == "failed" and r.severity in JUDGED]


def analyse_capture(
    path: Path,
    tshark: bool = True,
    rtp_ports: list[int] | None = None,
    expectations: list[Expectation] | None = None,
    annotate_to: Path | None = None,
) -> AnalysedCapture:
    """Check a pcap and prepare its report parts; a broken file is reported, not raised.

    With ``tshark`` the Wireshark command is also tried on it with tshark; ``rtp_ports``
    name UDP ports that carry RTP when no RTSP SETUP in the capture says so;
    ``expectations`` mark the findings of deliberate sessions as expected; with
    ``annotate_to`` the capture is also written there as pcapng, every finding a comment
    on its packet."""
    result = AnalysedCapture(path)
    try:
        result.check = check_capture(path, rtp_ports, expectations)
    except (AnalysisError, OSError, ValueError) as exc:
        # These say what is wrong with the file in their message; the class name adds noise.
        result.error = str(exc) or type(exc).__name__
        log.info("cannot check %s: %s", path, result.error)
        return result
    except Exception as exc:  # a checker bug must not cost the user the rest of the report
        result.error = f"the checker failed on this capture: {type(exc).__name__}: {exc}"
        log.exception("checking %s", path)
        return result
    result.conformance = conformance_rows(result.check.rules)
    if result.check.error is not None:
        result.error = str(result.check.error) or type(result.check.error).__name__
    decode = DecodeAs.of(result.check)
    result.not_decoded = decode.not_decoded
    result.wireshark = decode.command(path)
    tcp_ssrcs = [s.ssrc for s in result.check.streams if s.transport == "tcp"]
    # tshark reads the capture on one core while the annotated copy is written on the
    # other: on a capture of a GB, each takes seconds.
    with ThreadPoolExecutor(1) as beside:
        decoded = (
            beside.submit(
                check_with_tshark,
                path,
                decode.udp_ports,
                decode.rtsp_ports,
                decode.heuristic,
                tcp_ssrcs,
            )
            if tshark
            else None
        )
        if annotate_to is not None:
            _annotate(result, decode, annotate_to)
        if decoded is not None:
            result.tshark = decoded.result()
    return result


def _annotate(result: AnalysedCapture, decode: DecodeAs, destination: Path) -> None:
    assert result.check is not None
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        summary = annotate(result.check, destination)
    except (AnalysisError, OSError) as exc:
        result.annotation_error = f"cannot write {destination}: {exc}"
        log.warning("%s", result.annotation_error)
        return
    if summary.stopped:
        log.warning("annotated copy %s stops early: %s", destination, summary.stopped)
    result.annotated = destination
    result.annotated_wireshark = decode.command(destination, failed_rules_filter(result.check))


def _tshark_observed(analysed: AnalysedCapture, catalog: Catalog) -> tuple[bool, str]:
    """Whether tshark decoded every RFC 2435 stream, and what it decoded, stream by stream."""
    t = catalog.t
    tshark = analysed.tshark
    assert tshark is not None and tshark.accepted
    decoded = [s for s in analysed.streams if s not in analysed.not_decoded]
    parts = [
        t(
            "obs.tshark_stream",
            decoded=tshark.by_ssrc.get(s.ssrc, 0),
            sent=s.stats.packets,
            stream=stream_label(s),
        )
        for s in decoded
    ]
    observed = t("obs.tshark_decodes", count=tshark.rtp_packets)
    if parts:
        observed += ": " + "; ".join(parts)
    if analysed.not_decoded:
        observed += ". " + t(
            "obs.tshark_left_out",
            streams=", ".join(stream_label(s) for s in analysed.not_decoded),
        )
    passed = bool(decoded) and all(tshark.by_ssrc.get(s.ssrc, 0) > 0 for s in decoded)
    return passed, observed


def tshark_reason(tshark: TsharkCheck, catalog: Catalog) -> str:
    """Why tshark did not decode the capture, in the report's language."""
    keys = {
        TsharkStatus.MISSING: "obs.tshark_missing",
        TsharkStatus.TIMEOUT: "obs.tshark_timeout",
        TsharkStatus.REFUSED: "obs.tshark_refused",
    }
    return catalog.t(keys[tshark.status], detail=tshark.detail)


def judge_capture(
    book: TestBook,
    stage: CaptureStage | None,
    analysed: AnalysedCapture | None,
    expected_sessions: int,
    expectations: Sequence[Expectation] = (),
) -> None:
    """The demo's three capture tests: read back, conformance, Wireshark.

    Conformance is judged on the same capture as the report's table: every finding outside
    the sessions ``expectations`` name is our server's, and fails the test."""
    t = book.catalog.t
    if stage is None or stage.summary is None or analysed is None:
        reason = (stage.describe(book.catalog) if stage else None) or t("obs.no_capture")
        for key in ("capture_read", "conformance", "wireshark"):
            book.not_run(key, reason, sessions=expected_sessions)
        return
    if analysed.check is None:
        book.add(
            "capture_read", False, t("obs.error", error=analysed.error), sessions=expected_sessions
        )
        book.not_run("conformance", analysed.error or "", sessions=expected_sessions)
        book.not_run("wireshark", analysed.error or "", sessions=expected_sessions)
        return
    check = analysed.check
    playing_sessions = [s for s in check.sessions if s.streams]
    book.add(
        "capture_read",
        len(playing_sessions) >= expected_sessions and check.error is None,
        t(
            "obs.capture_read",
            packets=check.packets_read,
            sessions=len(check.sessions),
            streams=len(check.streams),
        ),
        [
            f"{s.id}: " + (", ".join(stream_label(x) for x in s.streams) or t("obs.no_streams"))
            for s in check.sessions
        ]
        + ([analysed.error] if analysed.error else []),
        sessions=expected_sessions,
    )
    failures = analysed.unexpected_failures
    # Rules that found nothing to judge prove nothing: both of our sessions must be there.
    expected_ids = {e.session for e in expectations if e.session}
    ours = [s for s in check.sessions if s.streams and s.id not in expected_ids]
    observed = t("obs.conformance_ours", failed=len(failures), rules=len(analysed.conformance))
    if len(ours) < STANDARD_SESSIONS:
        observed = t("obs.ours_missing", found=len(ours), wanted=STANDARD_SESSIONS)
    book.add(
        "conformance",
        not failures and len(ours) >= STANDARD_SESSIONS,
        observed,
        [f"{r.rule_id} ({r.rfc}): {r.title} — {r.evidence}" for r in failures],
        sessions=expected_sessions,
    )
    tshark = analysed.tshark
    if tshark is None or not tshark.ran:
        book.not_run(
            "wireshark",
            tshark_reason(tshark, book.catalog) if tshark else t("obs.no_capture"),
            optional=tshark is not None,  # tshark is not installed: nothing failed
            sessions=expected_sessions,
        )
    elif not tshark.accepted:
        book.add(
            "wireshark",
            False,
            tshark_reason(tshark, book.catalog),
            [analysed.wireshark or ""],
            sessions=expected_sessions,
        )
    else:
        passed, observed = _tshark_observed(analysed, book.catalog)
        book.add(
            "wireshark", passed, observed, [analysed.wireshark or ""], sessions=expected_sessions
        )


def capture_origin(check: CheckResult) -> float:
    """Time of the first TCP or UDP packet: plots and the ladder count from there."""
    traffic = check.traffic
    firsts = []
    if traffic is not None:
        firsts += [flow[0][1] for flow in traffic.udp.values() if flow]
        firsts += [flow[0][1] for flow in traffic.tcp.values() if flow]
    return min(firsts, default=0.0)


def _pauses(session) -> list[tuple[float, float]]:
    """Gaps between a session's play periods (PAUSE reply to the next PLAY)."""
    periods = [p for p in session.playing if p[1] is not None]
    return [(a[1], b[0]) for a, b in zip(periods, session.playing[1:]) if a[1] < b[0]]


def build_report(
    catalog: Catalog,
    subject: str,
    tests: list[FunctionalTest],
    analysis: AnalysedCapture | None,
    folder: Path,
    screenshots: list[Screenshot] | None = None,
    notes: list[str] | None = None,
) -> Report:
    """Put the report together and draw its plots into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    report = Report(
        title=catalog.t("report.title"),
        subject=subject,
        created=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        functional_tests=list(tests),
        screenshots=list(screenshots or []),
        notes=list(notes or []),
    )
    if analysis is None:
        return report
    report.capture = analysis.path
    report.wireshark_command = analysis.wireshark
    report.annotated_capture = analysis.annotated
    report.annotated_wireshark_command = analysis.annotated_wireshark
    if analysis.annotation_error:
        report.notes.append(analysis.annotation_error)
    report.conformance = analysis.conformance
    if analysis.check is None:
        if analysis.error:
            report.notes.append(analysis.error)
        return report
    check = analysis.check
    if analysis.error:
        report.notes.append(analysis.error)
    origin = capture_origin(check)
    for n, connection in enumerate(check.connections[:MAX_LADDER_CONNECTIONS], start=1):
        report.ladder.append(
            ladder_from_connection(
                connection, origin, catalog.t("ladder.connection", n=n, label=connection.label)
            )
        )
    if len(check.connections) > MAX_LADDER_CONNECTIONS:
        report.ladder_left_out = len(check.connections) - MAX_LADDER_CONNECTIONS
    # matplotlib takes a third of a second to import: only a report that draws loads it.
    from workbench.report.plots import plot_stream

    pauses_by_session: dict[str | None, list] = {s.id: _pauses(s) for s in check.sessions}
    for index, stream in enumerate(check.streams):
        pauses = pauses_by_session.get(stream.session_id, [])
        report.stats.append(stat_row(stream, pauses=pauses))
        if index < MAX_PLOTTED_STREAMS:
            series = series_from_stream(stream, origin, pauses=pauses)
            report.plots += plot_stream(series, folder, f"stream{index + 1}", catalog)
    report.notes += frame_rate_comments(report.stats, catalog)
    report.notes += wireshark_comments(
        analysis.streams, analysis.not_decoded, analysis.tshark, catalog
    )
    return report
