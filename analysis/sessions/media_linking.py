"""RTP and RTCP flows tied to the RTSP sessions that negotiated them, and those no session
explains: the media half of rebuilding a capture's sessions (``analysis.sessions.rebuild``).

Each SETUP's Transport (client_port, server_port, interleaved) names the flows of its
session. A stream counts as media only after RFC 3550 §A.1 source validation and in the
direction media flows (server to client in a PLAY session, client to server in a RECORD
one); keep-alives and stray datagrams are listed apart (``non_media``). Its clock comes
from its session's SDP, else RFC 3551's static payload types. Flows no SETUP names are
RTP by the ports given, an SDP's m= port, or validity.
"""

from __future__ import annotations

import ipaddress

from analysis.sessions.rebuild import CapturedConnection, CaptureSessions, RTSPSession, Setup
from analysis.sessions.source_validation import (
    NonMedia,
    keepalive_kind,
    looks_like_media,
    passes_probation,
)
from analysis.streams.media_format import media_format
from analysis.streams.rtp import CapturedStream, short_datagrams, split_by_ssrc
from analysis.streams.statistics import analyse
from analysis.wire.flows import Endpoint, FlowKey, Traffic, UDPFlow, endpoints
from analysis.wire.rtcp import RTCPFlow, looks_like_rtcp, read_flow
from analysis.wire.sdp import SDPInfo, SDPMedia

HEURISTIC_SAMPLE = 20
# A flow is called RTCP when this share of its sampled datagrams look the part.
HEURISTIC_MIN_SHARE = 0.8


def _sdp_media_for(sdp: SDPInfo | None, uri: str) -> SDPMedia | None:
    """The media section whose a=control names ``uri`` (RFC 2326 C.1.1: absolute, or
    relative to the session's base URL), or the only one."""
    if sdp is None or not sdp.media:
        return None
    for m in sdp.media:
        control = (m.control or "").strip()
        if control and control != "*" and (uri == control or uri.endswith("/" + control)):
            return m
    return sdp.media[0] if len(sdp.media) == 1 else None


def _sdp_media_by_pt(sdp: SDPInfo | None, payload_type: int) -> SDPMedia | None:
    """The one media section that lists ``payload_type``, when exactly one does."""
    if sdp is None:
        return None
    found = [m for m in sdp.media if payload_type in m.formats or payload_type in m.rtpmap]
    return found[0] if len(found) == 1 else None


def link_media(
    traffic: Traffic,
    result: CaptureSessions,
    rtp_ports: set[int],
    described: dict[int, SDPMedia],
) -> None:
    """Adopt each session's negotiated flows into it, then read every other UDP flow and
    interleaved channel (``described``: SDP media sections by the port they name)."""
    by_dst: dict[tuple[bytes, int], list[FlowKey]] = {}
    by_src: dict[tuple[bytes, int], list[FlowKey]] = {}
    for key in traffic.udp:
        by_dst.setdefault((key[2], key[3]), []).append(key)
        by_src.setdefault((key[0], key[1]), []).append(key)
    claimed: set[FlowKey] = set()
    claimed_channels: set[tuple[int, bool, int]] = set()
    for session in result.sessions:
        conn = session.connection
        for setup in session.setups:
            setup.sdp_media = _sdp_media_for(session.sdp, setup.uri)
            spec = setup.granted or setup.requested
            if spec is None:
                continue
            if spec.interleaved is not None:
                for channel, rtcp in zip(spec.interleaved, (False, True), strict=True):
                    for from_server in (True, False):
                        claimed_channels.add((id(conn), from_server, channel))
                        frames = conn.interleaved.get((from_server, channel), [])
                        if not frames:
                            continue
                        src, dst = (
                            (conn.server, conn.client)
                            if from_server
                            else (conn.client, conn.server)
                        )
                        flow = UDPFlow.from_datagrams(frames)
                        where = {"channel": channel}
                        media = from_server != session.records
                        if rtcp:
                            _take_rtcp(result, session, src, dst, flow, media, **where)
                        else:
                            _take_rtp(
                                result, session, setup, src, dst, flow, media, transport="tcp",
                                **where,
                            )  # fmt: skip
                continue
            # The ports granted, and those asked for when the reply named others: RTP
            # goes where the server sends it, and RTSP-TRN-1 judges the difference.
            pairs: list[tuple[int, int]] = []
            for candidate in (spec, setup.requested):
                ports = candidate.client_ports if candidate is not None else None
                if ports is not None and ports not in pairs:
                    pairs.append(ports)
            try:
                client_ip = ipaddress.ip_address(spec.destination or conn.client.ip).packed
            except ValueError:
                client_ip = ipaddress.ip_address(conn.client.ip).packed
            for ports in pairs:
                for port, rtcp in zip(ports, (False, True), strict=True):
                    for toward_client, index in ((True, by_dst), (False, by_src)):
                        media = toward_client != session.records
                        for key in index.get((client_ip, port), []):
                            if key in claimed:
                                continue
                            claimed.add(key)
                            src, dst = endpoints(key)
                            flow = traffic.udp[key]
                            if rtcp:
                                _take_rtcp(result, session, src, dst, flow, media)
                            else:
                                _take_rtp(result, session, setup, src, dst, flow, media)
    for conn in result.connections:
        _unclaimed_channels(result, conn, claimed_channels)
    for key, datagrams in traffic.udp.items():
        if key not in claimed:
            _unlinked_flow(result, key, datagrams, rtp_ports, described.get(key[3]))


