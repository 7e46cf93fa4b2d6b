"""One RTSP connection: bytes in, parsed requests to the handler, responses and RTP out.

The connection knows the server only as a ``ConnectionOwner`` (admit it, release it, carry
out the handler's actions, take the client's interleaved RTCP), is given its handler, its
options and the loop's clock, and keeps its own time: a request must arrive whole within
``request_timeout``, and a connection that owns no session is closed after
``connection_idle_timeout`` without a complete message (bare CRLFs between messages do not
count, or a peer could hold a connection slot forever with two bytes every few seconds).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from rtsp_common.errors import ParseError
from rtsp_common.rtsp import InterleavedFrame, MessageParser, Request, Response
from rtsp_server.actions import Action, HandlerResult
from rtsp_server.handler import RequestHandler
from rtsp_server.log_limit import PEER_DRIVEN
from rtsp_server.media import MediaLibrary, MediaNotFound, MediaUnsupported, parse_media_uri
from rtsp_server.options import ServerOptions

log = logging.getLogger(__name__)
log.addFilter(PEER_DRIVEN)  # what a peer can make us log is bounded

MEDIA_METHODS = ("DESCRIBE", "SETUP")  # the requests that read a media file
WATCH_SLACK = 0.01  # s: the watchdog fires just past a deadline, so that it has passed
# Each connection reads into one buffer of its own: a fresh large buffer per read (asyncio's
# default) fragments the allocator until the server's RSS keeps creeping under any load.
READ_BUFFER = 64 * 1024

CR = 0x0D
LF = 0x0A


class ConnectionOwner(Protocol):
    """What a connection needs of the server that accepted it."""

    def admit(self, connection: RTSPConnection) -> bool:
        """Take ``connection`` in; False refuses it (the connection limit)."""
        ...

    def release(self, connection: RTSPConnection) -> None:
        """``connection`` is gone."""
        ...

    def perform(self, actions: Iterable[Action]) -> None:
        """Carry out a handler's actions (start or stop streams, end sessions)."""
        ...

    def interleaved_received(self, connection: RTSPConnection, frame: InterleavedFrame) -> None:
        """A $-frame the client sent (its RTCP reports over TCP)."""
        ...


# (connection id, peer host, local host, local port) -> the connection's request handler
HandlerFactory = Callable[[int, str, str, int], RequestHandler]


