"""RTSP sessions rebuilt from a capture, each linked to the RTP and RTCP flows it set up.

The path from raw packets: TCP streams are reassembled per direction and read as RTSP
messages and interleaved frames; replies are paired with requests by CSeq on each
connection; Session ids are followed from SETUP to TEARDOWN; each SETUP's Transport
(client_port, server_port, interleaved) says which UDP flows or channels carry the
session's RTP and RTCP (``analysis.sessions.media_linking`` adopts them, and finds the flows no
SETUP names; ``analysis.sessions.build`` runs both halves).

A capture that starts mid-session is read as such: sessions known only by the Session
id of later requests have an unknown state, and their flows are found by RTP validity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeGuard

from analysis.sessions.source_validation import (
    NonMedia,
)
from analysis.streams.rtp import CapturedStream
from analysis.wire.flows import Endpoint, FlowKey, Traffic, endpoints, flow_label
from analysis.wire.rtcp import (
    RTCPFlow,
)
from analysis.wire.rtsp import (
    INTERLEAVED_MAGIC,
    InterleavedFrame,
    Kind,
    RTSPMessage,
    read_stream,
    starts_midway_as_rtsp,
)
from analysis.wire.rtsp_headers import RTPInfoEntry, TransportSpec, parse_rtp_info, parse_transport
from analysis.wire.rtsp_status import is_success_status
from analysis.wire.sdp import SDPInfo, SDPMedia, parse_sdp
from analysis.wire.tcp import TCPStream, reassemble

log = logging.getLogger(__name__)

RTSP_SNIFF_BYTES = 512  # enough for a first request or status line


class ServerState(Enum):
    """RFC 2326 Appendix A server states."""

    INIT = "Init"
    READY = "Ready"
    PLAYING = "Playing"
    RECORDING = "Recording"


ALWAYS_VALID = {"OPTIONS", "DESCRIBE", "GET_PARAMETER", "SET_PARAMETER", "ANNOUNCE", "REDIRECT"}
KNOWN_METHODS = ALWAYS_VALID | {"SETUP", "PLAY", "PAUSE", "TEARDOWN", "RECORD"}
# Methods that change state, and the states they are valid in (Appendix A).
VALID_IN = {
    "SETUP": {ServerState.INIT, ServerState.READY, ServerState.PLAYING, ServerState.RECORDING},
    "TEARDOWN": {
        ServerState.INIT, ServerState.READY, ServerState.PLAYING, ServerState.RECORDING
    },
    "PLAY": {ServerState.READY, ServerState.PLAYING},
    "PAUSE": {ServerState.READY, ServerState.PLAYING, ServerState.RECORDING},
    "RECORD": {ServerState.READY, ServerState.RECORDING},
}  # fmt: skip
NEXT_STATE = {
    "SETUP": ServerState.READY,
    "PLAY": ServerState.PLAYING,
    "RECORD": ServerState.RECORDING,
    "PAUSE": ServerState.READY,
    "TEARDOWN": ServerState.INIT,
}
MEDIA_STATES = (ServerState.PLAYING, ServerState.RECORDING)


def is_success(message: RTSPMessage | None) -> TypeGuard[RTSPMessage]:
    """A response with a 2xx status (RFC 2326 §7.1.1)."""
    return message is not None and is_success_status(message.status)


@dataclass
class CapturedExchange:
    """A request and the response paired with it by CSeq (either may be missing)."""

    request: RTSPMessage | None
    response: RTSPMessage | None = None
    cseq_problem: str = ""  # why the response's CSeq does not echo the request's
    state_before: ServerState | None = None
    session_id: str | None = None  # the session this exchange acted on, if any
    unknown_session: bool = False  # the request named a Session id no SETUP gave

    @property
    def method(self) -> str:
        """The request's method, or "" for a response to no captured request."""
        return self.request.method if self.request else ""

    @property
    def first(self) -> RTSPMessage:
        """The request, or the response when the capture holds no request for it."""
        message = self.request or self.response
        assert message is not None  # an exchange holds at least one of the two
        return message

    def answered(self) -> tuple[RTSPMessage, RTSPMessage]:
        """The request and its response, of an exchange known to hold both (a successful
        SETUP or PLAY)."""
        assert self.request is not None and self.response is not None
        return self.request, self.response


