"""Per-connection RTSP request handling: Request (+ server state) -> Response + actions, no I/O.

The I/O shell feeds each parsed request to :meth:`RequestHandler.handle` and carries out the
returned actions (``rtsp_server.actions``: start or stop a session's stream, end a session
with an RTCP BYE).

It is longer than 500 lines because every method's checks (state, session, transport, range,
the limits a peer meets, access) answer through one reply builder here; transport negotiation
is the part to move out when it grows again.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from rtsp_common.errors import ParseError
from rtsp_common.headers import (
    MAX_PORT,
    NPTRange,
    RTPInfo,
    Transport,
    format_public,
    format_rtp_info,
    parse_transports,
)
from rtsp_common.headers import Session as SessionHeader
from rtsp_common.rtsp import INTERLEAVED_MAX_CHANNEL, RTSP_VERSION, Request, Response
from rtsp_common.sdp import SessionDescription
from rtsp_common.status import Status
from rtsp_common.uri import RequestURI, parse_request_uri
from rtsp_server.access import AccessControl, Refused
from rtsp_server.actions import Action, EndSession, HandlerResult, StartStreaming, StopStreaming
from rtsp_server.log_limit import PEER_DRIVEN
from rtsp_server.media import (
    LAB_MAX_FRAME,
    TRACK_CONTROL,
    MediaLibrary,
    MediaNotFound,
    MediaRequest,
    MediaTrack,
    MediaUnsupported,
    parse_media_uri,
)
from rtsp_server.options import ServerOptions
from rtsp_server.session import (
    InterleavedChannels,
    InvalidTransition,
    Session,
    SessionLimitReached,
    SessionRegistry,
    SessionState,
    UDPDestination,
)
from rtsp_server.stream import RTPStream

log = logging.getLogger(__name__)
log.addFilter(PEER_DRIVEN)  # what a peer can make us log is bounded

SERVER_NAME = "rtsp-workbench"
PUBLIC_METHODS = ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER")
SDP_CONTENT_TYPE = "application/sdp"  # RFC 2326 §C.1
UDP_PROTOCOLS = ("RTP/AVP", "RTP/AVP/UDP")  # RFC 2326 §12.39: UDP is the default lower transport
TCP_PROTOCOL = "RTP/AVP/TCP"
PLAY_MODE = "PLAY"  # RFC 2326 §12.39: mode=PLAY is the default; RECORD is not offered
MIN_PORT = 1  # UDP port 0 cannot be a destination (RFC 768)

# Methods the Init state cannot take (RFC 2326 Appendix A.2): 455 when sent with no Session.
NOT_VALID_IN_INIT = frozenset({"PLAY", "PAUSE", "RECORD"})


class RequestError(Exception):
    """Ends a request with ``status``; ``message`` goes to the log and, when ``body``, the reply."""

    def __init__(
        self, status: int, message: str, body: bool = False, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.headers = tuple(headers)


@dataclass
class _Reply:
    """The response being built for one request."""

    cseq: int
    uri: RequestURI
    user: str | None = None  # who the request was authorised for, when access is controlled
    lab: bool = False
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    session: Session | None = None
    actions: list[Action] = field(default_factory=list)


def error_response(
    status: int,
    cseq: int | None,
    message: str = "",
    body: bool = False,
    lab_session: str | None = None,
) -> Response:
    """A response for a failed request; the body carries ``message`` when asked (e.g. 415).

    ``lab_session`` puts the Session right after CSeq, where the lab's client reads it.
    """
    headers = [("Session", lab_session)] if lab_session else []
    headers.append(("Server", SERVER_NAME))
    content = b""
    if body and message:
        content = (message + "\n").encode()
        headers.append(("Content-Type", "text/plain; charset=utf-8"))
    if status == Status.NOT_IMPLEMENTED:
        headers.append(("Public", format_public(PUBLIC_METHODS)))
    return Response.make(status, cseq, headers, content)


class RequestHandler:
    """Answers the requests of one RTSP connection against the shared server state."""

    def __init__(
        self,
        options: ServerOptions,
        library: MediaLibrary,
        sessions: SessionRegistry,
        connection_id: int,
        peer_host: str,
        local_host: str,
        local_port: int,
        server_ports: tuple[int, int] = (0, 0),
        interleaved_capable: bool = True,
        access: AccessControl | None = None,
    ) -> None:
        self.options = options
        self.access = access  # None: every request is served, as in the lab
        self.server_ports = server_ports  # our RTP/RTCP pair, named in UDP SETUP replies
        self.library = library
        self.sessions = sessions
        self.connection_id = connection_id
        self.peer_host = peer_host
        self.local_host = local_host
        self.local_port = local_port
        self.interleaved_capable = interleaved_capable
        self._channels_in_use: set[int] = set()

    # entry points -------------------------------------------------------------------------

    def handle(self, request: Request, now: float) -> HandlerResult:
        """Answer one request; never raises for bad input."""
        cseq = request.cseq
        if cseq is None:
            log.info("%s: %s without a valid CSeq", self.peer_host, request.method)
            return HandlerResult(error_response(Status.BAD_REQUEST, None))
        if request.version != RTSP_VERSION:
            return HandlerResult(error_response(Status.RTSP_VERSION_NOT_SUPPORTED, cseq))
        method = (
            getattr(self, "_" + request.method.lower(), None)
            if request.method in PUBLIC_METHODS
            else None
        )
        if method is None:
            return HandlerResult(error_response(Status.NOT_IMPLEMENTED, cseq))
        required = [
            option.strip()
            for name in ("Require", "Proxy-Require")
            for value in request.headers.get_all(name)
            for option in value.split(",")
            if option.strip()
        ]
        if required:
            # RFC 2326 §12.32: no option extensions are supported; name them back.
            response = error_response(Status.OPTION_NOT_SUPPORTED, cseq)
            response.headers.add("Unsupported", ", ".join(required))
            return HandlerResult(response)
        try:
            uri = parse_request_uri(request.uri)
        except ParseError as exc:
            # RFC 2326 §11.3: a Request-URI no server can act on is a bad request, answered
            # before anything is looked up, with the CSeq so the client can match it.
            log.info("%s %s: 400 %s", self.peer_host, request.method, exc)
            return HandlerResult(error_response(Status.BAD_REQUEST, cseq, str(exc), body=True))
        reply = _Reply(cseq=cseq, uri=uri)
        try:
            reply.user = self._authorise(request, now)  # before anything says what exists
            method(request, reply, now)
        except RequestError as exc:
            log.info(
                "%s %s %s: %d %s", self.peer_host, request.method, request.uri, exc.status, exc
            )
            lab_session = reply.session.id if reply.lab and reply.session else None
            response = error_response(exc.status, cseq, str(exc), exc.body, lab_session)
            for name, value in exc.headers:
                response.headers.add(name, value)
            return HandlerResult(response, tuple(reply.actions), session_id=_sid(reply.session))
        except Exception:  # a bug must cost one request, not the connection or the server
            log.exception("%s %s %s failed", self.peer_host, request.method, request.uri)
            return HandlerResult(error_response(Status.INTERNAL_SERVER_ERROR, cseq))
        return HandlerResult(
            self._build(reply), tuple(reply.actions), session_id=_sid(reply.session)
        )

    def handle_parse_error(self, error: ParseError) -> HandlerResult:
        """The answer to bytes the parser refused: their status (400/413), then close.

        The CSeq is echoed when the parser could read it (a MessageError's ``cseq``).
        """
        cseq = getattr(error, "cseq", None)
        return HandlerResult(error_response(error.status, cseq), close=True)

    def owns_sessions(self) -> bool:
        """True while a session was last set up on this connection (it keeps it open)."""
        return bool(self.sessions.owned_by(self.connection_id))

    def connection_closed(self) -> list[Action]:
        """The connection is gone: its TCP interleaved sessions end with it.

        UDP sessions outlive the connection, as RFC 2326 §3 allows (a session is not bound to
        a transport connection), until TEARDOWN or their timeout.
        """
        actions: list[Action] = []
        for session in self.sessions.owned_by(self.connection_id):
            if session.is_interleaved:
                self.sessions.remove(session.id)
                actions.append(EndSession(session, "connection closed", bye=False))
        return actions

    def _authorise(self, request: Request, now: float) -> str | None:
        decision = self.access.check(request, self.peer_host, now) if self.access else None
        if isinstance(decision, Refused):  # 401 with the challenges to answer
            raise RequestError(Status.UNAUTHORIZED, decision.reason, headers=decision.headers)
        return decision.user if decision else None

    # building responses ---------------------------------------------------------------------

    def _build(self, reply: _Reply) -> Response:
        headers: list[tuple[str, str]] = []
        if reply.session is not None:
            if reply.lab:
                # The lab's client reads the Session id from the second line: CSeq, then Session.
                headers.append(("Session", reply.session.id))
            else:
                timeout = int(reply.session.timeout)
                headers.append(("Session", str(SessionHeader(reply.session.id, timeout))))
        if not reply.lab:
            headers.append(("Server", SERVER_NAME))
        headers.extend(reply.headers)
        return Response.make(Status.OK, reply.cseq, headers, reply.body)

    def _base_url(self, uri: RequestURI, name: str) -> str:
        """The aggregate URL of ``name`` as the client addressed us (with scheme and host)."""
        if uri.is_absolute:
            return f"{uri.scheme}://{uri.netloc}/{name}"
        return f"rtsp://{_url_host(self.local_host)}:{self.local_port}/{name}"

    def _media(self, uri: RequestURI) -> MediaRequest:
        try:
            return parse_media_uri(uri)
        except MediaNotFound as exc:
            raise RequestError(Status.NOT_FOUND, str(exc)) from exc

    def _track(self, name: str) -> MediaTrack:
        try:
            return self.library.track(name)
        except MediaNotFound as exc:
            raise RequestError(Status.NOT_FOUND, str(exc)) from exc
        except MediaUnsupported as exc:
            raise RequestError(Status.UNSUPPORTED_MEDIA_TYPE, str(exc), body=True) from exc

    def _session(
        self, request: Request, reply: _Reply, now: float, required: bool = True
    ) -> Session | None:
        """The session the request names (bound to this peer); 454 when unknown."""
        value = request.headers.get("Session")
        if value is None:
            if not required:
                return None
            if request.method in NOT_VALID_IN_INIT:
                # RFC 2326 Appendix A.2: without a session the server is in Init, where
                # only SETUP (and TEARDOWN) are listed; anything else is answered with 455.
                raise RequestError(
                    Status.METHOD_NOT_VALID_IN_THIS_STATE,
                    f"{request.method} is not valid before SETUP",
                )
            raise RequestError(Status.SESSION_NOT_FOUND, "request needs a Session header")
        try:
            session_id = SessionHeader.parse(value).id
        except ParseError as exc:
            raise RequestError(Status.SESSION_NOT_FOUND, str(exc)) from exc
        session = self.sessions.get(session_id)
        if session is None or (session.peer_host, session.user) != (self.peer_host, reply.user):
            # Another address's or user's session is unknown here: ids are not capabilities.
            raise RequestError(Status.SESSION_NOT_FOUND, *self.sessions.not_found(session_id))
        session.touch(now)
        reply.session = session
        reply.lab = session.lab_dialect
        return session

    def _transition(self, session: Session, method: str) -> None:
        try:
            session.apply(method)
        except InvalidTransition as exc:
            raise RequestError(Status.METHOD_NOT_VALID_IN_THIS_STATE, str(exc)) from exc

    # methods ----------------------------------------------------------------------------------

    def _options(self, request: Request, reply: _Reply, now: float) -> None:
        self._session(request, reply, now, required=False)
        reply.headers.append(("Public", format_public(PUBLIC_METHODS)))

    def _get_parameter(self, request: Request, reply: _Reply, now: float) -> None:
        # RFC 2326 §10.8: with no body this is a keep-alive; the session's activity was touched.
        self._session(request, reply, now, required=False)

    def _describe(self, request: Request, reply: _Reply, now: float) -> None:
        media = self._media(reply.uri)
        track = self._track(media.name)
        base = self._base_url(reply.uri, media.name)
        sdp = SessionDescription(
            origin_address=self.local_host,
            session_id=zlib.crc32(media.name.encode()),
            connection_address="0.0.0.0",
            control="*",
            track_control=TRACK_CONTROL,
            framerate=self.options.fps,
            duration=track.duration(self.options.fps),
            width=track.width,
            height=track.height,
        )
        reply.body = sdp.to_text().encode()
        reply.headers += [("Content-Base", base + "/"), ("Content-Type", SDP_CONTENT_TYPE)]

    def _setup(self, request: Request, reply: _Reply, now: float) -> None:
        media = self._media(reply.uri)
        session = self._session(request, reply, now, required=False)
        if session is not None:
            if session.media_path != media.name:
                raise RequestError(
                    Status.METHOD_NOT_VALID_IN_THIS_STATE, "a session carries one media file"
                )
            self._transition(session, "SETUP")
        track = self._track(media.name)
        transport = self._choose_transport(request)
        lab = transport.is_lab_form
        if lab and track.largest_frame[1] > LAB_MAX_FRAME:
            index, size = track.largest_frame
            # Refused once, here, rather than PLAY answered 200 and every big frame skipped.
            raise RequestError(
                Status.UNSUPPORTED_MEDIA_TYPE,
                f"frame {index} of {media.name} is {size} bytes: the lab's client takes each frame "
                f"in one UDP datagram (at most {LAB_MAX_FRAME}); play it with rtsp-client",
                body=True,
            )
        if session is None:
            try:
                session_id = self.sessions.new_id(self.peer_host)
            except SessionLimitReached as exc:
                # RFC 2326 §11.3.11: 453 is also the answer when the sessions run out.
                # The reason in the body tells a refused client whose limit it met.
                raise RequestError(Status.NOT_ENOUGH_BANDWIDTH, str(exc), body=True) from exc
            destination = self._destination(transport)
            stream = RTPStream.create(
                self.options.fps, len(track), self.options.loop, lab_dialect=lab
            )
            session = Session(
                id=session_id,
                peer_host=self.peer_host,
                media_path=media.name,
                track=track,
                stream=stream,
                destination=destination,
                connection_id=self.connection_id,
                timeout=self.options.session_timeout,
                ready_timeout=self.options.ready_timeout,
                last_activity=now,
                lab_dialect=lab,
                user=reply.user,
            )
            self.sessions.add(session)
        else:
            self._release(session)
            session.destination = self._destination(transport)
            # a re-SETUP may come on a new connection: interleaved data follows it there
            session.connection_id = self.connection_id
        reply.session = session
        reply.lab = lab
        reply.headers.append(("Transport", str(self._reply_transport(transport, session))))

    def _choose_transport(self, request: Request) -> Transport:
        value = request.headers.get("Transport")
        if value is None:
            raise RequestError(Status.BAD_REQUEST, "SETUP needs a Transport header")
        try:
            offers = parse_transports(value)
        except ParseError as exc:
            # RFC 2326 §12.39: a transport we cannot read is one we do not support.
            raise RequestError(
                Status.UNSUPPORTED_TRANSPORT, f"unsupported Transport header: {exc}"
            ) from exc
        reasons = []
        for offer in offers:
            reason = self._refusal(offer)
            if reason is None:
                return offer
            reasons.append(reason)
        raise RequestError(Status.UNSUPPORTED_TRANSPORT, "; ".join(reasons), body=True)

    def _refusal(self, offer: Transport) -> str | None:
        """Why ``offer`` cannot be used, or None when it can."""
        protocol = offer.protocol.upper()
        if not offer.unicast:
            return "multicast is not offered"
        if offer.mode is not None and offer.mode.upper() != PLAY_MODE:
            return f"mode {offer.mode} is not offered"
        if offer.destination and offer.destination != self.peer_host:
            # No reflection: media only ever goes to the host that asked for it.
            return f"destination {offer.destination} is not the requesting host"
        if protocol == TCP_PROTOCOL:
            if not self.interleaved_capable:
                return "TCP interleaved is not available on this connection"
            if len(self._channels_in_use) // 2 >= self.options.max_interleaved_sessions:
                # A deliberate, documented refusal rather than running out of channel ids.
                return (
                    f"this connection carries {self.options.max_interleaved_sessions} "
                    "interleaved sessions, the most it may (--max-interleaved-sessions)"
                )
            return None
        if protocol in UDP_PROTOCOLS or offer.is_lab_form:
            if offer.client_port is None:
                return "UDP transport needs client_port"
            if not all(MIN_PORT <= port <= MAX_PORT for port in offer.client_port):
                return f"client_port {offer.client_port} is not a usable port pair"
            return None
        return f"protocol {offer.protocol} is not offered"

    def _destination(self, offer: Transport) -> UDPDestination | InterleavedChannels:
        if offer.is_tcp:
            if offer.interleaved is not None and not ({*offer.interleaved} & self._channels_in_use):
                rtp, rtcp = offer.interleaved
            else:
                channels = range(0, INTERLEAVED_MAX_CHANNEL, 2)
                rtp = next(c for c in channels if not {c, c + 1} & self._channels_in_use)
                rtcp = rtp + 1
            self._channels_in_use |= {rtp, rtcp}
            return InterleavedChannels(rtp, rtcp)
        assert offer.client_port is not None
        return UDPDestination(self.peer_host, offer.client_port[0], offer.client_port[1])

    def _release(self, session: Session) -> None:
        if isinstance(session.destination, InterleavedChannels):
            self._channels_in_use -= {session.destination.rtp, session.destination.rtcp}

    def _reply_transport(self, offer: Transport, session: Session) -> Transport:
        ssrc = None if session.lab_dialect else session.stream.ssrc
        if isinstance(session.destination, InterleavedChannels):
            channels = (session.destination.rtp, session.destination.rtcp)
            return Transport(protocol=offer.protocol, interleaved=channels, ssrc=ssrc)
        return Transport(
            protocol=offer.protocol,
            client_port=offer.client_port,
            server_port=self.server_ports,
            ssrc=ssrc,
        )

    def _play(self, request: Request, reply: _Reply, now: float) -> None:
        session = self._session(request, reply, now)
        assert session is not None
        requested = self._range(request)
        stream = session.stream
        duration = stream.frame_count / stream.fps
        if requested is not None and requested.start is not None and requested.start > duration:
            raise RequestError(
                Status.INVALID_RANGE,
                f"start {requested.start} is beyond the end ({duration:.3f} s)",
            )
        was_playing = session.state is SessionState.PLAYING
        self._transition(session, "PLAY")
        seeking = requested is not None and requested.start is not None
        # RFC 2326 §10.5: PLAY while playing without a Range only confirms the position.
        if not was_playing or seeking or session.ended:
            if was_playing:
                reply.actions.append(StopStreaming(session))
            if seeking:
                assert requested is not None and requested.start is not None
                stream.seek(requested.start)
            elif stream.at_end:
                stream.seek(0.0)  # played to the end: PLAY again starts over
            session.ended, session.played = False, True
            start = session.first_frame_at(now)  # in its phase slot: sessions take turns
            stream.start_run(start)
            reply.actions.append(StartStreaming(session, start))
        if session.lab_dialect:
            return
        aggregate = self._base_url(reply.uri, session.media_path)
        reply.headers.append(("Range", str(NPTRange(stream.position_seconds, duration))))
        info = RTPInfo(f"{aggregate}/{TRACK_CONTROL}", stream.next_seq, stream.next_timestamp)
        reply.headers.append(("RTP-Info", format_rtp_info([info])))

    def _range(self, request: Request) -> NPTRange | None:
        value = request.headers.get("Range")
        if value is None:
            return None
        try:
            return NPTRange.parse(value)
        except ParseError as exc:
            raise RequestError(Status.INVALID_RANGE, str(exc)) from exc

    def _pause(self, request: Request, reply: _Reply, now: float) -> None:
        session = self._session(request, reply, now)
        assert session is not None
        self._transition(session, "PAUSE")
        reply.actions.append(StopStreaming(session))

    def _teardown(self, request: Request, reply: _Reply, now: float) -> None:
        session = self._session(request, reply, now)
        assert session is not None
        self._transition(session, "TEARDOWN")
        self.sessions.remove(session.id)
        self._release(session)
        reply.actions.append(EndSession(session, "teardown", bye=not session.ended))


def _sid(session: Session | None) -> str | None:
    return None if session is None else session.id


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
