"""RTSP sessions rebuilt from a capture, each linked to the RTP and RTCP flows it set up.

The path from raw packets: TCP streams are reassembled per direction and read as RTSP
messages and interleaved frames; replies are paired with requests by CSeq on each
connection; Session ids are followed from SETUP to TEARDOWN; each SETUP's Transport
(client_port, server_port, interleaved) says which UDP flows or channels carry the
session's RTP and RTCP. UDP flows no SETUP names are still found: by the ports given
explicitly, or heuristically (RTP version 2, one SSRC, sequence numbers stepping by one).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from enum import Enum

from analysis.netdecode import Endpoint, FlowKey, Traffic, endpoints, flow_label
from analysis.rtcp_wire import (
    RTCP_APP,
    RTCP_SR,
    RtcpFlow,
    looks_like_rtcp,
    read_compound,
    read_flow,
)
from analysis.rtp_stream import (
    RTP_HEADER_LEN,
    RTP_PT_MASK,
    RTP_VERSION,
    RTP_VERSION_SHIFT,
    SEQ_MODULUS,
    RtpStream,
    analyse,
    split_by_ssrc,
)
from analysis.rtsp_headers import RtpInfoEntry, TransportSpec, parse_rtp_info, parse_transport
from analysis.rtsp_status import is_success_status
from analysis.rtsp_wire import INTERLEAVED_MAGIC, InterleavedFrame, Kind, RtspMessage, read_stream
from analysis.sdp_reader import SdpInfo, parse_sdp
from analysis.tcp import TcpStream, reassemble

log = logging.getLogger(__name__)

HEURISTIC_MIN_PACKETS = 4  # fewer datagrams say too little to call a flow RTP
HEURISTIC_SAMPLE = 20
HEURISTIC_MAX_SEQ_STEP = 10
# A flow is called RTP (or RTCP) when this share of its sampled datagrams look the part.
HEURISTIC_MIN_SHARE = 0.8
# SR..APP (200..204) read as marker + PT in an RTP header: PT 72..76 (RFC 5761 §4).
RTCP_PT_AS_RTP = range(RTCP_SR & RTP_PT_MASK, (RTCP_APP & RTP_PT_MASK) + 1)
RTSP_SNIFF_BYTES = 512  # enough for a first request or status line


class SessionState(Enum):
    """RFC 2326 Appendix A server states."""

    INIT = "Init"
    READY = "Ready"
    PLAYING = "Playing"


ALWAYS_VALID = {"OPTIONS", "DESCRIBE", "GET_PARAMETER", "SET_PARAMETER", "ANNOUNCE", "REDIRECT"}
KNOWN_METHODS = ALWAYS_VALID | {"SETUP", "PLAY", "PAUSE", "TEARDOWN", "RECORD"}
# Methods that change state, and the states they are valid in (Appendix A).
VALID_IN = {
    "SETUP": {SessionState.INIT, SessionState.READY, SessionState.PLAYING},
    "TEARDOWN": {SessionState.INIT, SessionState.READY, SessionState.PLAYING},
    "PLAY": {SessionState.READY, SessionState.PLAYING},
    "PAUSE": {SessionState.READY, SessionState.PLAYING},
    "RECORD": {SessionState.READY},
}
NEXT_STATE = {
    "SETUP": SessionState.READY,
    "PLAY": SessionState.PLAYING,
    "PAUSE": SessionState.READY,
    "TEARDOWN": SessionState.INIT,
}


def is_success(message: RtspMessage | None) -> bool:
    """A response with a 2xx status (RFC 2326 §7.1.1)."""
    return message is not None and is_success_status(message.status)


@dataclass
class Exchange:
    """A request and the response paired with it by CSeq (either may be missing)."""

    request: RtspMessage | None
    response: RtspMessage | None = None
    cseq_problem: str = ""  # why the response's CSeq does not echo the request's
    state_before: SessionState | None = None
    session_id: str | None = None  # the session this exchange acted on, if any
    unknown_session: bool = False  # the request named a Session id no SETUP gave

    @property
    def method(self) -> str:
        """The request's method, or "" for a response to no captured request."""
        return self.request.method if self.request else ""


@dataclass
class RtspConnection:
    """One TCP connection carrying RTSP."""

    client: Endpoint
    server: Endpoint
    requests: list[RtspMessage] = field(default_factory=list)
    responses: list[RtspMessage] = field(default_factory=list)
    invalid: list[RtspMessage] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    interleaved: dict[tuple[bool, int], list[tuple[int, float, bytes]]] = field(
        default_factory=dict
    )  # (from server?, channel) -> frames
    tcp_retransmissions: int = 0
    tcp_out_of_order: int = 0
    tcp_gaps: int = 0

    @property
    def label(self) -> str:
        """client -> server, for evidence texts."""
        return flow_label(self.client, self.server)

    @property
    def messages(self) -> list[RtspMessage]:
        """Requests, responses and unreadable messages, in capture order."""
        return sorted(self.requests + self.responses + self.invalid, key=lambda m: m.pktno)