@dataclass
class CapturedConnection:
    """One TCP connection carrying RTSP."""

    client: Endpoint
    server: Endpoint
    requests: list[RTSPMessage] = field(default_factory=list)
    responses: list[RTSPMessage] = field(default_factory=list)
    invalid: list[RTSPMessage] = field(default_factory=list)
    exchanges: list[CapturedExchange] = field(default_factory=list)
    interleaved: dict[tuple[bool, int], list[tuple[int, float, bytes, int]]] = field(
        default_factory=dict
    )  # (from server?, channel) -> frames (packet number, time, payload, declared length)
    tcp_retransmissions: int = 0
    tcp_out_of_order: int = 0
    tcp_gaps: int = 0
    start_captured: bool = True  # the client's SYN is in the capture: nothing came before

    @property
    def label(self) -> str:
        """client -> server, for evidence texts."""
        return flow_label(self.client, self.server)

    @property
    def messages(self) -> list[RTSPMessage]:
        """Requests, responses and unreadable messages, in capture order."""
        return sorted(self.requests + self.responses + self.invalid, key=lambda m: m.pktno)


@dataclass
class Setup:
    """One SETUP exchange and the transport it asked for and got."""

    exchange: CapturedExchange
    uri: str
    requested: TransportSpec | None
    granted: TransportSpec | None
    sdp_media: SDPMedia | None = None  # the SDP media section this SETUP's URI controls


@dataclass
class RTSPSession:
    """An RTSP session: its SETUPs, play periods, SDP and media flows.

    ``setup_captured`` is False for a session the capture knows only by the Session id of
    later requests (it started before the capture): its state is then unknown (None)
    until a request the capture holds sets it. ``records`` is True for a RECORD session,
    whose media flows from the client to the server."""

    id: str
    connection: CapturedConnection
    setups: list[Setup] = field(default_factory=list)
    sdp: SDPInfo | None = None
    state: ServerState | None = ServerState.READY
    setup_captured: bool = True
    records: bool = False
    plays: list[tuple[CapturedExchange, list[RTPInfoEntry]]] = field(default_factory=list)
    # (start, stop) times when RTP may flow: PLAY request to PAUSE/TEARDOWN reply.
    playing: list[tuple[float, float | None]] = field(default_factory=list)
    streams: list[CapturedStream] = field(default_factory=list)
    rtcp: list[RTCPFlow] = field(default_factory=list)

    @property
    def jpeg_payload_types(self) -> set[int]:
        """Payload types the SDP maps to JPEG."""
        if self.sdp is None:
            return set()
        return {
            pt for m in self.sdp.media for pt, (enc, _) in m.rtpmap.items() if enc.upper() == "JPEG"
        }


@dataclass
class CaptureSessions:
    """All that a capture holds above the transport layer."""

    connections: list[CapturedConnection] = field(default_factory=list)
    sessions: list[RTSPSession] = field(default_factory=list)
    streams: list[CapturedStream] = field(default_factory=list)
    rtcp: list[RTCPFlow] = field(default_factory=list)
    unlinked_rtp: list[CapturedStream] = field(default_factory=list)  # RTP no SETUP negotiated
    # Keep-alives and datagrams that fail source validation: listed, never judged.
    non_media: list[NonMedia] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the capture lacks, in words

    def session(self, session_id: str | None) -> RTSPSession | None:
        """The session of that id, if the capture has it."""
        return next((s for s in self.sessions if s.id == session_id), None)


def rtsp_sessions(traffic: Traffic) -> CaptureSessions:
    """The RTSP half of rebuilding: every RTSP connection of the traffic and the sessions
    followed through it; ``analysis.sessions.build`` adds the media half."""
    result = CaptureSessions()
    for fwd, rev in _tcp_pairs(traffic):
        conn = _read_connection(traffic, fwd, rev)
        if conn is not None:
            result.connections.append(conn)
    known: dict[str, RTSPSession] = {}
    for conn in result.connections:
        result.sessions.extend(_walk_sessions(conn, known))
    return result


