"""The client's side of one RTSP conversation, sans I/O: requests to bytes, bytes to events.

``ClientConnection`` numbers requests (CSeq) and matches replies to them, refuses what the
session's state does not allow (RFC 2326 Appendix A.1), writes the chosen dialect (RFC 2326 or
the lab's Client.py), and reads what the replies establish (SDP, Session and its timeout,
Transport, RTP-Info, Public) into ``info``. It never touches a socket or a clock: the asyncio
core (``rtsp_client.protocol``) writes its bytes and feeds it what arrives, as our server's
shell does with its ``RequestHandler``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, unquote, urlsplit

from rtsp_client.authentication import Authenticator, UnanswerableChallenge, offered
from rtsp_client.errors import (
    AuthenticationError,
    ClientError,
    ProtocolViolation,
    RTSPError,
    UnsupportedMedia,
)
from rtsp_client.events import (
    Event,
    InterleavedReceived,
    NotRTSP,
    OutgoingRequest,
    ReplyReceived,
    RequestRetried,
    ServerRequestRefused,
)
from rtsp_client.options import ClientOptions, Dialect, LowerTransport
from rtsp_client.receiver import Receiver
from rtsp_client.state import ClientStateMachine
from rtsp_client.stats import VIDEO_CLOCK_RATE
from rtsp_common.errors import ParseError
from rtsp_common.headers import (
    DEFAULT_SESSION_TIMEOUT,
    MAX_PORT,
    Headers,
    Session,
    Transport,
)
from rtsp_common.payload_formats import PayloadFormat, payload_format
from rtsp_common.rtsp import InterleavedFrame, MessageParser, Request, Response
from rtsp_common.sdp import SessionDescription
from rtsp_common.status import Status, is_success
from rtsp_common.uri import parse_request_uri

logger = logging.getLogger(__name__)

DEFAULT_RTSP_PORT = 554  # RFC 2326 §3.2
INTERLEAVED_CHANNELS = (0, 1)  # RFC 2326 §10.12: RTP on the even channel, RTCP on the odd
MAX_REPLY_BODY = 1 << 20  # bytes: an SDP is a few hundred; more is not a reply we can use
USER_AGENT = "rtsp-workbench-client/0.1"
RTSP_VERSION_PREFIX = "RTSP/"  # RFC 2326 §7.1: Status-Line = RTSP-Version SP Status-Code ...
# RFC 2326 §10.8: GET_PARAMETER with no body is the keep-alive; a server that refuses it
# (501 Not Implemented, 405 Method Not Allowed) is kept alive with OPTIONS instead.
KEEPALIVE_METHOD = "GET_PARAMETER"
KEEPALIVE_FALLBACK = "OPTIONS"
KEEPALIVE_REFUSALS = (Status.NOT_IMPLEMENTED, Status.METHOD_NOT_ALLOWED)
# RFC 2326 §12.37: the requests that may carry a session but never need one.
SESSIONLESS = ("OPTIONS", "DESCRIBE", "SETUP")


def _split(url: str) -> SplitResult:
    """urlsplit with the authority read at once, so a bad host or port is one ValueError
    that names the URL (urlsplit's own words alone do not say which argument was wrong)."""
    try:
        parts = urlsplit(url)
        parts.hostname, parts.port  # noqa: B018 - each may raise for a bad authority
    except ValueError as exc:
        raise ValueError(f"not a valid rtsp:// URL {url!r}: {exc}") from None
    return parts


def split_url(url: str) -> tuple[str, int, str]:
    """``rtsp://host[:port]/path`` -> (host, port, path); ValueError for anything else."""
    parts = _split(url)
    if parts.scheme.lower() not in ("rtsp", "rtspu") or not parts.hostname:
        raise ValueError(f"not an rtsp:// URL: {url!r}")
    return parts.hostname, parts.port or DEFAULT_RTSP_PORT, parts.path.lstrip("/")


def url_credentials(url: str) -> tuple[str, str] | None:
    """(user, password) from ``rtsp://user:password@host/...``, percent-decoded (RFC 3986
    §3.2.1), or None when the URL names no user."""
    parts = _split(url)
    if parts.username is None:
        return None
    return unquote(parts.username), unquote(parts.password or "")


@dataclass
class SessionInfo:
    """What the server told us in OPTIONS, DESCRIBE, SETUP and PLAY."""

    sdp: SessionDescription | None = None
    sdp_text: str = ""
    content_base: str | None = None
    session_id: str | None = None
    timeout: int = DEFAULT_SESSION_TIMEOUT
    transport: Transport | None = None
    rtp_info: str | None = None
    public: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Sent:
    """A request awaiting its reply: what a retry with credentials must repeat."""

    method: str
    uri: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    answered: int = 0  # 401s already answered with credentials for this request


class ClientConnection:
    """One client's RTSP conversation with ``host:port`` about ``path``, without I/O.

    ``send_request`` gives the bytes to write; ``receive_data`` takes what was read and
    returns the events it completes (``rtsp_client.events``).
    """

    def __init__(
        self, host: str, port: int, path: str, options: ClientOptions | None = None
    ) -> None:
        if not 1 <= port <= MAX_PORT:
            raise ValueError(f"server port {port} is not a port (1-{MAX_PORT})")
        self.host = host
        self.port = port
        self.path = path
        self.options = options if options is not None else ClientOptions()
        self.rtp_port = self.options.rtp_port  # the bound port, once the media sockets are open
        self.info = SessionInfo()
        self.state = ClientStateMachine()
        self.keepalive_method = KEEPALIVE_METHOD
        self._parser = MessageParser(max_body=MAX_REPLY_BODY)
        self._cseq = 0
        self._outstanding: dict[int, _Sent] = {}  # CSeq -> the requests awaiting a reply
        options = self.options
        self.auth = (
            None if options.user is None else Authenticator(options.user, options.password or "")
        )

    # --- what requests name ----------------------------------------------------------

    @property
    def url(self) -> str:
        """The presentation URL requests name (the lab names the file alone)."""
        if self.options.dialect is Dialect.LAB:
            return self.path
        return f"rtsp://{self.host}:{self.port}/{self.path}"

    def track_url(self) -> str:
        """The URL SETUP names: the SDP's track control, resolved against Content-Base."""
        if self.options.dialect is Dialect.LAB:
            return self.path
        sdp = self.info.sdp
        control = sdp.track_control if sdp is not None else ""
        if control.startswith("rtsp://"):
            return control
        base = self.info.content_base or self.url
        if not control or control == "*":
            return base
        return base.rstrip("/") + "/" + control

    def transport_header(self) -> str:
        """The Transport SETUP offers (RFC 2326 §12.39)."""
        if self.options.transport is LowerTransport.TCP:
            return str(Transport("RTP/AVP/TCP", interleaved=INTERLEAVED_CHANNELS))
        port = self.announced_port
        return str(Transport("RTP/AVP", client_port=(port, port + 1)))

    @property
    def announced_port(self) -> int:
        """The RTP port SETUP names: the bound one, or the port forward's in front of it."""
        return self.options.announce_port or self.rtp_port

    # --- out ----------------------------------------------------------------------------

    def send_request(
        self,
        method: str,
        uri: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> OutgoingRequest:
        """The next request's bytes; StateError when the session's state does not allow it."""
        self.state.check(method)
        return self._send(_Sent(method, uri or self.url, tuple(headers), body))

    def _send(self, sent: _Sent) -> OutgoingRequest:
        self._cseq += 1
        fields = list(sent.headers)
        authorization = (
            self.auth.authorization(sent.method, sent.uri, sent.body) if self.auth else None
        )
        if authorization is not None:
            fields.append(("Authorization", authorization))
        data = self._encode(sent.method, sent.uri, self._cseq, fields, sent.body)
        self._outstanding[self._cseq] = sent
        return OutgoingRequest(self._cseq, sent.method, data)

    def abandon(self, cseq: int) -> None:
        """Stop waiting for the reply to ``cseq`` (it timed out); a late one is ignored."""
        self._outstanding.pop(cseq, None)

    def interleaved_rtcp(self, packet: bytes) -> bytes:
        """``packet`` framed for the RTSP connection on the session's RTCP channel."""
        return InterleavedFrame(self._channels()[1], packet).to_bytes()

    def _encode(
        self, method: str, uri: str, cseq: int, headers: Iterable[tuple[str, str]], body: bytes
    ) -> bytes:
        session = self.info.session_id
        if self.options.dialect is Dialect.LAB:
            # The lab's Client.py: LF lines, the server reads fields by position.
            lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {cseq}"]
            if method == "SETUP":
                lines.append(f"Transport: RTP/UDP; client_port= {self.announced_port}")
            elif session is not None:
                lines.append(f"Session: {session}")
            return ("\n".join(lines) + "\n\n").encode()
        fields = Headers([("CSeq", str(cseq)), ("User-Agent", USER_AGENT)])
        if session is not None and method not in SESSIONLESS:
            fields.add("Session", session)
        for name, value in headers:
            fields.add(name, value)
        return Request(method, uri, fields, body).to_bytes()

    # --- in -----------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Bytes read from the RTSP connection; the events they complete, in order."""
        try:
            items = self._parser.feed(data)
        except ParseError as exc:
            return [NotRTSP(f"server sent something that is not RTSP: {exc}")]
        return self._events(items)

    @property
    def head_unterminated(self) -> bool:
        """True when a reply head waits for the blank line the lab's server never writes.

        The I/O shell then calls ``end_head`` once the server has been quiet for a moment.
        """
        return self.options.dialect is Dialect.LAB and self._parser.buffered > 0

    def end_head(self) -> list[Event]:
        """Take a reply head still waiting for its blank line as complete (the lab's server)."""
        try:
            items = self._parser.flush()
        except ParseError as exc:
            return [NotRTSP(f"server sent something that is not RTSP: {exc}")]
        return self._events(items)

    def connection_lost(self) -> None:
        """The RTSP connection is gone: no reply will come, the session is back in Init."""
        self._outstanding.clear()
        self.state.reset()

    def _channels(self) -> tuple[int, int]:
        transport = self.info.transport
        if transport is not None and transport.interleaved is not None:
            return transport.interleaved
        return INTERLEAVED_CHANNELS

    def _events(self, items: list[Request | Response | InterleavedFrame]) -> list[Event]:
        events: list[Event] = []
        for item in items:
            if isinstance(item, InterleavedFrame):
                rtp_channel, rtcp_channel = self._channels()
                if item.channel in (rtp_channel, rtcp_channel):
                    events.append(InterleavedReceived(item.payload, item.channel == rtcp_channel))
            elif isinstance(item, Request):
                # A server-to-client request (ANNOUNCE, SET_PARAMETER...): we support none.
                logger.info("server sent %s; answering 501", item.method)
                answer = Response.make(Status.NOT_IMPLEMENTED, item.cseq).to_bytes()
                events.append(ServerRequestRefused(item, answer))
            elif not item.version.upper().startswith(RTSP_VERSION_PREFIX):
                events.append(NotRTSP(f"server answered in {item.version}, not RTSP/1.0"))
                return events
            else:
                reply = self._reply(item)
                if reply is not None:
                    events.append(reply)
                if isinstance(reply, NotRTSP):
                    return events
        return events

    def _reply(self, response: Response) -> ReplyReceived | RequestRetried | NotRTSP | None:
        logger.debug("< %d %s", response.status, response.reason)
        cseq = response.cseq
        if cseq is None or cseq not in self._outstanding:
            if cseq is not None and 0 < cseq <= self._cseq:
                # A request we sent and stopped waiting for (it timed out): its late reply.
                logger.info(
                    "late reply %d %s to CSeq %d ignored", response.status, response.reason, cseq
                )
                return None
            # RFC 2326 §12.17: a response carries its request's CSeq. Any other cannot be
            # matched to a request, so no reply on this connection can be trusted after it.
            return NotRTSP(
                f"server sent a reply ({response.status} {response.reason}) with "
                + (
                    f"CSeq {raw!r}"
                    if (raw := response.headers.get("CSeq")) is not None
                    else "no CSeq"
                )
                + ", which answers no request sent (RFC 2326 §12.17)"
            )
        sent = self._outstanding.pop(cseq)
        method = sent.method
        if response.status == Status.UNAUTHORIZED:
            return self._unauthorized(cseq, sent, response)
        if not is_success(response.status):
            if method == KEEPALIVE_METHOD and response.status in KEEPALIVE_REFUSALS:
                logger.info("server lacks %s; keeping alive with %s", method, KEEPALIVE_FALLBACK)
                self.keepalive_method = KEEPALIVE_FALLBACK
            error = RTSPError(method, response.status, response.reason)
            return ReplyReceived(cseq, method, response, error)
        try:
            self._learn(method, response)
        except ProtocolViolation as exc:
            return ReplyReceived(cseq, method, response, exc)
        self.state.advance(method)
        return ReplyReceived(cseq, method, response)

    def _unauthorized(
        self, cseq: int, sent: _Sent, response: Response
    ) -> ReplyReceived | RequestRetried:
        """401: send the request again with credentials, once, and once more when the
        server only found our nonce stale (RFC 7616 §3.3); else an AuthenticationError."""
        challenges = response.headers.get_all("WWW-Authenticate")
        detail = (
            f"the server asks for a user name and password ({offered(challenges)}): give "
            f"them as rtsp://USER:PASSWORD@host/... or with --user and --password"
        )
        if self.auth is not None:
            try:
                stale = self.auth.adopt(challenges)
            except UnanswerableChallenge as exc:
                detail = str(exc)
            else:
                if sent.answered == 0 or (stale and sent.answered == 1):
                    retry = dataclasses.replace(sent, answered=sent.answered + 1)
                    return RequestRetried(cseq, self._send(retry))
                detail = f"user {self.auth.user!r} was refused: wrong user name or password"
        error: ClientError = AuthenticationError(
            sent.method, response.status, response.reason, detail
        )
        return ReplyReceived(cseq, sent.method, response, error)

    def _learn(self, method: str, reply: Response) -> None:
        """Keep what a 2xx reply establishes; ProtocolViolation when it is unusable."""
        info = self.info
        if method == "OPTIONS":
            public = reply.headers.get("Public") or ""
            info.public = [m.strip() for m in public.split(",") if m.strip()]
        elif method == "DESCRIBE":
            text = reply.body.decode("utf-8", "replace")
            try:
                sdp = SessionDescription.parse(text)
            except ParseError as exc:
                raise ProtocolViolation(f"DESCRIBE reply is not usable SDP: {exc}") from exc
            info.sdp, info.sdp_text = sdp, text
            info.content_base = reply.headers.get("Content-Base") or reply.headers.get(
                "Content-Location"
            )
            try:  # the URL SETUP will name must be one a request line can carry
                parse_request_uri(self.track_url())
            except ParseError as exc:
                info.sdp, info.sdp_text, info.content_base = None, "", None
                raise ProtocolViolation(f"DESCRIBE reply names an unusable track: {exc}") from exc
        elif method == "SETUP":
            self._learn_session(reply)
            transport = None
            if reply.headers.get("Transport"):
                try:
                    transport = Transport.parse(reply.headers["Transport"])
                except ParseError as exc:
                    raise ProtocolViolation(f"SETUP reply Transport unreadable: {exc}") from exc
            info.transport = transport
        elif method == "PLAY":
            info.rtp_info = reply.headers.get("RTP-Info")

    def _learn_session(self, reply: Response) -> None:
        value = reply.headers.get("Session")
        if value is None:
            if self.options.dialect is Dialect.STANDARD:
                raise ProtocolViolation("SETUP reply carries no Session header")
            return
        try:
            session = Session.parse(value)
        except ParseError as exc:
            raise ProtocolViolation(f"SETUP reply Session unreadable: {exc}") from exc
        self.info.session_id = session.id
        self.info.timeout = session.timeout or DEFAULT_SESSION_TIMEOUT

    # --- media ----------------------------------------------------------------------------

    def media_format(self) -> PayloadFormat:
        """The payload format of the track the SDP offers (JPEG for the lab, which sends no
        SDP); UnsupportedMedia, naming the formats there are, when none reads it."""
        sdp = self.info.sdp
        if sdp is None or self.options.dialect is Dialect.LAB:
            return payload_format("JPEG")
        try:
            return payload_format(sdp.encoding)
        except ParseError as exc:
            raise UnsupportedMedia(str(exc)) from exc

    def new_receiver(self, server_host: str | None) -> Receiver:
        """A receive path for what SETUP agreed (source, payload type, clock rate, payload
        format and its SDP parameters).

        ``server_host`` is the address RTP must come from over UDP (ignored over TCP).
        UnsupportedMedia when the SDP's format parameters cannot be used.
        """
        clock: int | None = VIDEO_CLOCK_RATE
        payload_type = None
        fmtp: dict[str, str] = {}
        if self.options.dialect is Dialect.LAB:
            # The lab's server stamps packets on no stated clock (its own code uses whole
            # seconds of wall-clock time): no jitter is computed on a guessed rate.
            clock = None
        elif self.info.sdp is not None:
            clock = self.info.sdp.clock_rate or VIDEO_CLOCK_RATE
            payload_type = self.info.sdp.payload_type
            fmtp = self.info.sdp.format_parameters
        transport = self.info.transport
        interleaved = self.options.transport is LowerTransport.TCP
        try:
            return Receiver(
                server_host=None if interleaved else server_host,
                ssrc=transport.ssrc if transport else None,
                payload_type=payload_type,
                clock_rate=clock,
                max_frame_bytes=self.options.max_frame_bytes,
                payload_format=self.media_format(),
                fmtp=fmtp,
            )
        except ParseError as exc:
            raise UnsupportedMedia(f"the SDP's a=fmtp cannot be used: {exc}") from exc
