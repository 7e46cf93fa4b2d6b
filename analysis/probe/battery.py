"""Active RTSP probing: a battery of crafted requests, each reply judged against RFC 2326.

The battery runs the normal flow (OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN) on one
connection, then each hostile or odd request on a fresh connection so one server reaction
(closing, say) cannot spoil the next case. First of all, and last when the server demands
authentication, come the access cases of ``analysis.probe.access``; with the target's user
the battery answers the server's challenges. The I/O is behind ``ProbeEnvironment``
(``analysis.probe.channel`` gives the socket one), so the judging logic here has none.

It is longer than 500 lines because each case is a short function written against the
run (``_Run``) it reports to; the access cases, which need only a narrow view of the run,
are apart in ``analysis.probe.access``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from analysis.probe.access import (
    DEMAND_CASE,
    GUARD_CASES,
    AuthChannel,
    check_demand,
    check_guards,
)
from analysis.probe.auth import Answerer
from analysis.probe.model import Channel, ProbeExchange, Verdict
from analysis.probe.wire import Reply, Target, build_request, raw_request, sdp_setup_urls
from analysis.wire.rtsp_status import Status

__all__ = [
    "Verdict",
    "CaseResult",
    "ProbeReport",
    "ProbeExchange",
    "Channel",
    "RTPReceiver",
    "ProbeEnvironment",
    "run_probe",
    "CASE_IDS",
    "ACCESS_CASE_IDS",
]

log = logging.getLogger(__name__)

OVERSIZED_HEADER_BYTES = 64 * 1024
TRAVERSAL_PATH = "/../../../../etc/passwd"
USER_AGENT = "rtsp-workbench-probe"


class RTPReceiver(Protocol):
    """A local UDP port pair that reports whether any datagram arrived."""

    rtp_port: int
    rtcp_port: int

    def wait_datagram(self, timeout: float) -> bool: ...
    def close(self) -> None: ...


@dataclass
class ProbeEnvironment:
    """How the battery reaches the server: new connections and a local RTP receiver."""

    connect: Callable[[], Channel]
    rtp_receiver: Callable[[], RTPReceiver]
    rtp_wait: float = 2.0


@dataclass(frozen=True)
class CaseResult:
    """One probe case: what was sent, what RFC 2326 expects, what came back, the verdict."""

    case: str
    title: str
    rfc: str
    expected: str
    request: str
    verdict: Verdict
    reason: str
    status: int | None = None
    reply: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready values, the verdict as its string."""
        data = asdict(self)
        data["verdict"] = self.verdict.value
        return data