def _tcp_pairs(traffic: Traffic) -> list[tuple[FlowKey, FlowKey | None]]:
    pairs = []
    done = set()
    for key in traffic.tcp:
        if key in done:
            continue
        rev = (key[2], key[3], key[0], key[1])
        done.add(key)
        done.add(rev)
        pairs.append((key, rev if rev in traffic.tcp else None))
    return pairs


def _looks_like_rtsp(stream: TCPStream) -> bool:
    head = stream.data[:RTSP_SNIFF_BYTES].lstrip(b"\r\n")
    if not head:
        return False
    if head[0] == INTERLEAVED_MAGIC or head.startswith(b"RTSP/"):
        return True
    first_line = head.split(b"\n", 1)[0]
    if b" RTSP/" in first_line:
        return True
    # A connection the capture joined midway starts anywhere in a message or frame.
    return not stream.syn_seen and starts_midway_as_rtsp(stream.data)


def _read_connection(traffic: Traffic, a: FlowKey, b: FlowKey | None) -> CapturedConnection | None:
    streams = [reassemble(a, traffic.tcp[a])]
    if b is not None:
        streams.append(reassemble(b, traffic.tcp[b]))
    if not any(_looks_like_rtsp(s) for s in streams):
        return None
    items = {id(s): read_stream(s) for s in streams}
    # The client is the side that sends requests (or, failing that, the SYN without ACK).
    client_stream = None
    for s in streams:
        if any(isinstance(i, RTSPMessage) and i.kind is Kind.REQUEST for i in items[id(s)]):
            client_stream = s
            break
    if client_stream is None:
        client_stream = streams[1] if len(streams) > 1 and not streams[0].syn_seen else streams[0]
        if any(
            isinstance(i, RTSPMessage) and i.kind is Kind.RESPONSE for i in items[id(client_stream)]
        ):
            others = [s for s in streams if s is not client_stream]
            if not others:  # only the server's side was captured
                server, client = endpoints(client_stream.key)
                return _fill_connection(CapturedConnection(client, server), streams, items, None)
            client_stream = others[0]
    client, server = endpoints(client_stream.key)
    return _fill_connection(CapturedConnection(client, server), streams, items, client_stream)


def _fill_connection(
    conn: CapturedConnection, streams: list[TCPStream], items: dict, client_stream: TCPStream | None
) -> CapturedConnection:
    conn.start_captured = any(s.syn_seen for s in streams)
    for s in streams:
        conn.tcp_retransmissions += s.retransmissions
        conn.tcp_out_of_order += s.out_of_order
        conn.tcp_gaps += len(s.gaps)
        from_server = s is not client_stream
        for item in items[id(s)]:
            if isinstance(item, InterleavedFrame):
                conn.interleaved.setdefault((from_server, item.channel), []).append(
                    (item.pktno, item.time, item.payload, item.wire_length)
                )
            elif item.kind is Kind.REQUEST:
                conn.requests.append(item)
            elif item.kind is Kind.RESPONSE:
                conn.responses.append(item)
            else:
                conn.invalid.append(item)
    client_side = [s for s in streams if s is client_stream]
    conn.exchanges = _pair(
        conn.requests, conn.responses, any(s.gaps for s in client_side) or not client_side
    )
    return conn


def _pair(
    requests: list[RTSPMessage], responses: list[RTSPMessage], requests_cut: bool = False
) -> list[CapturedExchange]:
    """Pair responses with requests by CSeq; unmatched responses take the oldest pending.

    With ``requests_cut`` (the capture lost part of the client's bytes), a response whose
    CSeq no captured request has answers a request the capture lost: it stands alone."""
    exchanges = [CapturedExchange(r) for r in requests]
    pending = list(exchanges)
    cseqs = {r.cseq for r in requests}
    for response in responses:
        if requests_cut and response.cseq is not None and response.cseq not in cseqs:
            exchanges.append(CapturedExchange(None, response))
            continue
        # Pending exchanges all hold a request: ``first`` is that request.
        candidates = [e for e in pending if e.first.pktno <= response.pktno] or pending
        match = next((e for e in candidates if e.first.cseq == response.cseq), None)
        if match is None and candidates:
            match = candidates[0]
            if not (response.incomplete and response.cseq is None):  # else its CSeq was cut
                match.cseq_problem = (
                    f"response CSeq {response.header('CSeq')!r} does not echo request CSeq "
                    f"{match.first.header('CSeq')!r}"
                )
        if match is None:
            exchanges.append(
                CapturedExchange(
                    None, response, cseq_problem="response to no request in the capture"
                )
            )
            continue
        match.response = response
        pending.remove(match)
    exchanges.sort(key=lambda e: e.first.pktno)
    return exchanges