def _take_rtp(
    result: CaptureSessions,
    session: RTSPSession,
    setup: Setup,
    src: Endpoint,
    dst: Endpoint,
    flow: UDPFlow,
    media_direction: bool,
    **where,
) -> None:
    """Adopt the media streams of a negotiated RTP flow; list what is not media.

    ``media_direction``: the flow runs the way media does in this session (to the client
    in a PLAY session, to the server in a RECORD one)."""
    channel = where.get("channel")
    if not media_direction:
        # Toward the server in a PLAY session: NAT keep-alives and probes, never media.
        _list_non_media(result, src, dst, flow, session, channel, toward_server=True)
        return
    streams = split_by_ssrc(src, dst, flow, **where)
    media = [s for s in streams if passes_probation(s)]
    for stream in streams:
        if channel is not None:
            stream.capture_holes = session.connection.tcp_gaps
        if stream in media:
            _adopt(result, session, setup, stream)
        else:
            result.non_media.append(
                NonMedia(
                    src, dst, "packets that fail RTP source validation (RFC 3550 A.1)",
                    stream.pktno.tolist(), channel, session.id,
                )
            )  # fmt: skip
    for pktno, payload in short_datagrams(flow):
        kind = keepalive_kind(payload, toward_server=False)
        if kind is None and media:
            # From the media sender, on the media flow: a length fault of the sender.
            media[0].length_problems.append((pktno, "shorter than the 12-byte RTP header"))
            continue
        result.non_media.append(
            NonMedia(
                src, dst, kind or "datagram shorter than an RTP header", [pktno], channel,
                session.id, keepalive=kind is not None,
            )
        )  # fmt: skip


def _list_non_media(
    result: CaptureSessions,
    src: Endpoint,
    dst: Endpoint,
    flow: UDPFlow,
    session: RTSPSession | None,
    channel: int | None,
    toward_server: bool,
) -> None:
    """Group the datagrams of a flow that carries no media by what they are."""
    groups: dict[str, list[int]] = {}
    for pktno, _t, payload in flow:
        kind = keepalive_kind(payload, toward_server)
        groups.setdefault(kind or "", []).append(pktno)
    for kind, pktnos in groups.items():
        result.non_media.append(
            NonMedia(
                src, dst, kind or "datagrams against the media direction (not media)",
                pktnos, channel, session.id if session else None, keepalive=bool(kind),
            )
        )  # fmt: skip


def _take_rtcp(
    result: CaptureSessions,
    session: RTSPSession,
    src: Endpoint,
    dst: Endpoint,
    flow: UDPFlow,
    media_direction: bool,
    channel: int | None = None,
) -> None:
    """Read a negotiated RTCP flow. The media sender's reports are judged whole; from the
    receiver, datagrams that are not RTCP at all (keep-alives, NAT probes) are listed apart."""
    datagrams = list(flow)
    if not media_direction:
        kept = []
        others = []
        for item in datagrams:
            if looks_like_rtcp(item[2]):
                kept.append(item)
            else:
                others.append(item)
        if others:
            _list_non_media(
                result, src, dst, UDPFlow.from_datagrams(others), session, channel, True
            )
        datagrams = kept
    if not datagrams:
        return
    rtcp = RTCPFlow(src, dst, channel=channel, session_id=session.id)
    read_flow(rtcp, datagrams)
    session.rtcp.append(rtcp)
    result.rtcp.append(rtcp)


