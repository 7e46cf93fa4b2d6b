"""The client's asyncio core: glue between a ``ClientConnection``, sockets and timers.

The RTSP conversation itself (CSeq, Session, the dialects, the state table) is the sans-I/O
``ClientConnection``; this module writes its bytes to a TCP connection, feeds it what
arrives, and waits for each reply. Media arrives over a UDP even/odd port pair
(``rtsp_client.udp_media``) or interleaved on the RTSP connection (RTP/AVP/TCP); either way
every batch of packets (one, when interleaved) goes through ``_rtp_batch_in`` to the
sans-I/O ``Receiver``, and complete frames to the listeners. While a session exists the
core sends RTCP receiver reports with an SDES CNAME about every 5 s and keeps the session
alive at half the server's timeout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Iterable

from rtsp_client.connection import ClientConnection, SessionInfo
from rtsp_client.errors import ConnectionLost, ProtocolViolation, RTSPError, RTSPTimeout
from rtsp_client.events import (
    Event,
    InterleavedReceived,
    NotRTSP,
    ReplyReceived,
    RequestRetried,
    ServerRequestRefused,
)
from rtsp_client.options import ClientOptions, Dialect, LowerTransport
from rtsp_client.receiver import Datagram, Frame, Receiver
from rtsp_client.state import ClientState
from rtsp_client.stats import ReceptionStats
from rtsp_client.udp_media import UDPMedia
from rtsp_common.headers import NPTRange
from rtsp_common.rtcp import ReceiverReport, ReportBlock, SourceDescription, build_compound
from rtsp_common.rtsp import Response
from rtsp_common.sdp import SessionDescription

logger = logging.getLogger(__name__)

RTCP_RANDOM_SPREAD = 0.5  # RFC 3550 §6.3.1: interval drawn from [0.5, 1.5] x the nominal
LAB_UNTERMINATED_WAIT = 0.15  # seconds a reply head may sit without its blank line (lab server)
MIN_KEEPALIVE_INTERVAL = 1.0  # seconds, whatever timeout the server names

FrameListener = Callable[[Frame], None]


class _RTSPStream(asyncio.Protocol):
    """The TCP edge: bytes to the core, and a timer for the lab's unterminated replies."""

    def __init__(self, core: ClientCore) -> None:
        self.core = core
        self.transport: asyncio.Transport | None = None
        self._flush_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        connection = self.core.connection
        self.core._handle(connection.receive_data(data))
        if connection.head_unterminated:
            # The lab's server never writes the blank line that ends a reply.
            loop = asyncio.get_running_loop()
            self._flush_timer = loop.call_later(LAB_UNTERMINATED_WAIT, self._end_head)

    def _end_head(self) -> None:
        self._flush_timer = None
        self.core._handle(self.core.connection.end_head())

    def write(self, data: bytes) -> bool:
        """Write unless the connection is closing; False when it could not."""
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        self.core._connection_lost(exc)


