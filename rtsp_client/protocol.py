"""The client's asyncio core: one RTSP connection, its media sockets and its timers.

RTSP runs over TCP through ``rtsp_common.rtsp.MessageParser``; media arrives over a UDP
even/odd port pair or interleaved on the RTSP connection (RTP/AVP/TCP). Received packets
go to the sans-I/O ``Receiver``; complete frames go to the listeners. While a session
exists the core sends RTCP receiver reports with an SDES CNAME about every 5 s and keeps
the session alive at half the server's timeout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from rtsp_client.errors import (
    ConnectionLost,
    ProtocolViolation,
    RTSPError,
    RTSPTimeout,
)
from rtsp_client.mmsg import SO_TIMESTAMPNS, BatchReader
from rtsp_client.mmsg import TIMESPEC as _TIMESPEC
from rtsp_client.receiver import DEFAULT_MAX_FRAME_BYTES, Frame, Receiver
from rtsp_client.session import ClientState, SessionState
from rtsp_client.stats import VIDEO_CLOCK_RATE, ReceptionStats
from rtsp_common.errors import ParseError
from rtsp_common.headers import Headers, NPTRange, Session, Transport
from rtsp_common.rtcp import ReceiverReport, SourceDescription, build_compound
from rtsp_common.rtsp import InterleavedFrame, MessageParser, Request, Response
from rtsp_common.sdp import SessionDescription
from rtsp_common.status import Status

logger = logging.getLogger(__name__)

MAX_PORT = 65535  # TCP and UDP ports are 16 bits (RFC 793, RFC 768)
DEFAULT_RTSP_PORT = 554  # RFC 2326 §3.2
DEFAULT_SESSION_TIMEOUT = 60  # RFC 2326 §12.37: seconds when the Session header names none
RTCP_INTERVAL = 5.0  # RFC 3550 §6.2: the minimum report interval, in seconds
RTCP_RANDOM_SPREAD = 0.5  # RFC 3550 §6.3.1: interval drawn from [0.5, 1.5] x the nominal
INTERLEAVED_CHANNELS = (0, 1)  # RFC 2326 §10.12: RTP on the even channel, RTCP on the odd
LAB_UNTERMINATED_WAIT = 0.15  # seconds a reply head may sit without its blank line (lab server)
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024  # room for bursts of a frame's packets
PORT_PAIR_ATTEMPTS = 64
MAX_DATAGRAM = 65536  # the largest UDP payload, so no datagram is ever truncated
RTP_DRAIN_LIMIT = 64  # datagrams read per wake-up before yielding to the loop
RTP_BATCH_DRAIN_LIMIT = 4096  # the same when woken by the batch timer (a batch is bigger)
RTP_DATAGRAMS_PER_CALL = 16  # recvmmsg batch: a frame's packets at 640x480 (16 x 64 KiB)
# A batch should fill at most this share of the socket's receive buffer, or a burst could
# overflow it; each datagram is counted with an allowance for the kernel's bookkeeping.
BATCH_BUFFER_SHARE = 0.25
DATAGRAM_OVERHEAD = 768  # bytes: roughly what an sk_buff adds to a datagram's size
MIN_BATCH_INTERVAL = 0.005  # seconds: the shortest the batch timer adapts down to
FIRST_BATCH_INTERVAL = 0.05  # seconds: batches start short and grow while they stay small
# SO_TIMESTAMPNS (rtsp_client.mmsg) makes recvmsg carry the kernel's receive time, so
# arrival times stay exact however late we read.
_ANCILLARY_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)
USER_AGENT = "rtsp-workbench-client/0.1"
RTSP_VERSION_PREFIX = "RTSP/"  # RFC 2326 §7.1: Status-Line = RTSP-Version SP Status-Code ...


class Dialect:
    """How requests are written: standard RFC 2326, or the lab's Client.py wire form."""

    STANDARD = "standard"
    LAB = "lab"


