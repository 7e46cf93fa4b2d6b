"""One RTSP connection: bytes in, parsed requests to the handler, responses and RTP out."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from rtsp_common.errors import ParseError
from rtsp_common.rtsp import InterleavedFrame, MessageParser, Request, Response
from rtsp_server.handler import HandlerResult, RequestHandler
from rtsp_server.media import MediaLibrary, MediaNotFound, MediaUnsupported, parse_media_uri

if TYPE_CHECKING:
    from rtsp_server.server import RTSPServer

log = logging.getLogger(__name__)

MEDIA_METHODS = ("DESCRIBE", "SETUP")  # the requests that read a media file

CR = 0x0D
LF = 0x0A


class RTSPConnection(asyncio.Protocol):
    """asyncio glue around a MessageParser and a RequestHandler for one TCP peer."""

    def __init__(self, server: RTSPServer, connection_id: int) -> None:
        self.server = server
        self.id = connection_id
        self.transport: asyncio.Transport | None = None
        self.handler: RequestHandler | None = None
        self.parser = MessageParser(
            max_header_bytes=server.max_request_bytes, max_body=server.max_request_bytes
        )
        self.peer = ("?", 0)
        self.last_bytes = 0.0
        self.partial_since: float | None = None  # when a still-incomplete message began
        self._flush_timer: asyncio.TimerHandle | None = None
        self._waiting: list[Request | Response | InterleavedFrame] = []  # behind a media load
        self.closed = False

    # asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Refuse the peer over ``max_connections``, otherwise give it a handler."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        local = transport.get_extra_info("sockname") or ("0.0.0.0", 0)
        self.peer = (peer[0], peer[1])
        self.last_bytes = self.server.loop_time()
        if len(self.server.connections) >= self.server.max_connections:
            log.warning(
                "%s:%d refused: %d connections open", *self.peer, len(self.server.connections)
            )
            self.closed = True
            transport.abort()
            return
        self.handler = RequestHandler(
            self.server.config,
            self.server.library,
            self.server.sessions,
            self.id,
            peer_host=peer[0],
            local_host=local[0],
            local_port=local[1],
        )
        self.server.connections[self.id] = self

    def data_received(self, data: bytes) -> None:
        """Feed the parser; answer what completes."""
        if self.closed:
            return
        self.last_bytes = self.server.loop_time()
        self._feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """End what the connection owned (its TCP interleaved sessions)."""
        self.closed = True
        self._cancel_flush()
        if self.server.connections.pop(self.id, None) is not None and self.handler is not None:
            self.server.perform(self.handler.connection_closed())

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
        for item in items:
            self._dispatch(item)
            if self.closed:
                return
        if self.parser.buffered:
            if self.partial_since is None or items:
                self.partial_since = self.server.loop_time()  # a new message began
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
                self.server.lab_flush_delay, self._flush
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
            self.server.interleaved_received(self, item)
        else:
            log.debug("%s:%d sent a response (%d); ignored", *self.peer, item.status)

    def _load_first(self, request: Request) -> bool:
        """Read a media file not yet in memory in a worker thread, then answer ``request``.

        Loading validates every frame; on the event loop it would stall every stream.
        """
        if request.method not in MEDIA_METHODS:
            return False
        try:
            name = parse_media_uri(request.uri).name
        except MediaNotFound:
            return False
        library = self.server.library
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
        result = self.handler.handle(request, self.server.loop_time())
        self._respond(request, result, started)
        self.server.perform(result.actions)
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
        if self.transport is not None:
            self.transport.close()


def _preload(library: MediaLibrary, name: str) -> None:
    """Load ``name`` into the library's cache (errors are cached or answered by the handler)."""
    try:
        library.track(name)
    except (MediaNotFound, MediaUnsupported):
        pass
