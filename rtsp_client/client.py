"""The lab's synchronous client API over the asyncio core.

``RTSPClient(server_host, server_port, rtp_port, video_file)`` with ``setup()``,
``play()``, ``pause()`` and ``teardown()``, each blocking until the reply and raising
``RTSPError`` (status and reason) on a non-2xx. One background thread runs the event
loop; frames reach the caller through an iterator or a callback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from rtsp_client.connection import split_url, url_credentials
from rtsp_client.errors import ClientError, ConnectionLost
from rtsp_client.frame_queue import FrameQueue
from rtsp_client.options import ClientOptions
from rtsp_client.protocol import ClientCore
from rtsp_client.receiver import Frame
from rtsp_client.state import ClientState
from rtsp_client.stats import ReceptionStats
from rtsp_common.payload_formats import PayloadFormat
from rtsp_common.sdp import SessionDescription

logger = logging.getLogger(__name__)

T = TypeVar("T")
FrameCallback = Callable[[bytes, int, float, int], None]


class _LoopThread:
    """One daemon thread running one event loop for one client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="rtsp-client-loop", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return fn()

        return self.run(wrapper())

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


class RTSPClient:
    """A blocking RTSP client for one video stream (MJPEG, H.264 or H.265).

    The first four arguments are the lab's (``RTSPClient('localhost', 554, 1234,
    'movie.Mjpeg')``); ``rtp_port`` 0 picks a free even/odd UDP pair, and a non-zero one
    overrides ``options.rtp_port``. ``options`` says the rest (transport, dialect, timeouts).
    ``on_frame`` is called from the network thread with (jpeg, rtp_timestamp, arrival_time,
    index), and ``on_stream_stop`` (an attribute) with no arguments when the server says
    RTCP BYE or the connection goes; ``queue_frames=False`` skips the iterator's queue when
    only the callback is used.
    ``user`` and ``password`` answer a server that asks for them (they override ``options``).
    """

    def __init__(
        self,
        server_host: str,
        server_port: int,
        rtp_port: int = 0,
        video_file: str = "",
        options: ClientOptions | None = None,
        *,
        on_frame: FrameCallback | None = None,
        queue_frames: bool = True,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        options = options if options is not None else ClientOptions()
        if rtp_port:
            options = dataclasses.replace(options, rtp_port=int(rtp_port))
        if user is not None:
            options = dataclasses.replace(options, user=user, password=password)
        self._core = ClientCore(server_host, int(server_port), video_file, options)
        self.timeout = options.timeout
        self.on_frame = on_frame
        self.on_stream_stop: Callable[[], None] | None = None
        # False when only the callback consumes frames (nothing reads the iterator).
        self.queue_frames = queue_frames
        self._frames = FrameQueue(options.frame_queue_bytes)
        self._loop: _LoopThread | None = None
        self._connected = False
        self._ended = False
        self._watcher: asyncio.Future | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        options: ClientOptions | None = None,
        *,
        on_frame: FrameCallback | None = None,
        queue_frames: bool = True,
    ) -> RTSPClient:
        """A client for ``rtsp://[user:password@]host:port/path``; a user in ``options``
        takes precedence over the URL's."""
        host, port, path = split_url(url)
        credentials = url_credentials(url)
        if credentials is not None and (options is None or options.user is None):
            user, password = credentials
            options = dataclasses.replace(options or ClientOptions(), user=user, password=password)
        return cls(host, port, 0, path, options, on_frame=on_frame, queue_frames=queue_frames)

    # --- the lab's four requests ----------------------------------------------------

    def setup(self) -> None:
        """SETUP (after DESCRIBE in the standard dialect); binds the RTP port pair."""
        self._run(self._core.setup())

    def play(self, start: float | None = None) -> None:
        """PLAY, from ``start`` seconds into the presentation when given."""
        self._run(self._play(start))

    def pause(self) -> None:
        """PAUSE."""
        self._run(self._core.pause())

    def teardown(self) -> None:
        """TEARDOWN and release the media sockets; the frame iterator then ends."""
        try:
            self._run(self._core.teardown())
        finally:
            self._end()

    # --- the rest ------------------------------------------------------------------

    def options(self) -> list[str]:
        """OPTIONS: the methods the server supports."""
        return self._run(self._core.options())

    def describe(self) -> SessionDescription:
        """DESCRIBE: the parsed SDP (the text is in ``sdp_text``)."""
        return self._run(self._core.describe())

    @property
    def sdp_text(self) -> str:
        """The SDP body of the last DESCRIBE reply."""
        return self._core.info.sdp_text

    @property
    def media_format(self) -> PayloadFormat:
        """The stream's payload format (JPEG, H264, H265) as the SDP names it; UnsupportedMedia
        when the client cannot read it."""
        return self._core.connection.media_format()

    @property
    def stream_header(self) -> bytes:
        """After SETUP: what a recording of the stream starts with (the SDP's H.264/H.265
        parameter sets in Annex B form; empty for JPEG)."""
        receiver = self._core.receiver
        return receiver.stream_header if receiver is not None else b""

    @property
    def state(self) -> ClientState:
        """INIT, READY or PLAYING."""
        return self._core.connection.state.state

    @property
    def rtp_port(self) -> int:
        """The local RTP port (after SETUP when it was 0)."""
        return self._core.connection.rtp_port

    @property
    def session_id(self) -> str | None:
        """The server's session identifier after SETUP."""
        return self._core.info.session_id

    @property
    def core(self) -> ClientCore:
        """The asyncio core (its timings and session info)."""
        return self._core

    def stats(self) -> ReceptionStats:
        """Reception statistics so far."""
        if self._loop is None:
            return ReceptionStats()
        stats = self._loop.call(self._core.stats)
        return dataclasses.replace(stats, frames_not_read=self._frames.dropped)

    def frames(self, timeout: float | None = None) -> Iterator[Frame]:
        """Yield frames as they arrive; stops after TEARDOWN, when the server goes away,
        or when no frame came for ``timeout`` seconds (None waits as long as it takes)."""
        while True:
            _, frame = self._frames.get(timeout)
            if frame is None:  # the end, or nothing within the timeout
                return
            yield frame

    def next_frame(self, timeout: float | None = None) -> Frame | None:
        """The next frame, or None after ``timeout`` seconds or once the session ended."""
        return self._frames.get(timeout)[1]

    @property
    def stream_ended(self) -> bool:
        """True once the server said RTCP BYE for our source (end of stream or shutdown)."""
        receiver = self._core.receiver
        return receiver is not None and receiver.bye

    @property
    def first_packet_time(self) -> float | None:
        """When the first RTP packet arrived (``time.time()``), or None."""
        return self._core.first_packet_time

    @property
    def connection_closed(self) -> bool:
        """True once the RTSP connection is gone."""
        return self._core.closed.is_set()

    @property
    def close_reason(self) -> str | None:
        """Why the connection ended, when it did."""
        return self._core.close_reason

    def close(self) -> None:
        """Drop the connection without TEARDOWN and stop the background thread."""
        if self._loop is not None:
            try:
                self._loop.run(self._shutdown(), timeout=self.timeout)
            except Exception as exc:  # closing must always finish
                logger.debug("close: %s", exc)
            self._loop.stop()
            self._loop = None
        self._end()

    def __enter__(self) -> RTSPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._connected and self.state is not ClientState.INIT and not self.connection_closed:
            try:
                self.teardown()
            except ClientError as err:
                logger.debug("teardown on exit: %s", err)
        self.close()

    # --- plumbing ------------------------------------------------------------------

    def _ensure_connected(self) -> _LoopThread:
        if self._loop is None:
            self._loop = _LoopThread()
            self._loop.call(lambda: self._core.add_listener(self._on_frame))
            self._loop.call(lambda: self._core.add_stop_listener(self._on_stream_stop))
        if not self._connected:
            self._loop.run(self._core.connect())
            self._connected = True
            # Watch only a connection that exists: a watcher left pending by a refused
            # connect is reported as "Task was destroyed but it is pending!" at exit.
            self._watcher = self._loop.call(lambda: asyncio.ensure_future(self._watch_close()))
        return self._loop

    async def _play(self, start: float | None) -> None:
        await self._core.play(start)
        if self._core.receiver is not None:
            # A new run of the stream: the BYE that ended the last one no longer holds.
            self._core.receiver.bye = False

    async def _shutdown(self) -> None:
        await self._core.close()
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)

    async def _watch_close(self) -> None:
        await self._core.closed.wait()
        self._end()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            loop = self._ensure_connected()
        except BaseException:
            coro.close()
            raise
        if self.connection_closed:
            coro.close()
            raise ConnectionLost(self.close_reason or "connection closed")
        return loop.run(coro)

    def _on_frame(self, frame: Frame) -> None:
        if self.on_frame is not None:
            try:
                self.on_frame(frame.jpeg, frame.timestamp, frame.arrival, frame.index)
            except Exception:
                logger.exception("on_frame callback failed")
        if self.queue_frames:
            self._frames.put(frame)  # a slow reader loses the oldest frames, counted

    def _on_stream_stop(self) -> None:
        if self.on_stream_stop is not None:
            self.on_stream_stop()

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._frames.end()