@dataclass
class Setup:
    """One SETUP exchange and the transport it asked for and got."""

    exchange: Exchange
    uri: str
    requested: TransportSpec | None
    granted: TransportSpec | None


@dataclass
class RtspSession:
    """An RTSP session: its SETUPs, play periods, SDP and media flows."""

    id: str
    connection: RtspConnection
    setups: list[Setup] = field(default_factory=list)
    sdp: SdpInfo | None = None
    state: SessionState = SessionState.READY
    plays: list[tuple[Exchange, list[RtpInfoEntry]]] = field(default_factory=list)
    # (start, stop) times when RTP may flow: PLAY request to PAUSE/TEARDOWN reply.
    playing: list[tuple[float, float | None]] = field(default_factory=list)
    streams: list[RtpStream] = field(default_factory=list)
    rtcp: list[RtcpFlow] = field(default_factory=list)

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

    connections: list[RtspConnection] = field(default_factory=list)
    sessions: list[RtspSession] = field(default_factory=list)
    streams: list[RtpStream] = field(default_factory=list)
    rtcp: list[RtcpFlow] = field(default_factory=list)
    unlinked_rtp: list[RtpStream] = field(default_factory=list)  # RTP no SETUP negotiated
    # Header-only RTP from a client's RTP port to the server (NAT hole punching).
    keepalives: list[RtpStream] = field(default_factory=list)


def build(traffic: Traffic, rtp_ports: list[int] | None = None) -> CaptureSessions:
    """Rebuild connections, sessions and media streams from decoded traffic."""
    result = CaptureSessions()
    for fwd, rev in _tcp_pairs(traffic):
        conn = _read_connection(traffic, fwd, rev)
        if conn is not None:
            result.connections.append(conn)
    for conn in result.connections:
        result.sessions.extend(_walk_sessions(conn, result))
    _link_media(traffic, result, set(rtp_ports or ()))
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


def _looks_like_rtsp(stream: TcpStream) -> bool:
    head = stream.data[:RTSP_SNIFF_BYTES].lstrip(b"\r\n")
    if not head:
        return False
    if head[0] == INTERLEAVED_MAGIC or head.startswith(b"RTSP/"):
        return True
    first_line = head.split(b"\n", 1)[0]
    return b" RTSP/" in first_line


def _read_connection(traffic: Traffic, a: FlowKey, b: FlowKey | None) -> RtspConnection | None:
    streams = [reassemble(a, traffic.tcp[a])]
    if b is not None:
        streams.append(reassemble(b, traffic.tcp[b]))
    if not any(_looks_like_rtsp(s) for s in streams):
        return None
    items = {id(s): read_stream(s) for s in streams}
    # The client is the side that sends requests (or, failing that, the SYN without ACK).
    client_stream = None
    for s in streams:
        if any(isinstance(i, RtspMessage) and i.kind is Kind.REQUEST for i in items[id(s)]):
            client_stream = s
            break
    if client_stream is None:
        client_stream = streams[1] if len(streams) > 1 and not streams[0].syn_seen else streams[0]
        if any(
            isinstance(i, RtspMessage) and i.kind is Kind.RESPONSE for i in items[id(client_stream)]
        ):
            others = [s for s in streams if s is not client_stream]
            if not others:  # only the server's side was captured
                server, client = endpoints(client_stream.key)
                return _fill_connection(RtspConnection(client, server), streams, items, None)
            client_stream = others[0]
    client, server = endpoints(client_stream.key)
    return _fill_connection(RtspConnection(client, server), streams, items, client_stream)


def _fill_connection(
    conn: RtspConnection, streams: list[TcpStream], items: dict, client_stream: TcpStream | None
) -> RtspConnection:
    for s in streams:
        conn.tcp_retransmissions += s.retransmissions
        conn.tcp_out_of_order += s.out_of_order
        conn.tcp_gaps += len(s.gaps)
        from_server = s is not client_stream
        for item in items[id(s)]:
            if isinstance(item, InterleavedFrame):
                conn.interleaved.setdefault((from_server, item.channel), []).append(
                    (item.pktno, item.time, item.payload)
                )
            elif item.kind is Kind.REQUEST:
                conn.requests.append(item)
            elif item.kind is Kind.RESPONSE:
                conn.responses.append(item)
            else:
                conn.invalid.append(item)
    conn.exchanges = _pair(conn.requests, conn.responses)
    return conn