@dataclass
class ProbeReport:
    """Every case result for one target, and the totals per verdict."""

    target: str
    results: list[CaseResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when any case failed."""
        return any(r.verdict is Verdict.FAIL for r in self.results)

    def counts(self) -> dict[str, int]:
        """How many cases ended in each verdict."""
        return {v.value: sum(r.verdict is v for r in self.results) for v in Verdict}

    def to_dict(self) -> dict:
        """The target, the counts and every result, as JSON-ready values."""
        return {
            "target": self.target,
            "counts": self.counts(),
            "results": [r.to_dict() for r in self.results],
        }


@dataclass(frozen=True)
class _Case:
    case: str
    title: str
    rfc: str
    expected: str


CASES = {
    c.case: c
    for c in [
        _Case(*DEMAND_CASE),
        _Case("options", "OPTIONS lists the methods", "RFC 2326 §10.1", "200 with Public"),
        _Case(
            "describe", "DESCRIBE returns SDP", "RFC 2326 §10.2, RFC 4566", "200 application/sdp"
        ),
        _Case(
            "setup", "SETUP over UDP", "RFC 2326 §10.4, §12.39", "200 with Session and Transport"
        ),
        _Case("play", "PLAY starts RTP", "RFC 2326 §10.5", "200, then RTP on client_port"),
        _Case("teardown", "TEARDOWN ends the session", "RFC 2326 §10.7", "200"),
        _Case("missing_cseq", "request without CSeq", "RFC 2326 §12.17", "400"),
        _Case(
            "wrong_version",
            "RTSP/2.0 request line",
            "RFC 2326 §7.1.1 (505)",
            "505, or a reply in RTSP/2.0",
        ),
        _Case(
            "play_before_setup",
            "PLAY without SETUP",
            "RFC 2326 §11.3.6, Appendix A.2",
            "455 or 454",
        ),
        _Case("wrong_session", "PLAY with an unknown Session", "RFC 2326 §11.3.5, §12.37", "454"),
        _Case("unknown_method", "unknown method", "RFC 2326 §7.1.1 (501)", "501"),
        _Case(
            "oversized_header",
            f"{OVERSIZED_HEADER_BYTES // 1024} KiB header line",
            "RFC 2326 §7.1.1 (400/413)",
            "400, 413 or connection closed",
        ),
        _Case(
            "path_traversal",
            "DESCRIBE ../../etc/passwd",
            "RFC 2326 §7.1.1 (403/404)",
            "404, 403 or 400",
        ),
        _Case(
            "bad_transport", "SETUP with an unknown transport", "RFC 2326 §11.3.12, §12.39", "461"
        ),
        _Case(
            "interleaved",
            "SETUP over TCP, then PLAY",
            "RFC 2326 §10.12, §12.39",
            "200 echoing interleaved=, then '$' frames (or 461 if TCP is not offered)",
        ),
        _Case(
            "lab_request_form",
            "the lab's SETUP: no scheme, LF ends, RTP/UDP",
            "RFC 2326 §4 (CR or LF line ends), §12.39",
            "a reply with CSeq echoed",
        ),
        *(_Case(*case) for case in GUARD_CASES),
    ]
}
# Reported by every run; the access guards only against a server demanding authentication.
ACCESS_CASE_IDS = tuple(case[0] for case in GUARD_CASES)
CASE_IDS = tuple(c for c in CASES if c not in ACCESS_CASE_IDS)


class _Run:
    """State of one battery run: the report, CSeq numbering, the normal flow's session."""

    def __init__(self, target: Target, env: ProbeEnvironment) -> None:
        self.target = target
        self.env = env
        self.report = ProbeReport(target.url)
        self.cseq = 0
        # Answers challenges for the user the target names, once the server has made one.
        self.answerer = None if target.user is None else Answerer(target.user, target.password)

    def raw_connect(self) -> Channel:
        """A new connection, sending requests as they are built."""
        return self.env.connect()

    def connect(self) -> Channel:
        """A new connection that authenticates each request once the server asked."""
        channel = self.env.connect()
        if self.answerer is None or self.answerer.offer is None:
            return channel
        return AuthChannel(channel, self.answerer)

    def amend(self, verdict: Verdict, reason: str) -> None:
        """Replace the last result's verdict and reason."""
        self.report.results[-1] = _replace(self.report.results[-1], verdict, reason)

    def next_cseq(self) -> int:
        self.cseq += 1
        return self.cseq

    def request(
        self, method: str, uri: str, headers: Sequence[tuple[str, str]] = ()
    ) -> tuple[bytes, int]:
        cseq = self.next_cseq()
        data = build_request(
            method, uri, [("CSeq", str(cseq)), ("User-Agent", USER_AGENT), *headers]
        )
        return data, cseq

    def add(
        self,
        case: str,
        data: bytes,
        verdict: Verdict,
        reason: str,
        outcome: ProbeExchange | None = None,
    ) -> CaseResult:
        meta = CASES[case]
        reply = outcome.reply if outcome else None
        result = CaseResult(
            meta.case,
            meta.title,
            meta.rfc,
            meta.expected,
            _first_line(data),
            verdict,
            reason,
            reply.status if reply else None,
            reply.head if reply else None,
        )
        log.info("%s: %s (%s)", case, verdict.value, reason)
        self.report.results.append(result)
        return result

    def judge(
        self,
        case: str,
        data: bytes,
        outcome: ProbeExchange,
        cseq: int | None,
        *,
        passes: set[int],
        warns: dict[int, str] | None = None,
        closed_passes: bool = False,
        no_reply: Verdict = Verdict.FAIL,
    ) -> CaseResult:
        """The common verdict: status in ``passes``, CSeq echoed, or a named failure."""
        reply = outcome.reply
        if reply is None:
            if outcome.closed and closed_passes:
                return self.add(
                    case, data, Verdict.PASS, "connection closed without a reply", outcome
                )
            why = (
                "connection closed without a reply"
                if outcome.closed
                else outcome.error or "no reply"
            )
            return self.add(case, data, no_reply, why, outcome)
        if reply.unterminated:
            return self.add(
                case,
                data,
                Verdict.FAIL,
                f"answered {reply.head} but never sent the empty line that ends "
                "a message (RFC 2326 §7): a conforming client waits forever",
                outcome,
            )
        if cseq is not None and reply.cseq != str(cseq):
            got = "no CSeq" if reply.cseq is None else f"CSeq {reply.cseq}"
            return self.add(
                case,
                data,
                Verdict.FAIL,
                f"{reply.status} with {got}; the request's CSeq {cseq} must be "
                "echoed (RFC 2326 §12.17)",
                outcome,
            )
        if reply.status in passes:
            return self.add(case, data, Verdict.PASS, f"answered {reply.head}", outcome)
        if warns and reply.status in warns:
            return self.add(
                case, data, Verdict.WARN, f"answered {reply.head}: {warns[reply.status]}", outcome
            )
        return self.add(
            case,
            data,
            Verdict.FAIL,
            f"answered {reply.head}; expected {CASES[case].expected}",
            outcome,
        )


def _reply(outcome: ProbeExchange) -> Reply:
    """The reply of an exchange judged PASS (a pass always judged a reply)."""
    assert outcome.reply is not None
    return outcome.reply


def _first_line(data: bytes) -> str:
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    text = line.decode("latin-1")
    return text if len(text) <= 120 else text[:117] + "..."


def run_probe(target: Target, env: ProbeEnvironment) -> ProbeReport:
    """Run the whole battery against ``target``; never raises for what the server does."""
    run = _Run(target, env)
    demand = check_demand(run, run.answerer)
    if demand.blocked is None:
        _battery(run)
    else:
        for case in CASE_IDS[1:]:
            run.add(case, b"", Verdict.SKIP, f"not run: {demand.blocked}")
    if demand.offers:
        check_guards(run, demand, run.answerer)
    return run.report


def _battery(run: _Run) -> None:
    """The normal flow, then each odd or hostile request on a connection of its own."""
    setup_url = _normal_flow(run)
    for case in (
        _missing_cseq,
        _wrong_version,
        _play_before_setup,
        _wrong_session,
        _unknown_method,
        _oversized_header,
        _path_traversal,
        _bad_transport,
        _interleaved,
        _lab_request_form,
    ):
        channel = None
        try:
            channel = run.connect()
            case(run, channel, setup_url)
        except OSError as exc:
            name = case.__name__.lstrip("_")
            run.add(name, b"", Verdict.FAIL, f"could not connect: {exc}")
        finally:
            if channel is not None:
                channel.close()


def _normal_flow(run: _Run) -> str:
    """OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN on one connection; returns the SETUP URL."""
    url = run.target.url
    try:
        channel = run.connect()
    except OSError as exc:
        for case in ("options", "describe", "setup", "play", "teardown"):
            run.add(case, b"", Verdict.FAIL, f"could not connect: {exc}")
        return url + "/"
    receiver = None
    try:
        data, cseq = run.request("OPTIONS", url)
        outcome = channel.exchange(data)
        result = run.judge("options", data, outcome, cseq, passes={Status.OK})
        if result.verdict is Verdict.PASS and _reply(outcome).get("Public") is None:
            run.report.results[-1] = _downgrade(result, "no Public header listing methods")

        data, cseq = run.request("DESCRIBE", url, [("Accept", "application/sdp")])
        outcome = channel.exchange(data)
        result = run.judge("describe", data, outcome, cseq, passes={Status.OK})
        setup_url = url + "/"
        if result.verdict is Verdict.PASS:
            reply = _reply(outcome)
            problem = _sdp_problem(reply)
            if problem:
                run.report.results[-1] = _fail(result, problem)
            setup_url = sdp_setup_urls(reply, url)[0]

        receiver = run.env.rtp_receiver()
        transport = f"RTP/AVP;unicast;client_port={receiver.rtp_port}-{receiver.rtcp_port}"
        data, cseq = run.request("SETUP", setup_url, [("Transport", transport)])
        outcome = channel.exchange(data)
        result = run.judge("setup", data, outcome, cseq, passes={Status.OK})
        session = None
        setup_reply = outcome.reply
        if setup_reply is not None and setup_reply.status == Status.OK and setup_reply.session_id:
            # Go on with the session even when the reply broke a rule, to probe PLAY.
            session = setup_reply.session_id
        if result.verdict is Verdict.PASS:
            reply_transport = _reply(outcome).get("Transport") or ""
            if session is None:
                run.report.results[-1] = _fail(result, "200 without a Session header (§12.37)")
            if f"client_port={receiver.rtp_port}" not in reply_transport.replace(" ", ""):
                run.report.results[-1] = _fail(
                    run.report.results[-1],
                    f"Transport reply {reply_transport!r} does not echo our client_port",
                )
        if session is None:
            for case in ("play", "teardown"):
                run.add(case, b"", Verdict.SKIP, "not run: SETUP gave no session")
            return setup_url

        data, cseq = run.request("PLAY", url, [("Session", session), ("Range", "npt=0-")])
        outcome = channel.exchange(data)
        result = run.judge("play", data, outcome, cseq, passes={Status.OK})
        if result.verdict is Verdict.PASS:
            if receiver.wait_datagram(run.env.rtp_wait):
                run.report.results[-1] = _note(result, "RTP arrived on client_port")
            else:
                run.report.results[-1] = _downgrade(
                    result,
                    f"no RTP on client_port {receiver.rtp_port} within {run.env.rtp_wait:.1f} s",
                )

        data, cseq = run.request("TEARDOWN", url, [("Session", session)])
        run.judge("teardown", data, channel.exchange(data), cseq, passes={Status.OK})
        return setup_url
    finally:
        channel.close()
        if receiver is not None:
            receiver.close()


def _sdp_problem(reply: Reply) -> str | None:
    content_type = (reply.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "application/sdp":
        return f"Content-Type {content_type or 'missing'}, expected application/sdp"
    if not reply.body.startswith(b"v=0"):
        return "the SDP body does not start with v=0 (RFC 4566 §5)"
    if b"m=video" not in reply.body:
        return "the SDP has no m=video line"
    return None


def _downgrade(result: CaseResult, why: str) -> CaseResult:
    return _replace(result, Verdict.WARN, f"{result.reason}, but {why}")


def _fail(result: CaseResult, why: str) -> CaseResult:
    return _replace(result, Verdict.FAIL, f"{result.reason}, but {why}")


def _note(result: CaseResult, note: str) -> CaseResult:
    return _replace(result, result.verdict, f"{result.reason}; {note}")


def _replace(result: CaseResult, verdict: Verdict, reason: str) -> CaseResult:
    data = asdict(result)
    data.update(verdict=verdict, reason=reason)
    return CaseResult(**data)


# --- the hostile and odd cases, one connection each ----------------------------------------


def _setup_session(run: _Run, channel: Channel, setup_url: str) -> str | None:
    """A SETUP to get a real session for the cases that need one."""
    data, _ = run.request(
        "SETUP", setup_url, [("Transport", "RTP/AVP;unicast;client_port=40998-40999")]
    )
    outcome = channel.exchange(data)
    if outcome.reply is None or outcome.reply.status != Status.OK:
        return None
    return outcome.reply.session_id or None


def _missing_cseq(run: _Run, channel: Channel, setup_url: str) -> None:
    data = raw_request(f"OPTIONS {run.target.url} RTSP/1.0", [("User-Agent", USER_AGENT)])
    run.judge(
        "missing_cseq",
        data,
        channel.exchange(data),
        None,
        passes={Status.BAD_REQUEST},
        closed_passes=True,
        warns={Status.OK: "CSeq is mandatory in every request; a 400 was expected"},
    )


def _wrong_version(run: _Run, channel: Channel, setup_url: str) -> None:
    cseq = run.next_cseq()
    data = raw_request(f"OPTIONS {run.target.url} RTSP/2.0", [("CSeq", str(cseq))])
    outcome = channel.exchange(data)
    reply = outcome.reply
    if reply is not None and reply.version == "RTSP/2.0" and reply.cseq == str(cseq):
        # A server that also speaks RTSP 2.0 (RFC 7826) rightly answers in 2.0.
        run.add(
            "wrong_version",
            data,
            Verdict.PASS,
            f"answered {reply.head}: the server speaks RTSP 2.0 (RFC 7826)",
            outcome,
        )
        return
    run.judge(
        "wrong_version",
        data,
        outcome,
        cseq,
        passes={Status.RTSP_VERSION_NOT_SUPPORTED},
        warns={Status.BAD_REQUEST: "505 RTSP Version not supported names the problem"},
        closed_passes=False,
        no_reply=Verdict.WARN,
    )


def _play_before_setup(run: _Run, channel: Channel, setup_url: str) -> None:
    data, cseq = run.request("PLAY", run.target.url, [("Range", "npt=0-")])
    run.judge(
        "play_before_setup",
        data,
        channel.exchange(data),
        cseq,
        passes={Status.METHOD_NOT_VALID_IN_THIS_STATE, Status.SESSION_NOT_FOUND},
        warns={Status.BAD_REQUEST: "455 or 454 names the problem"},
    )


def _wrong_session(run: _Run, channel: Channel, setup_url: str) -> None:
    session = _setup_session(run, channel, setup_url)
    if session is None:
        run.add("wrong_session", b"", Verdict.SKIP, "not run: SETUP gave no session")
        return
    bogus = "0" + session[::-1] + "X"
    data, cseq = run.request("PLAY", run.target.url, [("Session", bogus), ("Range", "npt=0-")])
    run.judge(
        "wrong_session",
        data,
        channel.exchange(data),
        cseq,
        passes={Status.SESSION_NOT_FOUND},
        warns={Status.BAD_REQUEST: "454 Session Not Found names the problem"},
    )
    teardown, _ = run.request("TEARDOWN", run.target.url, [("Session", session)])
    channel.exchange(teardown)


def _unknown_method(run: _Run, channel: Channel, setup_url: str) -> None:
    data, cseq = run.request("FROBNICATE", run.target.url)
    run.judge(
        "unknown_method",
        data,
        channel.exchange(data),
        cseq,
        passes={Status.NOT_IMPLEMENTED},
        warns={
            Status.BAD_REQUEST: "501 Not Implemented names the problem",
            Status.METHOD_NOT_ALLOWED: "405 is for known methods; 501 was expected",
        },
    )


def _oversized_header(run: _Run, channel: Channel, setup_url: str) -> None:
    data, cseq = run.request(
        "OPTIONS", run.target.url, [("X-Probe-Padding", "A" * OVERSIZED_HEADER_BYTES)]
    )
    run.judge(
        "oversized_header",
        data,
        channel.exchange(data),
        cseq,
        passes={Status.BAD_REQUEST, Status.REQUEST_ENTITY_TOO_LARGE},
        closed_passes=True,
        warns={Status.OK: "a 64 KiB header was accepted: the server sets no header limit"},
    )


def _path_traversal(run: _Run, channel: Channel, setup_url: str) -> None:
    uri = run.target.url_for(TRAVERSAL_PATH)
    data, cseq = run.request("DESCRIBE", uri, [("Accept", "application/sdp")])
    outcome = channel.exchange(data)
    if outcome.reply is not None and b"root:" in outcome.reply.body:
        run.add(
            "path_traversal",
            data,
            Verdict.FAIL,
            "the reply body holds /etc/passwd: the path escaped the media root",
            outcome,
        )
        return
    run.judge(
        "path_traversal",
        data,
        outcome,
        cseq,
        passes={Status.NOT_FOUND, Status.FORBIDDEN, Status.BAD_REQUEST},
        closed_passes=True,
    )


def _bad_transport(run: _Run, channel: Channel, setup_url: str) -> None:
    data, cseq = run.request(
        "SETUP", setup_url, [("Transport", "RTP/XYZ;multicast;client_port=abc-def")]
    )
    run.judge(
        "bad_transport",
        data,
        channel.exchange(data),
        cseq,
        passes={Status.UNSUPPORTED_TRANSPORT},
        warns={Status.BAD_REQUEST: "461 Unsupported transport names the problem"},
    )


def _interleaved(run: _Run, channel: Channel, setup_url: str) -> None:
    data, cseq = run.request(
        "SETUP", setup_url, [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]
    )
    outcome = channel.exchange(data)
    reply = outcome.reply
    if (
        reply is not None
        and reply.status == Status.UNSUPPORTED_TRANSPORT
        and reply.cseq == str(cseq)
    ):
        run.add(
            "interleaved",
            data,
            Verdict.WARN,
            f"answered {reply.head}: RTP over the RTSP connection is not offered",
            outcome,
        )
        return
    result = run.judge("interleaved", data, outcome, cseq, passes={Status.OK})
    if result.verdict is not Verdict.PASS:
        return
    reply = _reply(outcome)
    transport = (reply.get("Transport") or "").replace(" ", "")
    session = reply.session_id or ""
    if "interleaved=" not in transport or not session:
        run.report.results[-1] = _fail(
            result, f"Transport {transport!r} / Session {session!r} do not confirm interleaving"
        )
        return
    play, play_cseq = run.request(
        "PLAY", run.target.url, [("Session", session), ("Range", "npt=0-")]
    )
    played = channel.exchange(play)
    if played.reply is None or played.reply.status != Status.OK:
        got = played.reply.head if played.reply else (played.error or "no reply")
        run.report.results[-1] = _fail(result, f"PLAY then got {got}")
        return
    frames = channel.wait_interleaved(run.env.rtp_wait)
    if frames:
        run.report.results[-1] = _note(result, f"{frames} '$' frame(s) arrived after PLAY")
    else:
        run.report.results[-1] = _downgrade(
            result, f"no '$' frame within {run.env.rtp_wait:.1f} s of PLAY"
        )
    teardown, _ = run.request("TEARDOWN", run.target.url, [("Session", session)])
    channel.exchange(teardown)


def _lab_request_form(run: _Run, channel: Channel, setup_url: str) -> None:
    cseq = run.next_cseq()
    name = run.target.path.rsplit("/", 1)[-1] or "movie.Mjpeg"
    data = raw_request(
        f"SETUP {name} RTSP/1.0",
        [("CSeq", str(cseq)), ("Transport", "RTP/UDP; client_port= 25000")],
        line_end="\n",
    )
    outcome = channel.exchange(data)
    if outcome.reply is None:
        run.judge("lab_request_form", data, outcome, cseq, passes=set(), no_reply=Verdict.WARN)
        return
    # Any status is a fair answer (the URI has no scheme, RTP/UDP is no RTSP transport);
    # what matters is that the LF-terminated request was read and answered.
    run.judge("lab_request_form", data, outcome, cseq, passes={outcome.reply.status})