def _unclaimed_channels(
    result: CaptureSessions, conn: CapturedConnection, claimed: set[tuple[int, bool, int]]
) -> None:
    """Interleaved channels no SETUP in the capture named (it began mid-session): RTP or
    RTCP by validity, attributed to the connection's session when it has only one."""
    owners = {ex.session_id for ex in conn.exchanges if ex.session_id}
    owner = owners.pop() if len(owners) == 1 else None
    for (from_server, channel), frames in conn.interleaved.items():
        if (id(conn), from_server, channel) in claimed:
            continue
        src, dst = (conn.server, conn.client) if from_server else (conn.client, conn.server)
        flow = UDPFlow.from_datagrams(frames)
        if _looks_like_rtcp_flow(flow):
            rtcp = RTCPFlow(src, dst, channel=channel, session_id=owner)
            read_flow(rtcp, flow)
            result.rtcp.append(rtcp)
            continue
        for stream in split_by_ssrc(src, dst, flow, transport="tcp", channel=channel):
            stream.capture_holes = conn.tcp_gaps
            if looks_like_media(stream):
                stream.session_id = owner
                analyse(stream)
                result.streams.append(stream)
                result.unlinked_rtp.append(stream)


def _unlinked_flow(
    result: CaptureSessions,
    key: FlowKey,
    flow: UDPFlow,
    rtp_ports: set[int],
    sdp_media: SDPMedia | None,
) -> None:
    """A UDP flow no SETUP named: RTP or RTCP by the ports given (or an SDP's m= port),
    else by validity."""
    explicit = key[3] in rtp_ports or key[1] in rtp_ports or sdp_media is not None
    explicit_rtcp = (key[3] - 1) in rtp_ports or (key[1] - 1) in rtp_ports
    src, dst = endpoints(key)
    if explicit_rtcp or (not explicit and _looks_like_rtcp_flow(flow)):
        rtcp = RTCPFlow(src, dst)
        read_flow(rtcp, flow)
        result.rtcp.append(rtcp)
        return
    streams = split_by_ssrc(src, dst, flow)
    media = [s for s in streams if (passes_probation(s) if explicit else looks_like_media(s))]
    for stream in media:
        analyse(stream, media_format(stream.payload_type, sdp_media))
        result.streams.append(stream)
        result.unlinked_rtp.append(stream)
    if not (explicit or media):
        return  # some other protocol's traffic: not this checker's business
    for stream in streams:
        if stream not in media:
            result.non_media.append(
                NonMedia(
                    src, dst, "packets that fail RTP source validation (RFC 3550 A.1)",
                    stream.pktno.tolist(),
                )
            )  # fmt: skip
    for pktno, payload in short_datagrams(flow):
        kind = keepalive_kind(payload, toward_server=False)
        result.non_media.append(
            NonMedia(
                src, dst, kind or "datagram shorter than an RTP header", [pktno],
                keepalive=kind is not None,
            )
        )  # fmt: skip


def _adopt(
    result: CaptureSessions, session: RTSPSession, setup: Setup, stream: CapturedStream
) -> None:
    stream.session_id = session.id
    stream.control = setup.uri
    pt = stream.payload_type
    sdp_media = setup.sdp_media
    if sdp_media is None or (pt not in sdp_media.formats and pt not in sdp_media.rtpmap):
        sdp_media = _sdp_media_by_pt(session.sdp, pt) or sdp_media
    resumed = {e.seq for _, entries in session.plays for e in entries if e.seq is not None}
    analyse(
        stream,
        media_format(pt, sdp_media),
        play_starts=[start for start, _ in session.playing],
        resumed_seqs=resumed,
    )
    session.streams.append(stream)
    result.streams.append(stream)


def _looks_like_rtcp_flow(datagrams) -> bool:
    sample = datagrams[:HEURISTIC_SAMPLE]
    return (
        bool(sample)
        and sum(looks_like_rtcp(d[2]) for d in sample) >= len(sample) * HEURISTIC_MIN_SHARE
    )