def _pair(requests: list[RtspMessage], responses: list[RtspMessage]) -> list[Exchange]:
    """Pair responses with requests by CSeq; unmatched responses take the oldest pending."""
    exchanges = [Exchange(r) for r in requests]
    pending = list(exchanges)
    for response in responses:
        candidates = [e for e in pending if e.request.pktno <= response.pktno] or pending
        match = next((e for e in candidates if e.request.cseq == response.cseq), None)
        if match is None and candidates:
            match = candidates[0]
            match.cseq_problem = (
                f"response CSeq {response.header('CSeq')!r} does not echo request CSeq "
                f"{match.request.header('CSeq')!r}"
            )
        if match is None:
            exchanges.append(
                Exchange(None, response, cseq_problem="response to no request in the capture")
            )
            continue
        match.response = response
        pending.remove(match)
    exchanges.sort(key=lambda e: e.request.pktno if e.request else e.response.pktno)
    return exchanges


def _walk_sessions(conn: RtspConnection, result: CaptureSessions) -> list[RtspSession]:
    sessions: dict[str, RtspSession] = {}
    sdp: SdpInfo | None = None
    for ex in conn.exchanges:
        req, resp = ex.request, ex.response
        if req is None:
            continue
        method = req.method.upper()
        sid = req.session_id
        session = sessions.get(sid) if sid else None
        if sid and session is None and method in NEXT_STATE and len(sessions) == 1:
            # An id that no SETUP gave: judged by RTSP-SES-1; the state still follows
            # the connection's only session so that later rules see what happened.
            ex.unknown_session = True
            session = next(iter(sessions.values()))
        ex.state_before = session.state if session else SessionState.INIT
        ex.session_id = session.id if session else sid
        if method == "DESCRIBE" and is_success(resp) and resp.body:
            sdp = parse_sdp(resp.body)
        if not is_success(resp):
            continue
        if method == "SETUP":
            reply_sid = resp.session_id
            if not reply_sid:
                continue
            session = sessions.get(reply_sid)
            if session is None:
                session = sessions[reply_sid] = RtspSession(reply_sid, conn, sdp=sdp)
            requested = parse_transport(req.header("Transport") or "")
            granted = parse_transport(resp.header("Transport") or "")
            session.setups.append(
                Setup(
                    ex,
                    req.uri,
                    requested[0] if requested else None,
                    granted[0] if granted else None,
                )
            )
            ex.session_id = reply_sid
            if session.state is SessionState.INIT:
                session.state = SessionState.READY
        elif session is not None and method in NEXT_STATE:
            if method == "PLAY":
                info = parse_rtp_info(resp.header("RTP-Info") or "")
                session.plays.append((ex, info))
                if session.state is not SessionState.PLAYING:
                    session.playing.append((req.time, None))
            elif session.playing and session.playing[-1][1] is None:
                session.playing[-1] = (session.playing[-1][0], resp.time)
            session.state = NEXT_STATE[method]
    return list(sessions.values())


def _link_media(traffic: Traffic, result: CaptureSessions, rtp_ports: set[int]) -> None:
    by_dst: dict[tuple[bytes, int], list[FlowKey]] = {}
    for key in traffic.udp:
        by_dst.setdefault((key[2], key[3]), []).append(key)
    by_src: dict[tuple[bytes, int], list[FlowKey]] = {}
    for key in traffic.udp:
        by_src.setdefault((key[0], key[1]), []).append(key)
    claimed: set[FlowKey] = set()
    for session in result.sessions:
        conn = session.connection
        jpeg_pts = session.jpeg_payload_types
        for setup in session.setups:
            spec = setup.granted or setup.requested
            if spec is None:
                continue
            if spec.interleaved is not None:
                rtp_ch, rtcp_ch = spec.interleaved
                frames = conn.interleaved.get((True, rtp_ch), [])
                for stream in split_by_ssrc(
                    conn.server, conn.client, frames, transport="tcp", channel=rtp_ch
                ):
                    _adopt(result, session, stream, jpeg_pts)
                for from_server in (True, False):
                    frames = conn.interleaved.get((from_server, rtcp_ch), [])
                    if frames:
                        src, dst = (
                            (conn.server, conn.client)
                            if from_server
                            else (conn.client, conn.server)
                        )
                        flow = RtcpFlow(src, dst, channel=rtcp_ch, session_id=session.id)
                        read_flow(flow, frames)
                        session.rtcp.append(flow)
                        result.rtcp.append(flow)
                continue
            # The ports granted, and those asked for when the reply named others: RTP
            # goes where the server sends it, and RTSP-TRN-1 judges the difference.
            pairs = []
            for candidate in (spec, setup.requested):
                if candidate is not None and candidate.client_ports not in (None, *pairs):
                    pairs.append(candidate.client_ports)
            try:
                client_ip = ipaddress.ip_address(spec.destination or conn.client.ip).packed
            except ValueError:
                client_ip = ipaddress.ip_address(conn.client.ip).packed
            for ports in pairs:
                _link_udp(traffic, result, session, client_ip, ports, by_src, by_dst, claimed)
    # UDP flows no SETUP named: by explicit port, else by heuristics.
    for key, datagrams in traffic.udp.items():
        if key in claimed:
            continue
        explicit = key[3] in rtp_ports or key[1] in rtp_ports
        explicit_rtcp = (key[3] - 1) in rtp_ports or (key[1] - 1) in rtp_ports
        src, dst = endpoints(key)
        if explicit_rtcp or (not explicit and _looks_like_rtcp_flow(datagrams)):
            flow = RtcpFlow(src, dst)
            for pktno, t, data in datagrams:
                read_compound(flow, pktno, t, data)
            result.rtcp.append(flow)
            continue
        if explicit or _looks_like_rtp_flow(datagrams):
            for stream in split_by_ssrc(src, dst, datagrams):
                analyse(stream)
                result.streams.append(stream)
                result.unlinked_rtp.append(stream)


