"""Functional tests read from any capture: each RTSP exchange, each RTP stream, the rules.

For ``rtsp-workbench report``: without a scenario to follow, the capture itself says
what was tried (the requests) and what happened (the replies, the streams).
"""

from __future__ import annotations

from analysis.sessions.rebuild import KNOWN_METHODS, VALID_IN, CapturedExchange, is_success
from rtsp_common.status import Status
from workbench.report.build import AnalysedCapture
from workbench.report.from_check import stream_label
from workbench.report.functional import TestBook

# RFC 2326 §7.1.1: 401 Unauthorized, 407 Proxy Authentication Required: challenges.
AUTH_CHALLENGES = (Status.UNAUTHORIZED, Status.PROXY_AUTHENTICATION_REQUIRED)
MAX_REQUEST_LINE = 80  # characters of a request line shown in a test title


def rightful_refusals(exchange: CapturedExchange) -> set[int]:
    """Statuses that correctly refuse this request (RFC 2326 §7.1.1); empty when it should succeed."""
    request = exchange.request
    assert request is not None  # only requests are judged
    method = request.method.upper()
    if method not in KNOWN_METHODS:
        return {Status.NOT_IMPLEMENTED}
    if exchange.unknown_session:
        return {Status.SESSION_NOT_FOUND}
    valid_in = VALID_IN.get(method)
    if valid_in is not None and exchange.state_before not in valid_in:
        return {Status.METHOD_NOT_VALID_IN_THIS_STATE, Status.SESSION_NOT_FOUND}
    return set()


def answered_challenge(exchanges: list[CapturedExchange], index: int) -> CapturedExchange | None:
    """For a 401/407 reply, the later request on the connection that repeats the method
    and URI with credentials (RFC 2326 §11.4.1, RFC 7616 §3.4): the challenge was the
    normal first step of authentication, not a failure. None otherwise."""
    exchange = exchanges[index]
    if exchange.response is None or exchange.response.status not in AUTH_CHALLENGES:
        return None
    request = exchange.first
    for later in exchanges[index + 1 :]:
        retry = later.request
        if (
            retry is not None
            and retry.method == request.method
            and retry.uri == request.uri
            and (retry.header("Authorization") or retry.header("Proxy-Authorization"))
        ):
            return later
    return None


def _exchange_evidence(exchange: CapturedExchange) -> list[str]:
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
        for index, exchange in enumerate(connection.exchanges):
            request, response = exchange.request, exchange.response
            if request is None:
                continue
            n += 1
            line = request.start_line[:MAX_REQUEST_LINE]
            refusals = rightful_refusals(exchange)
            retry = answered_challenge(connection.exchanges, index)
            if response is None:
                passed, observed = False, t("obs.no_reply")
            elif retry is not None:
                passed = not exchange.cseq_problem
                observed = t(
                    "obs.challenge",
                    status=response.status,
                    reason=response.reason,
                    pktno=retry.first.pktno,  # the retry holds a request
                )
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
        if stats.frames is None:
            # Audio (or a format unknown): no frames to count, and no marker to end them.
            passed = stats.packets > 0 and lost == 0
            observed = t(
                "obs.stream_packets",
                packets=stats.packets,
                lost=lost,
                format=stream.fmt.describe(),
            )
        else:
            complete = stats.complete_frames
            passed = stats.packets > 0 and lost == 0 and stats.frames > 0
            passed = passed and complete == stats.frames
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
    failed = [r for r in rows if r.verdict == "failed"]
    errors = [r for r in failed if r.severity == "error"]
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
