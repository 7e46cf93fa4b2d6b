"""RTSPServer: the asyncio shell around the handler, media library, scheduler and senders.

Decisions where RFC 2326 leaves a choice:
- One even/odd UDP port pair serves every session (server_port in each SETUP reply); clients
  are told apart by SSRC and address, and RTP/RTCP only ever go to the RTSP peer's host.
- A TCP interleaved session ends with its connection. A UDP session outlives the connection
  that made it (RFC 2326 §3: sessions are not tied to transport connections) until TEARDOWN or
  its timeout, and may be resumed from a new connection from the same host.
- A session's activity is any RTSP request naming it or an RTCP report about its stream.
- At the end of a file without --loop: RTCP BYE, the session is kept until TEARDOWN, and a
  PLAY without Range starts over.
- RTP goes out, by default, with one sendmmsg per scheduler tick for every frame due in it
  (header and shared payload gathered, one datagram per packet); use_gso=True (--gso) sends
  each frame in one syscall with UDP GSO, but a capture on the sending host (Wireshark on lo)
  then sees one unsegmented datagram per frame.
- The lab's client (Transport "RTP/UDP") gets its own reply layout and whole-JPEG datagrams
  numbered by frame, and no RTCP (it has no RTCP port).
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future
from typing import Any, TypeVar

from rtsp_common.errors import ParseError
from rtsp_common.rtcp import parse_compound
from rtsp_common.rtsp import InterleavedFrame
from rtsp_server.access import AccessControl
from rtsp_server.actions import Action, EndSession, StartStreaming, StopStreaming
from rtsp_server.connection import RTSPConnection
from rtsp_server.handler import RequestHandler
from rtsp_server.log_limit import PEER_DRIVEN
from rtsp_server.media import MediaLibrary
from rtsp_server.options import DEFAULT_PORT, ServerOptions
from rtsp_server.ports import PortInUse, bind_port_pair
from rtsp_server.rtcp_reports import (
    goodbye,
    is_rtcp_report,
    reception_reports,
    sender_report,
)
from rtsp_server.rtp_sender import UDPSender, frame_bursts, interleaved_frame
from rtsp_server.scheduler import Scheduler
from rtsp_server.session import InterleavedChannels, Session, SessionRegistry, UDPDestination
from rtsp_server.udp_port import UDPPort
from rtsp_server.unreachable import UnreachableCounter
from rtsp_server.worker_slot import WorkerSlot

log = logging.getLogger(__name__)
log.addFilter(PEER_DRIVEN)  # what a peer can make us log is bounded

T = TypeVar("T")

HOUSEKEEPING_INTERVAL = 0.25  # s between checks for idle sessions


class RTSPServer:
    """An RTSP 1.0 server streaming MJPEG files over RTP to many clients.

    ``RTSPServer(554, "movie.Mjpeg").start()`` is the lab's API (blocking), a thin adapter
    over ``RTSPServer(options=ServerOptions(port=554, media="movie.Mjpeg"))``. Then
    ``start()``, ``await serve()``, or ``with`` to run it in a background thread (``.port`` is
    the bound port). It is the ``ConnectionOwner`` of every RTSP connection it accepts.
    """

    def __init__(
        self,
        server_port: int | None = None,
        video_file: str | os.PathLike[str] | None = None,
        *,
        options: ServerOptions | None = None,
        worker: WorkerSlot | None = None,
    ) -> None:
        if options is None:
            if video_file is None:
                raise ValueError("RTSPServer needs options (ServerOptions) or the lab's video_file")
            port = DEFAULT_PORT if server_port is None else server_port
            options = ServerOptions.lab(port, video_file)
        elif server_port is not None or video_file is not None:
            raise ValueError("give RTSPServer either the lab's port and file, or options")
        self.options = options
        self.worker = worker  # one of several worker processes (rtsp_server/workers.py)
        self.on_ready: Callable[[], None] | None = None  # called once it serves
        self.library = MediaLibrary(options.media)
        self.access = AccessControl.from_options(options)  # reads --auth-file: errors at once
        PEER_DRIVEN.reset()  # a new server's log starts unthrottled
        self.sessions = SessionRegistry(options.max_sessions, worker, options.max_sessions_per_peer)
        self.connections: dict[int, RTSPConnection] = {}
        self.port = 0
        self.rtp_port = 0
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None
        self._scheduler: Scheduler | None = None
        self._udp: UDPSender | None = None
        self._rtcp_sock: socket.socket | None = None
        self._unreachable = UnreachableCounter(self.options.unreachable_limit)
        self.cname = f"rtsp-workbench@{socket.gethostname()}"

    # running ---------------------------------------------------------------------------------

    def loop_time(self) -> float:
        """The event loop's monotonic clock: every deadline and timeout is in it."""
        assert self._loop is not None
        return self._loop.time()

    async def serve(self) -> None:
        """Run until stop(); every session gets an RTCP BYE on the way out."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stop = asyncio.Event()
        options = self.options
        try:
            rtp_sock, rtcp_sock = bind_port_pair(options.host, self._worker_rtp_port())
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE and options.rtp_port:
                raise PortInUse("UDP", options.rtp_port, pair=True) from exc
            raise
        self.rtp_port = rtp_sock.getsockname()[1]
        self._udp = UDPSender(rtp_sock, options.use_gso)
        self._rtcp_sock = rtcp_sock
        unreachable = self.peer_unreachable if options.unreachable_limit else None
        # What clients send to the RTP port (e.g. NAT keep-alives) is read and dropped.
        rtp_port = UDPPort(loop, rtp_sock, lambda data, addr: None, unreachable)
        rtcp_port = UDPPort(
            loop, rtcp_sock, lambda d, a: self.rtcp_received(d, *a[:2]), unreachable
        )
        self._scheduler = Scheduler(loop, self._send_frame, flush=self._udp.flush)
        try:
            tcp = await loop.create_server(
                lambda: RTSPConnection(
                    next(self._ids), self, self._new_handler, options, self.loop_time
                ),
                options.host,
                options.port,
                reuse_address=True,
                reuse_port=self.worker is not None,  # the workers share the RTSP port
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse("TCP", options.port) from exc
            raise
        self.port = tcp.sockets[0].getsockname()[1]
        housekeeping = loop.create_task(self._housekeeping(), name="rtsp-housekeeping")
        log.info(
            "serving %s on rtsp://%s:%d/ (RTP/RTCP ports %d-%d): %s",
            self.library.root,
            options.host,
            self.port,
            self.rtp_port,
            self.rtp_port + 1,
            ", ".join(self.library.names()) or "no media yet",
        )
        if self.access is not None:
            self.access.log_startup()
        self._ready.set()
        if self.on_ready is not None:
            self.on_ready()
        try:
            await self._stop.wait()
        finally:
            log.info(
                "shutting down: %d sessions, %d connections",
                len(self.sessions),
                len(self.connections),
            )
            for session in list(self.sessions):
                self.sessions.remove(session.id)
                self._end(session, "server shutdown", bye=True)
            self._scheduler.close()
            tcp.close()
            for connection in list(self.connections.values()):
                connection.close()
            housekeeping.cancel()
            await asyncio.gather(housekeeping, return_exceptions=True)
            await asyncio.sleep(0)
            rtp_port.close()
            rtcp_port.close()
            await tcp.wait_closed()
            await asyncio.sleep(0)
            self._ready.clear()

    def start(self) -> None:
        """Serve until Ctrl-C or SIGTERM (blocking, the lab's API); return after a clean stop."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(signum, self.stop)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass  # not the main thread: stop() still works
            await self.serve()

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        """Ask the server to shut down (callable from any thread or a signal handler)."""
        if self._loop is None or self._stop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._stop.set)

    def __enter__(self) -> RTSPServer:
        self._thread = threading.Thread(target=self._run_thread, name="rtsp-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise self._startup_error
        if not self._ready.is_set():
            raise RuntimeError("RTSP server did not start within 10 s")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run_thread(self) -> None:
        try:
            asyncio.run(self.serve())
        except BaseException as exc:  # surfaced to __enter__
            self._startup_error = exc
            self._ready.set()

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the server's loop thread and return its result (tests)."""
        assert self._loop is not None
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(function(*args))
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(10)

    def stats(self) -> dict[str, int]:
        """Counts for leak checks: sessions, connections, scheduled streams, asyncio tasks."""

        def collect() -> dict[str, int]:
            return {
                "sessions": len(self.sessions),
                "connections": len(self.connections),
                "streaming": len(self._scheduler) if self._scheduler else 0,
                "tasks": len(asyncio.all_tasks(self._loop)),
            }

        return self.call(collect)

    # connections (the ConnectionOwner side) -------------------------------------------------

    def _new_handler(
        self, connection_id: int, peer_host: str, local_host: str, local_port: int
    ) -> RequestHandler:
        return RequestHandler(
            self.options,
            self.library,
            self.sessions,
            connection_id,
            peer_host=peer_host,
            local_host=local_host,
            local_port=local_port,
            server_ports=(self.rtp_port, self.rtp_port + 1),
            access=self.access,
        )

    def admit(self, connection: RTSPConnection) -> bool:
        """Take a new connection in, unless ``max_connections`` are open or its address holds
        ``max_connections_per_peer`` (in all workers)."""
        peer, most = connection.peer[0], self.options.max_connections_per_peer
        if self.worker is not None:
            index = self.worker.index
            full = not self.worker.connections.try_take(index)
            crowded = not full and not self.worker.peer_connections.try_take(index, peer, most)
            if crowded:
                self.worker.connections.give_back(index)
        else:
            full = len(self.connections) >= self.options.max_connections
            crowded = sum(c.peer[0] == peer for c in self.connections.values()) >= most
        if full or crowded:
            why = f"{most} from this address" if crowded else f"{self.open_count} open"
            log.warning("%s:%d refused: %s connections", *connection.peer, why)
            return False
        self.connections[connection.id] = connection
        return True

    def release(self, connection: RTSPConnection) -> None:
        """A connection is gone."""
        if self.connections.pop(connection.id, None) and self.worker is not None:
            self.worker.connections.give_back(self.worker.index)
            self.worker.peer_connections.give_back(self.worker.index, connection.peer[0])

    @property
    def open_count(self) -> int:
        """RTSP connections open, in every worker."""
        return len(self.connections) if self.worker is None else self.worker.connections.total()

    def _worker_rtp_port(self) -> int:
        """The RTP port asked for: worker i takes the i-th pair from --rtp-port (0: any)."""
        base = self.options.rtp_port
        return base + 2 * self.worker.index if base and self.worker is not None else base

    # actions from the handler --------------------------------------------------------------

    def perform(self, actions: Iterable[Action]) -> None:
        """Carry out the handler's actions: start or stop pacing, end sessions."""
        assert self._scheduler is not None
        for action in actions:
            session = action.session
            if isinstance(action, StartStreaming):
                session.next_report = action.at
                self._scheduler.add(session.id, self.options.fps, action.at)
            elif isinstance(action, StopStreaming):
                self._scheduler.remove(session.id)
            elif isinstance(action, EndSession):
                self._end(session, action.reason, action.bye)

    def _end(self, session: Session, reason: str, bye: bool) -> None:
        if self._scheduler is not None:
            self._scheduler.remove(session.id)
        if bye and not session.lab_dialect and not session.ended:
            self._send_bye(session, self.loop_time(), reason)
        log.info("session %s ended: %s", session.id, reason)
        owner = self.connections.get(session.connection_id)
        if owner is not None:
            owner.session_ended()

    def _send_bye(self, session: Session, at: float, reason: str) -> None:
        """RTCP BYE (after an SR for clock time ``at``: RFC 3550 §6.1)."""
        rtp_timestamp = session.stream.timestamp_at(at)
        packet = goodbye(session.stream, self.cname, self._wallclock(at), rtp_timestamp, reason)
        self._send_rtcp(session, packet)

    def _wallclock(self, at: float) -> float:
        """The Unix time of loop clock time ``at``: RTCP carries wall-clock NTP time."""
        return time.time() - (self.loop_time() - at)

    # media out -----------------------------------------------------------------------------

    def _send_frame(self, key: Hashable, deadline: float) -> bool:
        session = self.sessions.get(str(key))
        if session is None:
            return False
        stream = session.stream
        if stream.at_end:
            if not session.lab_dialect:
                self._send_bye(session, deadline, "end of stream")
            session.ended = True
            log.info("session %s reached the end of %s", session.id, session.media_path)
            return False
        index = stream.position
        if session.lab_dialect:
            payloads = [session.track.frames[index]]  # SETUP refused a clip with larger frames
        else:
            payloads = session.track.payloads(index, self.options.max_payload)
        destination = session.destination
        if isinstance(destination, InterleavedChannels):
            connection = self.connections.get(session.connection_id)
            if connection is None:
                return False
            if connection.write_buffer_size() > self.options.write_buffer_limit:
                stream.skip_frame()  # a slow reader loses frames, not the server's memory
                return True
            headers = stream.frame_headers(payloads, deadline)
            connection.write(interleaved_frame(destination.rtp, headers, payloads))
        else:
            headers = stream.frame_headers(payloads, deadline)
            self._send_udp((destination.host, destination.rtp_port), headers, payloads)
        now = self.loop_time()
        if not session.lab_dialect and now >= session.next_report:
            session.next_report = now + self.options.report_interval
            assert stream.last_timestamp is not None
            wallclock = self._wallclock(deadline)
            self._send_rtcp(
                session, sender_report(stream, self.cname, wallclock, stream.last_timestamp)
            )
        return True

    def _send_udp(
        self, address: tuple[str, int], headers: list[bytes], payloads: list[bytes]
    ) -> None:
        """Send a frame's packets with the tick's other frames or, with --pace, in bursts over
        part of the interval (counted from now: a late tick still spreads them)."""
        assert self._udp is not None and self._loop is not None
        if not self.options.pace:  # the default, on every frame: no plan, no copies
            self._udp.queue_frame(address, headers, payloads)
            return
        now = self._loop.time()
        for offset, start, end in frame_bursts(len(payloads), self.options.pace / self.options.fps):
            burst = (address, headers[start:end], payloads[start:end])
            if offset == 0:
                self._udp.send_frame(*burst)
            else:
                self._loop.call_at(now + offset, self._udp.send_frame, *burst)

    def _send_rtcp(self, session: Session, data: bytes) -> None:
        destination = session.destination
        if isinstance(destination, InterleavedChannels):
            connection = self.connections.get(session.connection_id)
            if connection is not None:
                connection.write(InterleavedFrame(destination.rtcp, data).to_bytes())
        elif isinstance(destination, UDPDestination) and self._rtcp_sock is not None:
            try:
                self._rtcp_sock.sendto(data, (destination.host, destination.rtcp_port))
            except OSError as exc:
                log.debug("RTCP to %s failed: %s", destination, exc)

    # RTCP in -------------------------------------------------------------------------------

    def rtcp_received(self, data: bytes, host: str, port: int) -> None:
        """A compound from a client: receiver reports are logged and count as activity."""
        try:
            packets = parse_compound(data)
        except ParseError as exc:
            log.debug("malformed RTCP from %s:%d: %s", host, port, exc)
            return
        reports = reception_reports(packets)
        now = self.loop_time()
        touched: set[str] = set()
        for report in reports:
            session = self.sessions.by_ssrc(report.block.ssrc)
            if session is None or session.peer_host != host:
                continue
            touched.add(session.id)
            session.touch(now)
            session.receiver_reports += 1
            log.info(
                "session %s: receiver report from %s: lost %.1f%% (%d total), jitter %.1f ms",
                session.id,
                host,
                report.fraction_lost * 100,
                report.block.cumulative_lost,
                report.jitter_ms,
            )
        if not touched and is_rtcp_report(packets):
            # A report without blocks (nothing received yet) still proves the client is there.
            for session in self.sessions:
                dest = session.destination
                if (
                    isinstance(dest, UDPDestination)
                    and dest.host == host
                    and dest.rtcp_port == port
                ):
                    session.touch(now)
                    session.receiver_reports += 1

    def interleaved_received(self, connection: RTSPConnection, frame: InterleavedFrame) -> None:
        """A $-frame from a client: RTCP on a session's channel counts as its activity."""
        for session in self.sessions.owned_by(connection.id):
            dest = session.destination
            if isinstance(dest, InterleavedChannels) and frame.channel == dest.rtcp:
                self.rtcp_received(frame.payload, connection.peer[0], 0)
                session.touch(self.loop_time())
                return

    # timeouts ------------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            self.expire_sessions(self.loop_time())

    def peer_unreachable(self, destination: tuple[str, int]) -> None:
        """An ICMP port unreachable about what we sent to ``destination``: past the limit,
        every UDP session sending there is torn down."""
        if self._unreachable.record(destination, self.loop_time()):
            for session in self.sessions.sending_to(*destination):
                self.sessions.remove(session.id)
                log.warning(
                    "session %s: %s:%d answers port unreachable: torn down",
                    session.id,
                    *destination,
                )
                self._end(session, "peer unreachable", bye=False)

    def expire_sessions(self, now: float) -> None:
        """End the sessions idle past their timeout (connections keep their own time)."""
        for session in self.sessions.expired(now):
            self.sessions.remove(session.id)
            log.warning("session %s %s: torn down", session.id, session.expiry(now))
            self._end(session, "session timeout", bye=True)