def _adopt(
    result: CaptureSessions, session: RtspSession, stream: RtpStream, jpeg_pts: set[int]
) -> None:
    stream.session_id = session.id
    analyse(
        stream,
        jpeg_from_sdp=stream.payload_type in jpeg_pts,
        play_starts=[start for start, _ in session.playing],
    )
    session.streams.append(stream)
    result.streams.append(stream)


def _looks_like_rtcp_flow(datagrams: list[tuple[int, float, bytes]]) -> bool:
    sample = datagrams[:HEURISTIC_SAMPLE]
    return (
        bool(sample)
        and sum(looks_like_rtcp(d[2]) for d in sample) >= len(sample) * HEURISTIC_MIN_SHARE
    )


def _looks_like_rtp_flow(datagrams: list[tuple[int, float, bytes]]) -> bool:
    """Version 2, one SSRC, sequence numbers stepping by small amounts (RFC 3550 A.1's idea)."""
    if len(datagrams) < HEURISTIC_MIN_PACKETS:
        return False
    sample = [d[2] for d in datagrams[:HEURISTIC_SAMPLE] if len(d[2]) >= RTP_HEADER_LEN]
    if len(sample) < HEURISTIC_MIN_PACKETS:
        return False
    good = 0
    ssrc0 = sample[0][8:12]
    prev_seq = None
    for p in sample:
        if (
            p[0] >> RTP_VERSION_SHIFT != RTP_VERSION
            or (p[1] & RTP_PT_MASK) in RTCP_PT_AS_RTP
            or p[8:12] != ssrc0
        ):
            continue
        seq = (p[2] << 8) | p[3]
        if prev_seq is None or 0 < (seq - prev_seq) % SEQ_MODULUS <= HEURISTIC_MAX_SEQ_STEP:
            good += 1
        prev_seq = seq
    return good >= len(sample) * HEURISTIC_MIN_SHARE


def _link_udp(
    traffic: Traffic,
    result: CaptureSessions,
    session: RtspSession,
    client_ip: bytes,
    ports: tuple[int, int],
    by_src: dict,
    by_dst: dict,
    claimed: set[FlowKey],
) -> None:
    """Adopt the UDP flows of one client port pair into a session."""
    jpeg_pts = session.jpeg_payload_types
    for key in by_dst.get((client_ip, ports[0]), []):
        if key in claimed:
            continue
        claimed.add(key)
        src, dst = endpoints(key)
        for stream in split_by_ssrc(src, dst, traffic.udp[key]):
            _adopt(result, session, stream, jpeg_pts)
    for key in by_src.get((client_ip, ports[0]), []):
        # From the client's RTP port toward the server: ffmpeg and others send an
        # empty RTP packet there to open NATs. Kept apart from the media.
        if key in claimed:
            continue
        claimed.add(key)
        src, dst = endpoints(key)
        for stream in split_by_ssrc(src, dst, traffic.udp[key]):
            if (stream.pend == stream.pstart).all():
                stream.session_id = session.id
                analyse(stream)
                result.keepalives.append(stream)
            else:
                _adopt(result, session, stream, jpeg_pts)
    rtcp_keys = by_dst.get((client_ip, ports[1]), []) + by_src.get((client_ip, ports[1]), [])
    for key in rtcp_keys:
        if key in claimed:
            continue
        claimed.add(key)
        src, dst = endpoints(key)
        flow = RtcpFlow(src, dst, session_id=session.id)
        read_flow(flow, traffic.udp[key])
        session.rtcp.append(flow)
        result.rtcp.append(flow)