class ClientCore:
    """One RTSP client session on the running event loop.

    ``options`` says how (transport, dialect, timeouts...). Listeners added with
    ``add_listener`` are called on the loop for every complete frame, those added with
    ``add_stop_listener`` when the stream stops.
    """

    def __init__(
        self, host: str, port: int, path: str, options: ClientOptions | None = None
    ) -> None:
        self.connection = ClientConnection(host, port, path, options)
        self._options = self.connection.options
        self.receiver: Receiver | None = None
        self.media: UDPMedia | None = None  # the UDP port pair, between SETUP and TEARDOWN
        self.server_address: str | None = None
        self.closed = asyncio.Event()  # the RTSP connection is gone
        self.close_reason: str | None = None
        self.play_reply_time: float | None = None
        self.first_packet_time: float | None = None
        self.last_packet_time: float | None = None
        self.ssrc = random.getrandbits(32)  # ours, for RTCP (RFC 3550 §8.1)
        self.cname = f"rtsp-client-{os.getpid()}@{socket.gethostname()}"
        self._listeners: list[FrameListener] = []
        self._stop_listeners: list[Callable[[], None]] = []
        self._stream: _RTSPStream | None = None
        self._pending: dict[int, asyncio.Future[Response]] = {}
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._poll_timer: asyncio.TimerHandle | None = None

    # --- what the connection knows ----------------------------------------------------

    @property
    def url(self) -> str:
        """The presentation URL requests name (the lab names the file alone)."""
        return self.connection.url

    @property
    def info(self) -> SessionInfo:
        """What the server told us in DESCRIBE, SETUP and PLAY."""
        return self.connection.info

    # --- public API ------------------------------------------------------------

    def add_listener(self, listener: FrameListener) -> None:
        """Call ``listener(frame)`` on the loop for every complete frame."""
        self._listeners.append(listener)

    def add_stop_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` on the loop when the stream stops: the server said RTCP BYE
        for our source, or the RTSP connection is gone (once for each)."""
        self._stop_listeners.append(listener)

    async def connect(self) -> None:
        """Open the RTSP connection; ConnectionLost names the cause when it fails."""
        loop = asyncio.get_running_loop()
        host, port = self.connection.host, self.connection.port
        try:
            _, stream = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _RTSPStream(self),
                    host,
                    port,
                    # The media sockets are IPv4: talk to the server over IPv4 too, so the
                    # address RTP must come from is one a UDP packet can carry.
                    family=socket.AF_INET if self._options.transport is LowerTransport.UDP else 0,
                ),
                self._options.timeout,
            )
        except ConnectionRefusedError as exc:
            raise ConnectionLost(f"connection refused by {host}:{port}") from exc
        except TimeoutError as exc:
            raise ConnectionLost(f"no answer connecting to {host}:{port}") from exc
        except OSError as exc:
            raise ConnectionLost(f"cannot connect to {host}:{port}: {exc}") from exc
        self._stream = stream
        peer = stream.transport.get_extra_info("peername") if stream.transport else None
        self.server_address = peer[0] if peer else None

    async def options(self) -> list[str]:
        """OPTIONS: the methods the server supports."""
        await self.request("OPTIONS")
        return self.info.public

    async def describe(self) -> SessionDescription:
        """DESCRIBE: fetch and parse the SDP; ProtocolViolation when it is not valid SDP."""
        await self.request("DESCRIBE", headers=[("Accept", "application/sdp")])
        assert self.info.sdp is not None
        return self.info.sdp

    async def setup(self) -> None:
        """SETUP the one video track over the chosen transport."""
        connection = self.connection
        if self._options.dialect is Dialect.STANDARD and self.info.sdp is None:
            await self.describe()  # the track's control URL comes from the SDP
        connection.media_format()  # refuse a format we cannot read before asking for it
        if self._options.transport is LowerTransport.UDP and self.media is None:
            self.media = await UDPMedia.open(
                connection.rtp_port,
                self._rtp_batch_in,
                self._rtcp_in,
                self._schedule_poll,
                self._options.batch_interval,
            )
            connection.rtp_port = self.media.rtp_port
        await self.request(
            "SETUP",
            uri=connection.track_url(),
            headers=[("Transport", connection.transport_header())],
        )
        self.receiver = connection.new_receiver(self.server_address)
        self._start_timers()

    async def play(self, start: float | None = None) -> Response:
        """PLAY, from ``start`` seconds (npt) when given."""
        headers = []
        if start is not None:
            headers.append(("Range", str(NPTRange(start, None))))
        reply = await self.request("PLAY", headers=headers)
        self.play_reply_time = time.time()
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
        if self._stream is not None:
            self._stream.close()
        self._fail_pending(ConnectionLost("client closed"))

    async def close_media(self) -> None:
        """Close the UDP sockets and stop the report and keep-alive timers."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        if self.media is not None:
            media, self.media = self.media, None
            media.close()
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
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Response:
        """Send one request, wait for its reply; RTSPError on non-2xx, RTSPTimeout on silence."""
        self.connection.state.check(method)  # before waiting for the lock: refuse at once
        async with self._lock:
            if self._stream is None or self.closed.is_set():
                raise ConnectionLost(self.close_reason or "not connected")
            outgoing = self.connection.send_request(method, uri, headers, body)
            future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
            self._pending[outgoing.cseq] = future
            logger.debug("> %s", outgoing.data[:200])
            if not self._stream.write(outgoing.data):
                self._pending.pop(outgoing.cseq, None)
                self.connection.abandon(outgoing.cseq)
                raise ConnectionLost(self.close_reason or "not connected")
            try:
                return await asyncio.wait_for(future, self._options.timeout)
            except TimeoutError as exc:
                raise RTSPTimeout(
                    f"{method}: no reply from {self.connection.host}:{self.connection.port} "
                    f"within {self._options.timeout:g} s"
                ) from exc
            finally:
                # Under its first CSeq, or the CSeq of its retry with credentials.
                for cseq in [c for c, f in self._pending.items() if f is future]:
                    del self._pending[cseq]
                    self.connection.abandon(cseq)

    def _handle(self, events: list[Event]) -> None:
        """Act on what the connection made of the bytes received."""
        for event in events:
            if isinstance(event, InterleavedReceived):
                if event.rtcp:
                    self._rtcp_in(event.payload, None)
                else:
                    self._rtp_in(event.payload, None, time.time())
                    self._schedule_poll()
            elif isinstance(event, ReplyReceived):
                future = self._pending.get(event.cseq)
                if future is not None and not future.done():
                    if event.error is None:
                        future.set_result(event.response)
                    else:
                        future.set_exception(event.error)
            elif isinstance(event, RequestRetried):
                self._retry(event)
            elif isinstance(event, ServerRequestRefused):
                if self._stream is not None:
                    self._stream.write(event.answer)
            elif isinstance(event, NotRTSP):
                self._protocol_violation(event.reason)
                return

    def _retry(self, event: RequestRetried) -> None:
        """Send a request again with credentials; its waiter now waits for the new CSeq."""
        pending = self._pending.pop(event.previous, None)
        if pending is None:  # nobody waits any longer: do not send it again
            self.connection.abandon(event.request.cseq)
        elif self._stream is not None and self._stream.write(event.request.data):
            self._pending[event.request.cseq] = pending
        else:
            self.connection.abandon(event.request.cseq)
            if not pending.done():
                pending.set_exception(ConnectionLost(self.close_reason or "not connected"))

    # --- media -------------------------------------------------------------------

    def _rtp_in(self, data: bytes, sender: tuple | None, now: float) -> bool:
        """One RTP packet (an interleaved one off the RTSP connection): as a batch of one."""
        return self._rtp_batch_in([(data, sender, now)], now)

    def _rtp_batch_in(self, batch: list[Datagram], now: float) -> bool:
        """RTP datagrams read together (arrival None: ``now``): to the receiver in one
        call; True when a frame completed."""
        receiver = self.receiver
        if receiver is None:
            return False  # before SETUP's reply: read, so the socket stops being ready
        if self.first_packet_time is None:
            first = batch[0][2]
            self.first_packet_time = now if first is None else first
        last = batch[-1][2]
        self.last_packet_time = now if last is None else last
        frames = receiver.rtp_batch(batch, now)
        if frames:
            self._deliver(frames)
            return True
        return False

    def _rtcp_in(self, data: bytes, sender: tuple | None) -> None:
        receiver = self.receiver
        if receiver is not None:
            said_bye = receiver.bye
            receiver.rtcp_received(data, sender, time.time())
            if receiver.bye and not said_bye:
                self._tell_stopped()

    def _tell_stopped(self) -> None:
        for listener in self._stop_listeners:
            try:
                listener()
            except Exception:  # a listener's bug must not stop the loop
                logger.exception("stop listener failed")

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
        if self._options.dialect is Dialect.STANDARD:
            self._tasks.append(asyncio.ensure_future(self._keepalive_loop()))
            self._tasks.append(asyncio.ensure_future(self._rtcp_loop()))

    async def _keepalive_loop(self) -> None:
        while True:
            await asyncio.sleep(max(self.info.timeout / 2, MIN_KEEPALIVE_INTERVAL))
            if self.connection.state.state is ClientState.INIT:
                return
            method = self.connection.keepalive_method
            try:
                try:
                    await self.request(method)
                except RTSPError:
                    if self.connection.keepalive_method == method:
                        raise
                    await self.request(self.connection.keepalive_method)  # the fallback
            except RTSPError as exc:
                logger.warning("keep-alive failed: %s", exc)
            except (ConnectionLost, RTSPTimeout) as exc:
                logger.warning("keep-alive failed: %s", exc)
                return

    async def _rtcp_loop(self) -> None:
        while True:
            spread = random.uniform(1 - RTCP_RANDOM_SPREAD, 1 + RTCP_RANDOM_SPREAD)
            await asyncio.sleep(self._options.rtcp_interval * spread)
            try:
                self.send_receiver_report()
            except Exception:
                logger.exception("could not send an RTCP receiver report")

    def receiver_report(self) -> bytes:
        """A compound RTCP packet: RR (a block once a source is known) + SDES CNAME."""
        blocks: tuple[ReportBlock, ...] = ()
        receiver = self.receiver
        if receiver is not None and receiver.ssrc is not None and receiver.stats.received:
            blocks = (receiver.stats.report_block(receiver.ssrc, time.time()),)
        return build_compound(
            [ReceiverReport(self.ssrc, blocks), SourceDescription.cname(self.ssrc, self.cname)]
        )

    def send_receiver_report(self) -> bool:
        """Send an RR now; False when there is nowhere to send it."""
        data = self.receiver_report()
        if self._options.transport is LowerTransport.TCP:
            if self._stream is None:
                return False
            return self._stream.write(self.connection.interleaved_rtcp(data))
        transport = self.info.transport
        if self.media is None or transport is None or transport.server_port is None:
            return False
        if self.server_address is None:
            return False
        self.media.send_rtcp(data, (self.server_address, transport.server_port[1]))
        return True

    # --- from the TCP edge -------------------------------------------------------

    def _protocol_violation(self, message: str) -> None:
        # Told once, by whoever meets it: a waiting request's error or the close reason.
        logger.info("%s", message)
        self.close_reason = message
        self._fail_pending(ProtocolViolation(message))
        if self._stream is not None:
            self._stream.close()

    def _connection_lost(self, exc: Exception | None) -> None:
        if self.close_reason is None:
            self.close_reason = "server closed the RTSP connection" + (f" ({exc})" if exc else "")
        self.closed.set()
        self.connection.connection_lost()
        self._fail_pending(ConnectionLost(self.close_reason))
        self._tell_stopped()

    def _fail_pending(self, exc: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
