"""RTSP rules (RFC 2326): syntax, CSeq, Session, Transport, SDP, state, and RTP timing."""

from __future__ import annotations

import numpy as np

from analysis.rules.registry import (
    Context,
    Finding,
    Severity,
    not_applicable,
    rule,
    verdict,
    verdict_if_judged,
)
from analysis.sessions.rebuild import (
    ALWAYS_VALID,
    KNOWN_METHODS,
    VALID_IN,
    CapturedConnection,
    is_success,
)
from analysis.streams.rtp import SEQ_HALF, SEQ_MODULUS, TS_HALF, TS_MODULUS
from analysis.wire.rtsp_status import Status

RFC = "RFC 2326"
STOP_GRACE_S = 0.5  # RTP already in flight when PAUSE/TEARDOWN is answered
PLAY_START_LIMIT_S = 2.0
# §7.1.1: the statuses that rightly refuse a request in the wrong state; and 401, which
# refuses a request without valid credentials before its state is looked at (§D.1).
RIGHT_STATE_ERRORS = {
    Status.SESSION_NOT_FOUND,
    Status.METHOD_NOT_VALID_IN_THIS_STATE,
    Status.AGGREGATE_OPERATION_NOT_ALLOWED,
    Status.UNAUTHORIZED,
}
# An unknown method: 501 Not Implemented (§11.3.1); 405 and 400 are accepted as refusals too.
NOT_IMPLEMENTED = {Status.NOT_IMPLEMENTED, Status.METHOD_NOT_ALLOWED, Status.BAD_REQUEST}
# RTP-Info's seq names the first packet of the play range; it is sought among the first
# packets to arrive after PLAY, which a reordering network may have shuffled.
RTP_INFO_SEARCH_PACKETS = 50
# How far the first packet's timestamp may lie from rtptime: packets sent before the reply
# (a live source's pre-roll, a key frame before the Range start) or after it (a live clock
# running on) differ by this much without the mapping being wrong.
RTPTIME_SLACK_S = 2.0


def _connections(ctx: Context) -> list[CapturedConnection]:
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
    """Start lines and header lines are well formed. Messages the snap length cut are not
    judged. Not applicable without an RTSP connection."""
    if na := _none(ctx):
        return na
    return verdict(
        (m.pktno, problem)
        for c in _connections(ctx)
        for m in c.messages
        if not m.incomplete
        for problem in m.problems
    )


@rule("RTSP-CRLF-1", RFC, "4, 6, 7", Severity.ERROR, "lines end with CRLF")
def crlf(ctx: Context) -> Finding:
    """Lines end with CRLF. Messages the snap length cut are judged on their captured
    lines only. Not applicable without an RTSP connection."""
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
    """Every request and response carries a numeric CSeq. Messages the snap length cut are
    not judged. Not applicable without an RTSP connection."""
    if na := _none(ctx):
        return na
    return verdict(
        (m.pktno, f"no valid CSeq in {m.start_line[:40]!r}")
        for c in _connections(ctx)
        for m in c.requests + c.responses
        if m.cseq is None and not m.incomplete
    )


@rule("RTSP-CSEQ-2", RFC, "12.17", Severity.ERROR, "each response echoes its request's CSeq")
def cseq_echoed(ctx: Context) -> Finding:
    """Each response echoes its request's CSeq. A response to a request before the capture
    began is not judged. Not applicable without an RTSP connection."""
    if na := _none(ctx):
        return na
    return verdict(
        ((ex.response or ex.first).pktno, ex.cseq_problem)
        for c in _connections(ctx)
        for ex in c.exchanges
        # A request without a valid CSeq is RTSP-CSEQ-1's offence, not an echo problem.
        if ex.cseq_problem and (ex.request is None or ex.request.cseq is not None)
    )