@dataclass
class SessionInfo:
    """What the server told us in DESCRIBE and SETUP."""

    sdp: SessionDescription | None = None
    sdp_text: str = ""
    content_base: str | None = None
    session_id: str | None = None
    timeout: int = DEFAULT_SESSION_TIMEOUT
    transport: Transport | None = None
    rtp_info: str | None = None
    public: list[str] = field(default_factory=list)


def split_url(url: str) -> tuple[str, int, str]:
    """``rtsp://host[:port]/path`` -> (host, port, path); ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("rtsp", "rtspu") or not parts.hostname:
        raise ValueError(f"not an rtsp:// URL: {url!r}")
    return parts.hostname, parts.port or DEFAULT_RTSP_PORT, parts.path.lstrip("/")


def bind_port_pair(host: str, rtp_port: int) -> tuple[socket.socket, socket.socket]:
    """Bind UDP sockets on an even/odd pair (RFC 3550 §11); ``rtp_port=0`` picks a free pair."""
    if rtp_port:
        return _bind_udp(host, rtp_port), _bind_udp(host, rtp_port + 1)
    for _ in range(PORT_PAIR_ATTEMPTS):
        rtp = _bind_udp(host, 0)
        port = rtp.getsockname()[1]
        if port % 2 == 0 and port < 65535:
            try:
                return rtp, _bind_udp(host, port + 1)
            except OSError:
                pass
        rtp.close()
    raise OSError("could not find a free even/odd UDP port pair")


def _bind_udp(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _enable_kernel_timestamps(sock: socket.socket) -> bool:
    """Ask for each datagram's kernel receive time; False where the system has none."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError as exc:
        logger.debug("no kernel receive timestamps: %s", exc)
        return False
    return True


