"""RTSP rules (RFC 2326): syntax, CSeq, Session, Transport, SDP, state, and RTP timing."""

from __future__ import annotations

import numpy as np

from analysis.rtp_stream import SEQ_HALF, SEQ_MODULUS
from analysis.rtsp_status import Status
from analysis.rules import Context, Finding, Severity, not_applicable, rule, verdict
from analysis.sessions import (
    ALWAYS_VALID,
    KNOWN_METHODS,
    VALID_IN,
    RtspConnection,
    is_success,
)

RFC = "RFC 2326"
STOP_GRACE_S = 0.5  # RTP already in flight when PAUSE/TEARDOWN is answered
PLAY_START_LIMIT_S = 2.0
# §7.1.1: the statuses that rightly refuse a request in the wrong state.
RIGHT_STATE_ERRORS = {
    Status.SESSION_NOT_FOUND,
    Status.METHOD_NOT_VALID_IN_THIS_STATE,
    Status.AGGREGATE_OPERATION_NOT_ALLOWED,
}
# An unknown method: 501 Not Implemented (§11.3.1); 405 and 400 are accepted as refusals too.
NOT_IMPLEMENTED = {Status.NOT_IMPLEMENTED, Status.METHOD_NOT_ALLOWED, Status.BAD_REQUEST}
# RTP-Info's seq names the first packet of the play range; it is sought among the first
# packets to arrive after PLAY, which a reordering network may have shuffled.
RTP_INFO_SEARCH_PACKETS = 50


def _connections(ctx: Context) -> list[RtspConnection]:
    return ctx.capture.connections


def _none(ctx: Context) -> Finding | None:
    return None if _connections(ctx) else not_applicable("no RTSP connection in the capture")


