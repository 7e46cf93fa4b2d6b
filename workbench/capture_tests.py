"""Functional tests read from any capture: each RTSP exchange, each RTP stream, the rules.

For ``rtsp-workbench report``: without a scenario to follow, the capture itself says
what was tried (the requests) and what happened (the replies, the streams).
"""

from __future__ import annotations

from analysis.sessions import KNOWN_METHODS, VALID_IN, Exchange, is_success
from rtsp_common.status import Status
from workbench.report.build import AnalysedCapture
from workbench.report.from_check import stream_label
from workbench.testbook import TestBook

MAX_REQUEST_LINE = 80  # characters of a request line shown in a test title


def rightful_refusals(exchange: Exchange) -> set[int]:
    """Statuses that correctly refuse this request (RFC 2326 §7.1.1); empty when it should succeed."""
    request = exchange.request
    method = request.method.upper()
    if method not in KNOWN_METHODS:
        return {Status.NOT_IMPLEMENTED}
    if exchange.unknown_session:
        return {Status.SESSION_NOT_FOUND}
    valid_in = VALID_IN.get(method)
    if valid_in is not None and exchange.state_before not in valid_in:
        return {Status.METHOD_NOT_VALID_IN_THIS_STATE, Status.SESSION_NOT_FOUND}
    return set()


def _exchange_evidence(exchange: Exchange) -> list[str]:
    parts = []
    for message in (exchange.request, exchange.response):
        if message is not None:
            parts.append(f"#{message.pktno}\n" + message.raw.decode("utf-8", "replace").strip())
    return parts


def add_capture_tests(book: TestBook, analysed: AnalysedCapture) -> None:
    """Add one test per RTSP exchange, one per RTP stream, and one for the rules."""
    t = book.catalog.t
    if analysed.check is None:
        book.add("capture_read", False, t("obs.error", error=analysed.error), sessions="–")
        return
    capture = analysed.check
    n = 0
    for connection in capture.connections:
        for exchange in connection.exchanges:
            request, response = exchange.request, exchange.response
            if request is None:
                continue
            n += 1
            line = request.start_line[:MAX_REQUEST_LINE]
            refusals = rightful_refusals(exchange)
            if response is None:
                passed, observed = False, t("obs.no_reply")
            else:
                observed = f"{response.status} {response.reason}"
                if exchange.cseq_problem:
                    observed += "; " + exchange.cseq_problem
                if refusals:
                    observed += "; " + t(
                        "obs.should_refuse", statuses=" / ".join(map(str, sorted(refusals)))
                    )
                    passed = response.status in refusals and not exchange.cseq_problem
                else:
                    passed = is_success(response) and not exchange.cseq_problem
            book.add(
                "report_rtsp",
                passed,
                observed,
                _exchange_evidence(exchange),
                n=n,
                request=line,
                client=str(connection.client),
            )
    for stream in capture.streams:
        stats = stream.stats
        lost = max(stats.lost, 0)
        complete = stats.complete_frames
        passed = stats.packets > 0 and lost == 0 and stats.frames > 0 and complete == stats.frames
        observed = t(
            "obs.stream",
            packets=stats.packets,
            lost=lost,
            frames=stats.frames,
            complete=complete,
            format=stream.format.value,
        )
        book.add(
            "report_stream",
            passed,
            observed,
            ssrc=f"0x{stream.ssrc:08X}",
            flow=stream_label(stream),
        )
    rows = analysed.conformance
    errors = analysed.failed_errors
    failed = [r for r in rows if r.passed is False]
    book.add(
        "report_rules",
        not errors,
        t(
            "obs.rules",
            failed=len(failed),
            errors=len(errors),
            passed=sum(1 for r in rows if r.passed),
        ),
        [f"{r.rule_id} ({r.rfc}, {r.severity}): {r.title} — {r.evidence}" for r in failed],
    )