class RTSPConnection(asyncio.BufferedProtocol):
    """asyncio glue around a MessageParser and a RequestHandler for one TCP peer.

    ``clock`` is the event loop's monotonic clock, the one every session deadline uses.
    """

    def __init__(
        self,
        connection_id: int,
        owner: ConnectionOwner,
        new_handler: HandlerFactory,
        options: ServerOptions,
        clock: Callable[[], float],
    ) -> None:
        self.id = connection_id
        self.owner = owner
        self.options = options
        self.transport: asyncio.Transport | None = None
        self.handler: RequestHandler | None = None
        self.parser = MessageParser(
            max_header_bytes=options.max_request_bytes, max_body=options.max_request_bytes
        )
        self.peer = ("?", 0)
        self.last_message = 0.0
        self.partial_since: float | None = None  # when a still-incomplete message began
        self.closed = False
        self._new_handler = new_handler
        self._clock = clock
        self._flush_timer: asyncio.TimerHandle | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._watch_at = 0.0  # clock time the watchdog fires
        self._waiting: list[Request | Response | InterleavedFrame] = []  # behind a media load
        self._backlog_timer: asyncio.TimerHandle | None = None  # set while replies pile up
        self._read_buffer = memoryview(bytearray(READ_BUFFER))

    # asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Refuse the peer when the owner will not admit it, otherwise give it a handler."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        local = transport.get_extra_info("sockname") or ("0.0.0.0", 0)
        self.peer = (peer[0], peer[1])
        self.last_message = self._clock()
        if not self.owner.admit(self):
            self.closed = True
            transport.abort()
            return
        self.handler = self._new_handler(self.id, peer[0], local[0], local[1])
        transport.set_write_buffer_limits(high=self.options.reply_backlog_limit)
        self._watch()

    def pause_writing(self) -> None:
        """Unsent replies passed reply_backlog_limit: read no more requests until they drain
        (a peer pipelining without reading must not grow the server), close if they do not."""
        if self.closed or self.transport is None:
            return
        log.warning("%s:%d does not read its replies: its requests wait", *self.peer)
        self.transport.pause_reading()
        loop = asyncio.get_running_loop()
        self._backlog_timer = loop.call_later(self.options.request_timeout, self._backlog_stuck)

    def resume_writing(self) -> None:
        """The replies drained: read requests again."""
        if self._backlog_timer is not None:
            self._backlog_timer.cancel()
            self._backlog_timer = None
        if not self.closed and self.transport is not None:
            self.transport.resume_reading()

    def _backlog_stuck(self) -> None:
        self._backlog_timer = None
        if not self.closed and self.transport is not None:
            log.warning(
                "%s:%d read none of its replies for %.0f s: closed",
                *self.peer,
                self.options.request_timeout,
            )
            self.closed = True
            self.transport.abort()  # close() would wait for the replies it never reads

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the transport reads the peer's bytes: always this connection's one buffer."""
        return self._read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` arrived in the read buffer."""
        self.data_received(bytes(self._read_buffer[:nbytes]))

    def data_received(self, data: bytes) -> None:
        """Feed the parser; answer what completes."""
        if self.closed:
            return
        self._feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """End what the connection owned (its TCP interleaved sessions)."""
        self.closed = True
        if self._backlog_timer is not None:
            self._backlog_timer.cancel()
        self._cancel_flush()
        self._cancel_watchdog()
        if self.handler is not None:
            self.owner.release(self)
            self.owner.perform(self.handler.connection_closed())
            self.handler = None

    # timeouts -----------------------------------------------------------------------------

    def _watch(self) -> None:
        """Close a connection past its timeouts; otherwise look again at the next deadline."""
        self._watchdog = None
        if self.closed or self.handler is None:
            return
        now = self._clock()
        if (
            self.partial_since is not None
            and now - self.partial_since > self.options.request_timeout
        ):
            log.warning(
                "%s:%d sent an incomplete request for %.0f s: closed",
                *self.peer,
                now - self.partial_since,
            )
            self.close()
            return
        idle = now - self.last_message
        if idle > self.options.connection_idle_timeout and not self.handler.owns_sessions():
            log.info("%s:%d idle for %.0f s: closed", *self.peer, idle)
            self.close()
            return
        self._arm_watchdog(now)

    def _arm_watchdog(self, now: float) -> None:
        self._cancel_watchdog()
        idle_at = self.last_message + self.options.connection_idle_timeout
        if idle_at <= now:
            # Idle, but owning a session: session_ended() looks again when one ends.
            idle_at = now + self.options.connection_idle_timeout
        deadline = idle_at
        if self.partial_since is not None:
            deadline = min(deadline, self.partial_since + self.options.request_timeout)
        self._watch_at = deadline + WATCH_SLACK
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(max(self._watch_at - now, 0.0), self._watch)

    def session_ended(self) -> None:
        """A session this connection owned has ended: its idle timeout may apply again."""
        if not self.closed:
            self._cancel_watchdog()
            self._watch()

    def _cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    # parsing ------------------------------------------------------------------------------

    def _feed(self, data: bytes, flush: bool = False) -> None:
        assert self.handler is not None
        try:
            items = self.parser.flush() if flush else self.parser.feed(data)
        except ParseError as exc:
            for item in getattr(exc, "parsed", []):
                self._dispatch(item)
            result = self.handler.handle_parse_error(exc)
            log.info("%s:%d bad request: %s", *self.peer, exc)
            self._respond(None, result, time.perf_counter())
            self.close()
            return
        if items:
            self.last_message = self._clock()
        for item in items:
            self._dispatch(item)
            if self.closed:
                return
        if self.parser.buffered:
            if self.partial_since is None or items:
                self.partial_since = self._clock()  # a new message began
                if self.partial_since + self.options.request_timeout < self._watch_at:
                    self._arm_watchdog(self.partial_since)
            self._arm_flush()
        else:
            self.partial_since = None
            self._cancel_flush()

    def _looks_like_lab_request(self) -> bool:
        """LF-only text: the lab's client never ends a request with a blank line."""
        head = self.parser.partial_head
        return head[:1].isalpha() and LF in head and CR not in head

    def _arm_flush(self) -> None:
        self._cancel_flush()
        if self._looks_like_lab_request():
            self._flush_timer = asyncio.get_running_loop().call_later(
                self.options.lab_flush_delay, self._flush
            )

    def _cancel_flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None

    def _flush(self) -> None:
        self._flush_timer = None
        if not self.closed and self.parser.buffered and self._looks_like_lab_request():
            self._feed(b"", flush=True)

    # requests -----------------------------------------------------------------------------

    def _dispatch(self, item: Request | Response | InterleavedFrame) -> None:
        assert self.handler is not None
        if self._waiting:
            self._waiting.append(item)  # answered in order once the media has loaded
            return
        if isinstance(item, Request) and self._load_first(item):
            return
        if isinstance(item, Request):
            self._answer(item)
        elif isinstance(item, InterleavedFrame):
            self.owner.interleaved_received(self, item)
        else:
            log.debug("%s:%d sent a response (%d); ignored", *self.peer, item.status)

    def _load_first(self, request: Request) -> bool:
        """Read a media file not yet in memory in a worker thread, then answer ``request``.

        Loading validates every frame; on the event loop it would stall every stream.
        """
        if request.method not in MEDIA_METHODS:
            return False
        assert self.handler is not None
        if self.handler.access is not None and "Authorization" not in request.headers:
            return False  # answered 401 at once: no file is read for an unknown peer
        try:
            name = parse_media_uri(request.uri).name
        except (MediaNotFound, ParseError):
            return False  # the handler answers it (404, 400) without reading a file
        library = self.handler.library
        if library.is_loaded(name):
            return False
        self._waiting.append(request)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, _preload, library, name)
        future.add_done_callback(self._loaded)
        return True

    def _loaded(self, _future: asyncio.Future) -> None:
        waiting, self._waiting = self._waiting, []
        for index, item in enumerate(waiting):
            if self.closed:
                return
            if index == 0:
                assert isinstance(item, Request)
                self._answer(item)  # its media is in memory now (or known to be unusable)
            else:
                self._dispatch(item)

    def _answer(self, request: Request) -> None:
        assert self.handler is not None
        started = time.perf_counter()
        result = self.handler.handle(request, self._clock())
        self._respond(request, result, started)
        self.owner.perform(result.actions)
        if result.close:
            self.close()

    def _respond(self, request: Request | None, result: HandlerResult, started: float) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(result.response.to_bytes())
        elapsed = (time.perf_counter() - started) * 1000
        method, uri = (request.method, request.uri) if request is not None else ("-", "-")
        log.info(
            "%s:%d %s %s session=%s %d %.1fms",
            self.peer[0],
            self.peer[1],
            method,
            uri,
            result.session_id or "-",
            result.response.status,
            elapsed,
        )

    # output -------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue ``data`` (interleaved RTP/RTCP) unless the connection is closing."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def write_buffer_size(self) -> int:
        """Bytes queued but not yet sent: how far a TCP reader has fallen behind."""
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def close(self) -> None:
        """Close after what is queued has been written."""
        self.closed = True
        self._cancel_flush()
        self._cancel_watchdog()
        if self.transport is not None:
            self.transport.close()


def _preload(library: MediaLibrary, name: str) -> None:
    """Load ``name`` into the library's cache (errors are cached or answered by the handler)."""
    try:
        library.track(name)
    except (MediaNotFound, MediaUnsupported):
        pass