def _arrival(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's receive time from recvmsg's ancillary data; the clock when absent."""
    if ancillary:  # the usual case first: our one option, one message (per packet: keep it cheap)
        level, kind, data = ancillary[0]
        if kind == SO_TIMESTAMPNS and level == socket.SOL_SOCKET and len(data) == _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack(data)
            return seconds + nanoseconds * 1e-9
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return seconds + nanoseconds * 1e-9
    return time.time()


class _RTSPStream(asyncio.Protocol):
    """The TCP edge: bytes to the parser, messages and interleaved frames to the core."""

    def __init__(self, core: ClientCore) -> None:
        self.core = core
        self.parser = MessageParser(max_body=1 << 20)
        self.transport: asyncio.Transport | None = None
        self._flush_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        try:
            items = self.parser.feed(data)
        except ParseError as exc:
            self.core._protocol_violation(f"server sent something that is not RTSP: {exc}")
            return
        for item in items:
            self.core._dispatch(item)
        if self.core.dialect == Dialect.LAB and self.parser.buffered:
            # The lab's server never writes the blank line that ends a reply.
            loop = asyncio.get_running_loop()
            self._flush_timer = loop.call_later(LAB_UNTERMINATED_WAIT, self._terminate)

    def _terminate(self) -> None:
        self._flush_timer = None
        try:
            if hasattr(self.parser, "flush"):
                items = self.parser.flush()
            else:
                items = self.parser.feed(b"\n\n")
        except ParseError as exc:
            self.core._protocol_violation(f"server sent something that is not RTSP: {exc}")
            return
        for item in items:
            self.core._dispatch(item)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        self.core._connection_lost(exc)


class _RTCPDatagrams(asyncio.DatagramProtocol):
    """The UDP edge for RTCP (RTP is drained straight off its socket)."""

    def __init__(self, core: ClientCore) -> None:
        self.core = core

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.core._rtcp_in(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: nothing to do for a receiver but note it.
        logger.debug("UDP error: %s", exc)


FrameListener = Callable[[Frame], None]


class ClientCore:
    """One RTSP client session on the running event loop.

    ``transport`` is "udp" or "tcp"; ``dialect`` is "standard" or "lab". Listeners added
    with ``add_listener`` are called on the loop for every complete frame.
    """

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        *,
        transport: str = "udp",
        rtp_port: int = 0,
        dialect: str = Dialect.STANDARD,
        timeout: float = 5.0,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        batch_interval: float = 0.0,
    ) -> None:
        if transport not in ("udp", "tcp"):
            raise ValueError(f"transport must be 'udp' or 'tcp', not {transport!r}")
        if dialect not in (Dialect.STANDARD, Dialect.LAB):
            raise ValueError(f"dialect must be 'standard' or 'lab', not {dialect!r}")
        if dialect == Dialect.LAB and transport == "tcp":
            raise ValueError("the lab's dialect only knows RTP over UDP")
        if not 1 <= port <= MAX_PORT:
            raise ValueError(f"server port {port} is not a port (1-{MAX_PORT})")
        if not 0 <= rtp_port < MAX_PORT:
            # RTCP takes the port above RTP's (RFC 3550 §11), so RTP stops one short.
            raise ValueError(f"RTP port {rtp_port} is not a port for RTP (0-{MAX_PORT - 1})")
        self.host = host
        self.port = port
        self.path = path
        self.transport_kind = transport
        self.rtp_port = rtp_port
        self.dialect = dialect
        self.timeout = timeout
        self.max_frame_bytes = max_frame_bytes
        # > 0: once the first frame is in, RTP over UDP is read on a timer every this many
        # seconds instead of on every burst: far fewer wake-ups, frames up to this late.
        # Only where the kernel stamps datagrams, so arrival times stay exact.
        self.batch_interval = batch_interval
        self.info = SessionInfo()
        self.state = SessionState()
        self.receiver: Receiver | None = None
        self.server_address: str | None = None
        self.closed = asyncio.Event()  # the RTSP connection is gone
        self.close_reason: str | None = None
        self.play_reply_time: float | None = None
        self.first_packet_time: float | None = None
        self.last_packet_time: float | None = None
        self.ssrc = random.getrandbits(32)  # ours, for RTCP (RFC 3550 §8.1)
        self.cname = f"rtsp-client-{os.getpid()}@{socket.gethostname()}"
        self._listeners: list[FrameListener] = []
        self._stream: _RTSPStream | None = None
        self._cseq = 0
        self._pending: dict[int, asyncio.Future[Response]] = {}
        self._lock = asyncio.Lock()
        self._udp: list[asyncio.DatagramTransport] = []  # the RTCP endpoint
        self._rtp_sock: socket.socket | None = None
        self._rtp_buffer = bytearray(MAX_DATAGRAM)
        self._rtp_view = memoryview(self._rtp_buffer)  # slicing it copies once, not twice
        self._rtp_reader: BatchReader | None = None  # recvmmsg where the system has it
        self._kernel_timestamps = False  # SO_TIMESTAMPNS is on for the RTP socket
        self._batch_timer: asyncio.TimerHandle | None = None
        self._batch_delay = 0.0  # the batch timer's current period (adapts to the rate)
        self._batch_room = 0  # bytes of the receive buffer a batch may fill
        self._tasks: list[asyncio.Task] = []
        self._poll_timer: asyncio.TimerHandle | None = None
        self._keepalive_method = "GET_PARAMETER"
        self.rtcp_interval = RTCP_INTERVAL  # nominal seconds between receiver reports

    # --- public API ------------------------------------------------------------

    @property
    def url(self) -> str:
        """The presentation URL requests name (the lab names the file alone)."""
        if self.dialect == Dialect.LAB:
            return self.path
        return f"rtsp://{self.host}:{self.port}/{self.path}"

    def add_listener(self, listener: FrameListener) -> None:
        """Call ``listener(frame)`` on the loop for every complete frame."""
        self._listeners.append(listener)

    async def connect(self) -> None:
        """Open the RTSP connection; ConnectionLost names the cause when it fails."""
        loop = asyncio.get_running_loop()
        try:
            _, stream = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _RTSPStream(self),
                    self.host,
                    self.port,
                    # The media sockets are IPv4: talk to the server over IPv4 too, so the
                    # address RTP must come from is one a UDP packet can carry.
                    family=socket.AF_INET if self.transport_kind == "udp" else 0,
                ),
                self.timeout,
            )
        except ConnectionRefusedError as exc:
            raise ConnectionLost(f"connection refused by {self.host}:{self.port}") from exc
        except TimeoutError as exc:
            raise ConnectionLost(f"no answer connecting to {self.host}:{self.port}") from exc
        except OSError as exc:
            raise ConnectionLost(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._stream = stream
        peer = stream.transport.get_extra_info("peername") if stream.transport else None
        self.server_address = peer[0] if peer else None

    async def options(self) -> list[str]:
        """OPTIONS: the methods the server supports."""
        reply = await self.request("OPTIONS")
        public = reply.headers.get("Public") or ""
        self.info.public = [m.strip() for m in public.split(",") if m.strip()]
        return self.info.public

    async def describe(self) -> SessionDescription:
        """DESCRIBE: fetch and parse the SDP; ProtocolViolation when it is not valid SDP."""
        reply = await self.request("DESCRIBE", headers=[("Accept", "application/sdp")])
        text = reply.body.decode("utf-8", "replace")
        try:
            sdp = SessionDescription.parse(text)
        except ParseError as exc:
            raise ProtocolViolation(f"DESCRIBE reply is not usable SDP: {exc}") from exc
        self.info.sdp, self.info.sdp_text = sdp, text
        self.info.content_base = reply.headers.get("Content-Base") or reply.headers.get(
            "Content-Location"
        )
        return sdp

    async def setup(self) -> None:
        """SETUP the one video track over the chosen transport."""
        if self.dialect == Dialect.STANDARD and self.info.sdp is None:
            await self.describe()  # the track's control URL comes from the SDP
        if self.transport_kind == "udp" and self._rtp_sock is None:
            await self._open_udp()
        reply = await self.request(
            "SETUP", uri=self._track_url(), headers=[("Transport", self._transport_header())]
        )
        self._take_session(reply)
        transport = None
        if reply.headers.get("Transport"):
            try:
                transport = Transport.parse(reply.headers["Transport"])
            except ParseError as exc:
                raise ProtocolViolation(f"SETUP reply Transport unreadable: {exc}") from exc
        self.info.transport = transport
        clock = VIDEO_CLOCK_RATE
        payload_type = None
        if self.dialect == Dialect.LAB:
            clock = 1  # the lab's server stamps packets with wall-clock seconds
        elif self.info.sdp is not None:
            clock = self.info.sdp.clock_rate or VIDEO_CLOCK_RATE
            payload_type = self.info.sdp.payload_type
        self.receiver = Receiver(
            server_host=None if self.transport_kind == "tcp" else self.server_address,
            ssrc=transport.ssrc if transport else None,
            payload_type=payload_type,
            clock_rate=clock,
            max_frame_bytes=self.max_frame_bytes,
        )
        self._start_timers()

    async def play(self, start: float | None = None) -> Response:
        """PLAY, from ``start`` seconds (npt) when given."""
        headers = []
        if start is not None:
            headers.append(("Range", str(NPTRange(start, None))))
        reply = await self.request("PLAY", headers=headers)
        self.play_reply_time = time.time()
        self.info.rtp_info = reply.headers.get("RTP-Info")
        return reply

    async def pause(self) -> Response:
        """PAUSE."""
        return await self.request("PAUSE")

    async def teardown(self) -> Response:
        """TEARDOWN, then release the media sockets and timers."""
        try:
            return await self.request("TEARDOWN")
        finally:
            await self.close_media()

    async def close(self) -> None:
        """Drop everything: media, timers and the RTSP connection."""
        await self.close_media()
        if self._stream is not None and self._stream.transport is not None:
            self._stream.transport.close()
        self._fail_pending(ConnectionLost("client closed"))

    async def close_media(self) -> None:
        """Close the UDP sockets and stop the report and keep-alive timers."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        for udp in self._udp:
            udp.close()
        self._udp.clear()
        if self._batch_timer is not None:
            self._batch_timer.cancel()
            self._batch_timer = None
            self._drain_rtp(RTP_BATCH_DRAIN_LIMIT)  # what came in since the last batch counts
        if self._rtp_sock is not None:
            asyncio.get_running_loop().remove_reader(self._rtp_sock.fileno())
            self._rtp_sock.close()
            self._rtp_sock = None
            self._rtp_reader = None
        if self._poll_timer is not None:
            self._poll_timer.cancel()
            self._poll_timer = None

    def stats(self) -> ReceptionStats:
        """Reception statistics so far."""
        if self.receiver is None:
            return ReceptionStats()
        return self.receiver.snapshot(time.time())

    # --- requests ----------------------------------------------------------------

    async def request(
        self,
        method: str,
        uri: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> Response:
        """Send one request, wait for its reply; RTSPError on non-2xx, RTSPTimeout on silence."""
        self.state.check(method)
        async with self._lock:
            if self._stream is None or self._stream.transport is None or self.closed.is_set():
                raise ConnectionLost(self.close_reason or "not connected")
            self._cseq += 1
            cseq = self._cseq
            future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
            self._pending[cseq] = future
            data = self._encode(method, uri or self.url, cseq, headers or [], body)
            logger.debug("> %s", data[:200])
            self._stream.transport.write(data)
            try:
                reply = await asyncio.wait_for(future, self.timeout)
            except TimeoutError as exc:
                raise RTSPTimeout(
                    f"{method}: no reply from {self.host}:{self.port} within {self.timeout:g} s"
                ) from exc
            finally:
                self._pending.pop(cseq, None)
        if not 200 <= reply.status < 300:
            raise RTSPError(method, reply.status, reply.reason)
        self.state.advance(method)
        return reply

    def _encode(
        self, method: str, uri: str, cseq: int, headers: list[tuple[str, str]], body: bytes
    ) -> bytes:
        session = self.info.session_id
        if self.dialect == Dialect.LAB:
            # The lab's Client.py: LF lines, the server reads fields by position.
            lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {cseq}"]
            if method == "SETUP":
                lines.append(f"Transport: RTP/UDP; client_port= {self.rtp_port}")
            elif session is not None:
                lines.append(f"Session: {session}")
            return ("\n".join(lines) + "\n\n").encode()
        all_headers = Headers([("CSeq", str(cseq)), ("User-Agent", USER_AGENT)])
        if session is not None and method not in ("OPTIONS", "DESCRIBE", "SETUP"):
            all_headers.add("Session", session)
        for name, value in headers:
            all_headers.add(name, value)
        return Request(method, uri, all_headers, body).to_bytes()

    def _track_url(self) -> str:
        if self.dialect == Dialect.LAB:
            return self.path
        sdp = self.info.sdp
        control = sdp.track_control if sdp is not None else ""
        if control.startswith("rtsp://"):
            return control
        base = self.info.content_base or self.url
        if not control or control == "*":
            return base
        return base.rstrip("/") + "/" + control

    def _transport_header(self) -> str:
        if self.transport_kind == "tcp":
            return str(Transport("RTP/AVP/TCP", interleaved=INTERLEAVED_CHANNELS))
        return str(Transport("RTP/AVP", client_port=(self.rtp_port, self.rtp_port + 1)))

    def _take_session(self, reply: Response) -> None:
        value = reply.headers.get("Session")
        if value is None:
            if self.dialect == Dialect.STANDARD:
                raise ProtocolViolation("SETUP reply carries no Session header")
            return
        try:
            session = Session.parse(value)
        except ParseError as exc:
            raise ProtocolViolation(f"SETUP reply Session unreadable: {exc}") from exc
        self.info.session_id = session.id
        self.info.timeout = session.timeout or DEFAULT_SESSION_TIMEOUT

    # --- media -------------------------------------------------------------------

    async def _open_udp(self) -> None:
        loop = asyncio.get_running_loop()
        rtp_sock, rtcp_sock = bind_port_pair("0.0.0.0", self.rtp_port)
        self.rtp_port = rtp_sock.getsockname()[1]
        # RTP is read straight off the socket, draining every datagram a wake-up finds:
        # a frame's packets arrive in a burst, so this saves a loop round trip per packet.
        self._rtp_sock = rtp_sock
        self._kernel_timestamps = _enable_kernel_timestamps(rtp_sock)
        if self._kernel_timestamps:
            self._rtp_reader = BatchReader.create(
                rtp_sock, RTP_DATAGRAMS_PER_CALL, MAX_DATAGRAM, _ANCILLARY_SPACE
            )
        loop.add_reader(rtp_sock.fileno(), self._drain_rtp)
        rtcp, _ = await loop.create_datagram_endpoint(lambda: _RTCPDatagrams(self), sock=rtcp_sock)
        self._udp = [rtcp]

    def _drain_rtp(self, limit: int = RTP_DRAIN_LIMIT) -> int:
        """Read and handle waiting RTP datagrams; returns the bytes they took in the buffer."""
        sock = self._rtp_sock
        if sock is None:
            return 0
        if self._rtp_reader is not None:
            return self._drain_rtp_batches(self._rtp_reader, limit)
        receiver = self.receiver
        # _rtp_in for a whole batch: the per-packet work is only what each packet needs;
        # the reorder timer is looked at once, after the batch.
        buffer, view = self._rtp_buffer, self._rtp_view
        buffers = [buffer]
        stamped = self._kernel_timestamps
        clock = time.time
        now = 0.0
        taken = 0
        try:
            for _ in range(limit):
                try:
                    if stamped:
                        size, ancillary, _flags, addr = sock.recvmsg_into(buffers, _ANCILLARY_SPACE)
                    else:
                        size, addr = sock.recvfrom_into(buffer)
                except (BlockingIOError, InterruptedError):
                    return taken
                except OSError as exc:  # ICMP errors and the like: nothing to do for a receiver
                    logger.debug("RTP socket: %s", exc)
                    return taken
                taken += size + DATAGRAM_OVERHEAD
                if receiver is None:
                    continue  # before SETUP's reply: read, so the socket stops being ready
                now = _arrival(ancillary) if stamped else clock()
                if self.first_packet_time is None:
                    self.first_packet_time = now
                self.last_packet_time = now
                frames = receiver.rtp_received(bytes(view[:size]), addr, now)
                if frames:
                    self._deliver(frames)
                    if stamped and self.batch_interval > 0 and self._batch_timer is None:
                        self._start_batching()
            return taken  # the limit: more may wait
        finally:
            self._schedule_poll()

    def _drain_rtp_batches(self, reader: BatchReader, limit: int) -> int:
        """``_drain_rtp`` reading up to RTP_DATAGRAMS_PER_CALL datagrams per system call."""
        receiver = self.receiver
        clock = time.time
        taken = 0
        read = 0
        try:
            while read < limit:
                try:
                    batch = reader.read()
                except OSError as exc:  # ICMP errors and the like: nothing to do for a receiver
                    logger.debug("RTP socket: %s", exc)
                    return taken
                if not batch:
                    return taken
                read += len(batch)
                for data, addr, stamp in batch:
                    taken += len(data) + DATAGRAM_OVERHEAD
                    if receiver is None:
                        continue  # before SETUP's reply: read, so the socket stops being ready
                    now = clock() if stamp is None else stamp
                    if self.first_packet_time is None:
                        self.first_packet_time = now
                    self.last_packet_time = now
                    frames = receiver.rtp_received(data, addr, now)
                    if frames:
                        self._deliver(frames)
                        if self.batch_interval > 0 and self._batch_timer is None:
                            self._start_batching()
                if self._rtp_reader is not reader:
                    return taken  # a listener closed the media while the batch was handled
            return taken  # the limit: more may wait
        finally:
            self._schedule_poll()

    def _start_batching(self) -> None:
        """From now on read RTP on a timer, not on readiness (see ``batch_interval``)."""
        loop = asyncio.get_running_loop()
        sock = self._rtp_sock
        if sock is None:
            return
        loop.remove_reader(sock.fileno())
        room = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self._batch_room = int(room * BATCH_BUFFER_SHARE)
        self._batch_delay = min(FIRST_BATCH_INTERVAL, self.batch_interval)
        self._batch_timer = loop.call_later(self._batch_delay, self._batch_tick)

    def _batch_tick(self) -> None:
        if self._rtp_sock is None:
            self._batch_timer = None
            return
        taken = self._drain_rtp(RTP_BATCH_DRAIN_LIMIT)
        # Keep batches well inside the receive buffer: read more often when a batch was
        # big, less often again (up to batch_interval) when batches are small.
        if taken > self._batch_room:
            self._batch_delay = max(self._batch_delay / 2, MIN_BATCH_INTERVAL)
            logger.debug("RTP batches every %.3f s", self._batch_delay)
        elif taken < self._batch_room // 4:
            self._batch_delay = min(self._batch_delay * 2, self.batch_interval)
        if self._rtp_sock is not None:
            self._batch_timer = asyncio.get_running_loop().call_later(
                self._batch_delay, self._batch_tick
            )
        else:
            self._batch_timer = None

    def _rtp_in(self, data: bytes, addr: tuple | None) -> None:
        receiver = self.receiver
        if receiver is None:
            return
        now = time.time()
        if self.first_packet_time is None:
            self.first_packet_time = now
        self.last_packet_time = now
        self._deliver(receiver.rtp_received(data, addr, now))
        self._schedule_poll()

    def _rtcp_in(self, data: bytes, addr: tuple | None) -> None:
        if self.receiver is not None:
            self.receiver.rtcp_received(data, addr, time.time())

    def _schedule_poll(self) -> None:
        receiver = self.receiver
        if receiver is None or self._poll_timer is not None:
            return
        deadline = receiver.deadline()
        if deadline is not None:
            delay = max(0.0, deadline - time.time())
            self._poll_timer = asyncio.get_running_loop().call_later(delay, self._poll)

    def _poll(self) -> None:
        self._poll_timer = None
        if self.receiver is not None:
            self._deliver(self.receiver.poll(time.time()))
            self._schedule_poll()

    def _deliver(self, frames: list[Frame]) -> None:
        for frame in frames:
            for listener in self._listeners:
                try:
                    listener(frame)
                except Exception:  # a listener's bug must not stop reception
                    logger.exception("frame listener failed")

    # --- timers ------------------------------------------------------------------

    def _start_timers(self) -> None:
        if self._tasks:
            return
        if self.dialect == Dialect.STANDARD:
            self._tasks.append(asyncio.ensure_future(self._keepalive_loop()))
            self._tasks.append(asyncio.ensure_future(self._rtcp_loop()))

    async def _keepalive_loop(self) -> None:
        while True:
            await asyncio.sleep(max(self.info.timeout / 2, 1.0))
            if self.state.state is ClientState.INIT:
                return
            try:
                await self.request(self._keepalive_method)
            except RTSPError as exc:
                if exc.status in (Status.NOT_IMPLEMENTED, Status.METHOD_NOT_ALLOWED) and (
                    self._keepalive_method != "OPTIONS"
                ):
                    logger.info("server lacks GET_PARAMETER; keeping alive with OPTIONS")
                    self._keepalive_method = "OPTIONS"
                    await self.request("OPTIONS")
                else:
                    logger.warning("keep-alive failed: %s", exc)
            except (ConnectionLost, RTSPTimeout) as exc:
                logger.warning("keep-alive failed: %s", exc)
                return

    async def _rtcp_loop(self) -> None:
        while True:
            spread = random.uniform(1 - RTCP_RANDOM_SPREAD, 1 + RTCP_RANDOM_SPREAD)
            await asyncio.sleep(self.rtcp_interval * spread)
            try:
                self.send_receiver_report()
            except Exception:
                logger.exception("could not send an RTCP receiver report")

    def receiver_report(self) -> bytes:
        """A compound RTCP packet: RR (a block once a source is known) + SDES CNAME."""
        blocks = ()
        receiver = self.receiver
        if receiver is not None and receiver.ssrc is not None and receiver.stats.received:
            blocks = (receiver.stats.report_block(receiver.ssrc, time.time()),)
        return build_compound(
            [ReceiverReport(self.ssrc, blocks), SourceDescription.cname(self.ssrc, self.cname)]
        )

    def send_receiver_report(self) -> bool:
        """Send an RR now; False when there is nowhere to send it."""
        data = self.receiver_report()
        if self.transport_kind == "tcp":
            if self._stream is None or self._stream.transport is None:
                return False
            frame = InterleavedFrame(INTERLEAVED_CHANNELS[1], data)
            self._stream.transport.write(frame.to_bytes())
            return True
        transport = self.info.transport
        if not self._udp or transport is None or transport.server_port is None:
            return False
        self._udp[0].sendto(data, (self.server_address, transport.server_port[1]))
        return True

    # --- from the TCP edge -------------------------------------------------------

    def _dispatch(self, item: Request | Response | InterleavedFrame) -> None:
        if isinstance(item, InterleavedFrame):
            rtp_channel, rtcp_channel = INTERLEAVED_CHANNELS
            transport = self.info.transport
            if transport is not None and transport.interleaved is not None:
                rtp_channel, rtcp_channel = transport.interleaved
            if item.channel == rtp_channel:
                self._rtp_in(item.payload, None)
            elif item.channel == rtcp_channel:
                self._rtcp_in(item.payload, None)
            return
        if isinstance(item, Request):
            # A server-to-client request (ANNOUNCE, SET_PARAMETER...): we support none.
            logger.info("server sent %s; answering 501", item.method)
            reply = Response.make(Status.NOT_IMPLEMENTED, item.cseq)
            if self._stream is not None and self._stream.transport is not None:
                self._stream.transport.write(reply.to_bytes())
            return
        logger.debug("< %d %s", item.status, item.reason)
        if not item.version.upper().startswith(RTSP_VERSION_PREFIX):
            self._protocol_violation(f"server answered in {item.version}, not RTSP/1.0")
            return
        cseq = item.cseq
        future = self._pending.get(cseq) if cseq is not None else None
        if future is None and len(self._pending) == 1:
            future = next(iter(self._pending.values()))  # a server that forgot the CSeq
        if future is not None and not future.done():
            future.set_result(item)
        else:
            logger.info("unsolicited reply %d %s (CSeq %s) ignored", item.status, item.reason, cseq)

    def _protocol_violation(self, message: str) -> None:
        logger.warning("%s", message)
        self.close_reason = message
        self._fail_pending(ProtocolViolation(message))
        if self._stream is not None and self._stream.transport is not None:
            self._stream.transport.close()

    def _connection_lost(self, exc: Exception | None) -> None:
        if self.close_reason is None:
            self.close_reason = "server closed the RTSP connection" + (f" ({exc})" if exc else "")
        self.closed.set()
        self.state.reset()
        self._fail_pending(ConnectionLost(self.close_reason))

    def _fail_pending(self, exc: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