def _walk_sessions(conn: CapturedConnection, known: dict[str, RTSPSession]) -> list[RTSPSession]:
    """Follow each session of a connection through its exchanges (RFC 2326 Appendix A).

    ``known`` holds the sessions of every connection read so far: RTSP lets a session's
    requests come on another connection."""
    sessions: dict[str, RTSPSession] = {}
    sdp: SDPInfo | None = None
    cut_setups: list[CapturedExchange] = []  # accepted SETUPs whose reply lost its Session header
    for ex in conn.exchanges:
        req, resp = ex.request, ex.response
        if req is None:
            continue
        method = req.method.upper()
        sid = req.session_id
        session = (sessions.get(sid) or known.get(sid)) if sid else None
        if sid and session is None and cut_setups:
            # The id the cut SETUP reply gave: the session, with that SETUP's request.
            session = sessions[sid] = known[sid] = RTSPSession(sid, conn, sdp=sdp)
            for setup_ex in cut_setups:
                _add_setup(session, setup_ex)
                setup_ex.session_id = sid
            cut_setups.clear()
        if sid and session is None and method in NEXT_STATE:
            if not conn.start_captured and not sessions:
                # Set up before the capture began: the session exists, its state is unknown.
                session = sessions[sid] = known[sid] = RTSPSession(
                    sid, conn, sdp=sdp, state=None, setup_captured=False
                )
            elif len(sessions) == 1:
                # An id that no SETUP gave: judged by RTSP-SES-1; the state still follows
                # the connection's only session so that later rules see what happened.
                ex.unknown_session = True
                session = next(iter(sessions.values()))
        ex.state_before = session.state if session else ServerState.INIT
        ex.session_id = session.id if session else sid
        if method in ("DESCRIBE", "ANNOUNCE"):
            body = resp.body if method == "DESCRIBE" and resp is not None else req.body
            if body and (method == "ANNOUNCE" or is_success(resp)):
                sdp = parse_sdp(body)
                if session is not None and session.sdp is None:
                    session.sdp = sdp
        if not is_success(resp):
            continue
        if method == "SETUP":
            reply_sid = resp.session_id or sid
            if not reply_sid:
                if resp.incomplete:
                    cut_setups.append(ex)
                continue
            session = sessions.get(reply_sid) or known.get(reply_sid)
            if session is None:
                session = sessions[reply_sid] = known[reply_sid] = RTSPSession(
                    reply_sid, conn, sdp=sdp
                )
            session.sdp = session.sdp or sdp
            _add_setup(session, ex)
            ex.session_id = reply_sid
            if session.state in (ServerState.INIT, None):
                session.state = ServerState.READY
        elif session is not None and method in NEXT_STATE:
            if method in ("PLAY", "RECORD"):
                if method == "PLAY":
                    info = parse_rtp_info(resp.header("RTP-Info") or "")
                    session.plays.append((ex, info))
                else:
                    session.records = True
                if session.state not in MEDIA_STATES:
                    session.playing.append((req.time, None))
            elif session.playing and session.playing[-1][1] is None:
                session.playing[-1] = (session.playing[-1][0], resp.time)
            elif session.state is None and method in ("PAUSE", "TEARDOWN"):
                # Playing since before the capture began, as far as it can tell.
                session.playing.append((float("-inf"), resp.time))
            session.state = NEXT_STATE[method]
    return list(sessions.values())


def _add_setup(session: RTSPSession, ex: CapturedExchange) -> None:
    """Record a successful SETUP exchange on its session."""
    request, reply = ex.answered()
    requested = parse_transport(request.header("Transport") or "")
    granted = parse_transport(reply.header("Transport") or "")
    session.setups.append(
        Setup(ex, request.uri, requested[0] if requested else None, granted[0] if granted else None)
    )