@rule("RTSP-SES-1", RFC, "12.37", Severity.ERROR, "Session id consistent from SETUP to TEARDOWN")
def session_consistent(ctx: Context) -> Finding:
    """A SETUP reply names a Session; later requests and replies keep it; a request with an
    id no SETUP gave is not accepted (judged only where the capture saw the connection
    begin). Not applicable without an RTSP connection."""
    if na := _none(ctx):
        return na
    offences = []
    for c in _connections(ctx):
        for ex in c.exchanges:
            req, resp = ex.request, ex.response
            if req is None or resp is None:
                continue
            asked, got = req.session_id, resp.session_id
            if (
                req.method.upper() == "SETUP"
                and is_success(resp)
                and not got
                and not resp.incomplete
            ):
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
    """The SETUP reply's Transport grants what was asked (lower transport, cast, client
    ports, interleaved channels). Not applicable without a successful SETUP."""
    setups = [st for s in ctx.capture.sessions for st in s.setups]
    if not setups:
        return not_applicable("no successful SETUP")
    offences = []
    for st in setups:
        _request, reply = st.exchange.answered()
        pktno = reply.pktno
        req, got = st.requested, st.granted
        if got is None:
            if not reply.incomplete:
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
    """A successful DESCRIBE returns application/sdp that parses (RFC 4566). Not
    applicable without a successful DESCRIBE."""
    described = [
        ex.response
        for c in _connections(ctx)
        for ex in c.exchanges
        if ex.request is not None
        and ex.request.method.upper() == "DESCRIBE"
        and is_success(ex.response)
    ]
    if not described:
        return not_applicable("no successful DESCRIBE")
    replies = [reply for reply in described if not reply.incomplete]
    if not replies:
        return not_applicable("every DESCRIBE reply is cut short in the capture (snap length)")
    from analysis.wire.sdp import parse_sdp

    offences = []
    for resp in replies:
        ctype = (resp.header("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/sdp":
            offences.append((resp.pktno, f"Content-Type {ctype or 'missing'}, not application/sdp"))
        offences.extend((resp.pktno, p) for p in parse_sdp(resp.body).problems)
    return verdict(offences, f"{len(replies)} SDP(s) valid")


@rule(
    "RTSP-STATE-1",
    RFC,
    "A.1, 11.3",
    Severity.ERROR,
    "methods valid for the session state, and the right 4xx when not",
)
def state(ctx: Context) -> Finding:
    """Methods are accepted only in the states Appendix A allows, refused with 455 (or
    454/459) otherwise; unknown methods get 501. A session set up before the capture
    began has an unknown state until a captured request sets it, and is not judged
    until then. Not applicable without an RTSP connection."""
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
    """Content-Length equals the body that follows. Messages the snap length cut are not
    judged. Not applicable without an RTSP connection."""
    if na := _none(ctx):
        return na
    return verdict(
        (m.pktno, m.length_mismatch)
        for c in _connections(ctx)
        for m in c.messages
        if m.length_mismatch and not m.incomplete
    )


@rule("RTSP-PORT-1", RFC, "12.39", Severity.ERROR, "RTP only to the ports SETUP negotiated")
def negotiated_ports(ctx: Context) -> Finding:
    """A session's RTP runs between the server_port and the client_port its SETUP
    negotiated (from the server in a PLAY session, to it in a RECORD one). An RTP flow that no SETUP names is blamed only when the capture ties it to
    a session whose SETUP it holds (the same SSRC, or the server's negotiated source
    port); a flow whose SETUP happened before the capture began is no one's fault. Not
    applicable without a session whose SETUP the capture holds."""
    sessions = [s for s in ctx.capture.sessions if s.setup_captured and s.setups]
    if not sessions:
        return not_applicable("no RTSP session whose SETUP is in the capture")
    owner_of_ssrc = {st.ssrc: session for session in sessions for st in session.streams}
    server_sources = {}
    for session in sessions:
        for st in session.setups:
            if st.granted and st.granted.server_ports and st.granted.lower == "UDP":
                server_sources[(session.connection.server.ip, st.granted.server_ports[0])] = session
    offences = []
    for s in ctx.capture.unlinked_rtp:
        if s.transport != "udp" or not len(s):
            continue
        owner = owner_of_ssrc.get(s.ssrc) or server_sources.get((s.src.ip, s.src.port))
        if owner is not None:
            s.session_id = s.session_id or owner.id
            offences.append(
                (
                    s.first_pktno,
                    f"RTP of session {owner.id} to a port no SETUP negotiated ({s.label})",
                )
            )
    for session in sessions:
        server_ports = {
            st.granted.server_ports[0]
            for st in session.setups
            if st.granted and st.granted.server_ports and st.granted.lower == "UDP"
        }
        for s in session.streams:
            # The server's end of the flow: the source in a PLAY session, the destination
            # in a RECORD one (media then flows from the client).
            port = s.dst.port if session.records else s.src.port
            if s.transport == "udp" and server_ports and port not in server_ports:
                way = "to" if session.records else "from"
                offences.append(
                    (
                        s.first_pktno,
                        f"RTP {way} port {port}, server_port was {sorted(server_ports)}",
                    )
                )
    return verdict(offences)


@rule("RTSP-PLAY-1", RFC, "10.5, 10.6, 10.7", Severity.ERROR, "RTP only while playing")
def only_while_playing(ctx: Context) -> Finding:
    """A session's RTP flows only between PLAY and the PAUSE or TEARDOWN reply (with a
    grace for packets in flight). Not applicable without a session with RTP."""
    sessions = [s for s in ctx.capture.sessions if s.streams]
    if not sessions:
        return not_applicable("no RTSP session with RTP")
    offences: list[tuple[int, str]] = []
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
    """RTP begins within PLAY_START_LIMIT_S of each PLAY. Not applicable without a PLAY
    followed by RTP of its session."""
    offences = []
    checked = 0
    for session in ctx.capture.sessions:
        for ex, _info in session.plays:
            request, _reply = ex.answered()
            start = request.time
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
                offences.append((request.pktno, f"first RTP after PLAY came {delay}"))
    return verdict_if_judged(
        checked,
        offences,
        f"{checked} PLAY(s) followed by RTP within {PLAY_START_LIMIT_S:g} s",
        "no PLAY with RTP in the capture",
    )


def _stream_of_entry(session, entry, start: float):
    """The stream an RTP-Info entry describes: by its url against the SETUP URIs, else
    the session's only stream, else the stream whose packets after PLAY hold its seq."""
    url = entry.url.strip()
    if url:
        for s in session.streams:
            control = s.control or ""
            if control and (url == control or control.endswith(url) or url.endswith(control)):
                return s
    if len(session.streams) == 1:
        return session.streams[0]
    for s in session.streams:
        at = int(np.searchsorted(s.time, start, side="left"))
        if entry.seq is not None and entry.seq in s.seq[at : at + RTP_INFO_SEARCH_PACKETS]:
            return s
    return None


def _segment_end(session, start: float) -> float:
    later = [t for t, _ in session.playing if t > start]
    return min(later, default=float("inf"))


@rule(
    "RTSP-INFO-1",
    RFC,
    "12.33",
    Severity.ERROR,
    "RTP-Info seq is the first packet of the play range, rtptime consistent with it",
)
def rtp_info(ctx: Context) -> Finding:
    """RFC 2326 §12.33: ``seq`` is the sequence number of the stream's first packet in the
    play range; ``rtptime`` is the timestamp that corresponds to the Range start. So the
    packet with ``seq`` must arrive after PLAY with no later-arriving packet of the range
    before it, and its timestamp must lie within RTPTIME_SLACK_S of ``rtptime`` on the
    stream's clock (packets sent before the reply, or a live clock running on, differ by
    that much; the first packet's timestamp need not equal ``rtptime``). The rtptime half
    is not applicable when the clock rate is unknown; a first packet the capture lost is
    not judged. Not applicable without a PLAY reply with RTP-Info seq or rtptime."""
    offences = []
    checked = 0
    for session in ctx.capture.sessions:
        for ex, entries in session.plays:
            request, reply = ex.answered()
            start, replied = request.time, reply.time
            end = _segment_end(session, start)
            for entry in entries:
                if entry.seq is None and entry.rtptime is None:
                    continue
                s = _stream_of_entry(session, entry, start)
                if s is None:
                    continue
                lo = int(np.searchsorted(s.time, start, side="left"))
                hi = min(
                    int(np.searchsorted(s.time, end, side="left")), lo + RTP_INFO_SEARCH_PACKETS
                )
                if hi <= lo:
                    continue
                checked += 1
                seqs = s.seq[lo:hi].tolist()
                times = s.time[lo:hi].tolist()
                base = entry.seq if entry.seq is not None else min(seqs)
                rel = [(q - base + SEQ_HALF) % SEQ_MODULUS - SEQ_HALF for q in seqs]
                if entry.seq is not None:
                    if entry.seq not in seqs:
                        if min(rel) < 0 < max(rel):
                            continue  # announced packet lost in the capture: RTP-SEQ-1's
                        first = lo + int(np.argmin(rel))
                        offences.append(
                            (
                                int(s.pktno[first]),
                                f"RTP-Info seq={entry.seq}, but no such packet after PLAY; "
                                f"the first has seq {int(s.seq[first])} ({s.label})",
                            )
                        )
                        continue
                    earlier = [
                        i for i, (r, t) in enumerate(zip(rel, times, strict=True))
                        if r < 0 and t >= replied
                    ]  # fmt: skip
                    if earlier:
                        i = lo + earlier[0]
                        offences.append(
                            (
                                int(s.pktno[i]),
                                f"RTP-Info seq={entry.seq}, but seq {int(s.seq[i])} of the "
                                f"play range came before it ({s.label})",
                            )
                        )
                        continue
                if entry.rtptime is None or not s.clock_rate:
                    continue
                at = lo + (seqs.index(entry.seq) if entry.seq is not None else int(np.argmin(rel)))
                ts = int(s.ts[at])
                offset = ((ts - entry.rtptime + TS_HALF) % TS_MODULUS - TS_HALF) / s.clock_rate
                late = max(float(s.time[at]) - replied, 0.0)
                if not -RTPTIME_SLACK_S <= offset <= RTPTIME_SLACK_S + late:
                    offences.append(
                        (
                            int(s.pktno[at]),
                            f"RTP-Info rtptime={entry.rtptime}, the first packet's timestamp "
                            f"{ts} is {offset:+.3f} s from it at {s.clock_rate} Hz ({s.label})",
                        )
                    )
    return verdict_if_judged(
        checked,
        offences,
        f"{checked} RTP-Info entr(ies) agree with the packets after PLAY",
        "no PLAY reply with RTP-Info seq or rtptime followed by RTP",
    )