@rule(
    "RTSP-SYN-1",
    RFC,
    "6.1, 7.1, 4.2",
    Severity.ERROR,
    "request and status lines, headers well formed",
)
def syntax(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    return verdict(
        (m.pktno, problem) for c in _connections(ctx) for m in c.messages for problem in m.problems
    )


@rule("RTSP-CRLF-1", RFC, "4, 6, 7", Severity.ERROR, "lines end with CRLF")
def crlf(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    return verdict(
        (m.pktno, f"{m.lf_only_lines} line(s) of {m.start_line[:40]!r} end with LF only")
        for c in _connections(ctx)
        for m in c.messages
        if m.lf_only_lines
    )


@rule("RTSP-CSEQ-1", RFC, "12.17", Severity.ERROR, "CSeq present in every request and response")
def cseq_present(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    return verdict(
        (m.pktno, f"no valid CSeq in {m.start_line[:40]!r}")
        for c in _connections(ctx)
        for m in c.requests + c.responses
        if m.cseq is None
    )


@rule("RTSP-CSEQ-2", RFC, "12.17", Severity.ERROR, "each response echoes its request's CSeq")
def cseq_echoed(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    return verdict(
        ((ex.response or ex.request).pktno, ex.cseq_problem)
        for c in _connections(ctx)
        for ex in c.exchanges
        # A request without a valid CSeq is RTSP-CSEQ-1's offence, not an echo problem.
        if ex.cseq_problem and (ex.request is None or ex.request.cseq is not None)
    )


@rule("RTSP-SES-1", RFC, "12.37", Severity.ERROR, "Session id consistent from SETUP to TEARDOWN")
def session_consistent(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    offences = []
    for c in _connections(ctx):
        for ex in c.exchanges:
            req, resp = ex.request, ex.response
            if req is None or resp is None:
                continue
            asked, got = req.session_id, resp.session_id
            if req.method.upper() == "SETUP" and is_success(resp) and not got:
                offences.append((resp.pktno, "SETUP answered without a Session header"))
            elif asked and got and asked != got:
                offences.append((resp.pktno, f"request had Session {asked!r}, response {got!r}"))
            elif ex.unknown_session and is_success(resp):
                offences.append(
                    (
                        resp.pktno,
                        f"{req.method} with Session {asked!r}, which no SETUP gave, was accepted",
                    )
                )
    return verdict(offences)


@rule("RTSP-TRN-1", RFC, "12.39", Severity.ERROR, "Transport reply consistent with the request")
def transport(ctx: Context) -> Finding:
    setups = [st for s in ctx.capture.sessions for st in s.setups]
    if not setups:
        return not_applicable("no successful SETUP")
    offences = []
    for st in setups:
        pktno = st.exchange.response.pktno
        req, got = st.requested, st.granted
        if got is None:
            offences.append((pktno, "SETUP reply has no Transport header"))
            continue
        problems = list(got.problems)
        if req is not None:
            if req.lower != got.lower:
                problems.append(f"asked {req.lower}, got {got.lower}")
            if req.unicast != got.unicast:
                problems.append("unicast/multicast changed")
            if (
                req.client_ports
                and got.lower == "UDP"
                and got.client_ports not in (None, req.client_ports)
            ):
                problems.append(f"client_port {req.client_ports} answered as {got.client_ports}")
            if req.interleaved is not None and got.interleaved is None:
                problems.append("interleaved channels asked but not given")
        if (
            got.lower == "UDP"
            and got.client_ports is None
            and (req is None or req.client_ports is None)
        ):
            problems.append("UDP transport without client_port")
        offences.extend((pktno, p) for p in problems)
    return verdict(offences, f"{len(setups)} SETUP(s) granted what they asked")


@rule(
    "RTSP-SDP-1", "RFC 2326 / RFC 4566", "C.1 / 5", Severity.ERROR, "DESCRIBE returns a valid SDP"
)
def sdp(ctx: Context) -> Finding:
    described = [
        ex
        for c in _connections(ctx)
        for ex in c.exchanges
        if ex.request is not None
        and ex.request.method.upper() == "DESCRIBE"
        and is_success(ex.response)
    ]
    if not described:
        return not_applicable("no successful DESCRIBE")
    from analysis.sdp_reader import parse_sdp

    offences = []
    for ex in described:
        resp = ex.response
        ctype = (resp.header("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/sdp":
            offences.append((resp.pktno, f"Content-Type {ctype or 'missing'}, not application/sdp"))
        offences.extend((resp.pktno, p) for p in parse_sdp(resp.body).problems)
    return verdict(offences, f"{len(described)} SDP(s) valid")


@rule(
    "RTSP-STATE-1",
    RFC,
    "A.1, 11.3",
    Severity.ERROR,
    "methods valid for the session state, and the right 4xx when not",
)
def state(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    offences = []
    for c in _connections(ctx):
        for ex in c.exchanges:
            req, resp = ex.request, ex.response
            if req is None or resp is None:
                continue
            method = req.method.upper()
            if method not in KNOWN_METHODS:
                if is_success(resp):
                    offences.append((resp.pktno, f"unknown method {req.method} accepted"))
                elif resp.status not in NOT_IMPLEMENTED:
                    offences.append(
                        (
                            resp.pktno,
                            f"unknown method {req.method} answered {resp.status}, expected 501",
                        )
                    )
                continue
            if method in ALWAYS_VALID or ex.state_before is None:
                continue
            if ex.state_before not in VALID_IN.get(method, set()):
                if is_success(resp):
                    offences.append(
                        (resp.pktno, f"{method} accepted in state {ex.state_before.value}")
                    )
                elif 400 <= resp.status < 500 and resp.status not in RIGHT_STATE_ERRORS:
                    offences.append(
                        (
                            resp.pktno,
                            f"{method} in state {ex.state_before.value} answered {resp.status}, "
                            "expected 455 (or 454)",
                        )
                    )
    return verdict(offences)


@rule("RTSP-CLEN-1", RFC, "12.14", Severity.ERROR, "Content-Length matches the body")
def content_length(ctx: Context) -> Finding:
    if na := _none(ctx):
        return na
    return verdict(
        (m.pktno, m.length_mismatch)
        for c in _connections(ctx)
        for m in c.messages
        if m.length_mismatch
    )


@rule("RTSP-PORT-1", RFC, "12.39", Severity.ERROR, "RTP only to the ports SETUP negotiated")
def negotiated_ports(ctx: Context) -> Finding:
    if not ctx.capture.sessions:
        return not_applicable("no RTSP session in the capture")
    offences = [
        (s.first_pktno, f"RTP to a port no SETUP negotiated ({s.label})")
        for s in ctx.capture.unlinked_rtp
        if len(s)
    ]
    for session in ctx.capture.sessions:
        server_ports = {
            st.granted.server_ports[0]
            for st in session.setups
            if st.granted and st.granted.server_ports and st.granted.lower == "UDP"
        }
        for s in session.streams:
            if s.transport == "udp" and server_ports and s.src.port not in server_ports:
                offences.append(
                    (
                        s.first_pktno,
                        f"RTP from port {s.src.port}, server_port was {sorted(server_ports)}",
                    )
                )
    return verdict(offences)


@rule("RTSP-PLAY-1", RFC, "10.5, 10.6, 10.7", Severity.ERROR, "RTP only while playing")
def only_while_playing(ctx: Context) -> Finding:
    sessions = [s for s in ctx.capture.sessions if s.streams]
    if not sessions:
        return not_applicable("no RTSP session with RTP")
    offences = []
    for session in sessions:
        windows = sorted(
            (a, (b + STOP_GRACE_S) if b is not None else float("inf")) for a, b in session.playing
        )
        for s in session.streams:
            inside = np.zeros(len(s), dtype=bool)
            for a, b in windows:
                lo = int(np.searchsorted(s.time, a, side="left"))
                hi = int(np.searchsorted(s.time, b, side="right"))
                inside[lo:hi] = True
            offences.extend(
                (pk, f"RTP while session {session.id} is not playing ({s.label})")
                for pk in s.pktno[~inside].tolist()
            )
    return verdict(offences)


@rule("RTSP-PLAY-2", RFC, "10.5", Severity.WARNING, "RTP starts promptly after PLAY")
def prompt_start(ctx: Context) -> Finding:
    offences = []
    checked = 0
    for session in ctx.capture.sessions:
        for ex, _info in session.plays:
            start = ex.request.time
            if not session.streams:
                continue
            checked += 1
            firsts = [
                float(s.time[i])
                for s in session.streams
                if (i := int(np.searchsorted(s.time, start, side="left"))) < len(s)
            ]
            if not firsts or min(firsts) - start > PLAY_START_LIMIT_S:
                delay = f"after {min(firsts) - start:.2f} s" if firsts else "never"
                offences.append((ex.request.pktno, f"first RTP after PLAY came {delay}"))
    if not checked:
        return not_applicable("no PLAY with RTP in the capture")
    return verdict(offences, f"{checked} PLAY(s) followed by RTP within {PLAY_START_LIMIT_S:g} s")


@rule(
    "RTSP-INFO-1",
    RFC,
    "12.33",
    Severity.ERROR,
    "RTP-Info seq and rtptime match the first packet after PLAY",
)
def rtp_info(ctx: Context) -> Finding:
    offences = []
    checked = 0
    for session in ctx.capture.sessions:
        for ex, entries in session.plays:
            for entry in entries:
                if entry.seq is None and entry.rtptime is None:
                    continue
                start = ex.request.time
                for s in session.streams:
                    at = int(np.searchsorted(s.time, start, side="left"))
                    after = [
                        (int(s.pktno[i]), float(s.time[i]), int(s.seq[i]), int(s.ts[i]))
                        for i in range(at, min(at + RTP_INFO_SEARCH_PACKETS, len(s)))
                    ]
                    if not after:
                        continue
                    if (
                        len(session.streams) > 1
                        and entry.seq is not None
                        and not any(p[2] == entry.seq for p in after)
                    ):
                        continue  # this entry belongs to another stream of the session
                    checked += 1
                    # The first packet in sequence order among the first to arrive.
                    base = after[0][2]
                    first = min(after, key=lambda p: (p[2] - base + SEQ_HALF) % SEQ_MODULUS)
                    if entry.seq is not None and first[2] != entry.seq:
                        offences.append(
                            (first[0], f"RTP-Info seq={entry.seq}, first packet has seq {first[2]}")
                        )
                    elif entry.rtptime is not None and first[3] != entry.rtptime:
                        offences.append(
                            (
                                first[0],
                                f"RTP-Info rtptime={entry.rtptime}, first packet has timestamp {first[3]}",
                            )
                        )
    if not checked:
        return not_applicable("no PLAY reply with RTP-Info seq or rtptime")
    return verdict(offences, f"{checked} RTP-Info entr(ies) match the first packet")
