"""Frames waiting for an application that reads them at its own pace, bounded in count and in
bytes: a caller that stops reading loses the oldest frames, never its memory."""

from __future__ import annotations

import threading
import time
from collections import deque

from rtsp_client.receiver import Frame

MAX_QUEUED_FRAMES = 256  # frames held for a slow reader
# Seconds of high-quality 1080p MJPEG (about 0.5 MB a frame at 30 fps): slack for a reader
# that pauses, where 256 frames of the 8 MiB allowed each would be 2 GB.
DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024


class FrameQueue:
    """A thread-safe FIFO of frames and, last, the end of the session (None). Past
    ``max_frames`` or ``max_bytes`` the oldest frames are dropped and counted in ``dropped``;
    the newest frame is always kept, whatever its size."""

    def __init__(self, max_bytes: int = DEFAULT_QUEUE_BYTES, max_frames: int = MAX_QUEUED_FRAMES):
        self.max_bytes = max_bytes
        self.max_frames = max_frames
        self.dropped = 0
        self._items: deque[Frame | None] = deque()
        self._bytes = 0
        self._ready = threading.Condition()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def queued_bytes(self) -> int:
        """JPEG bytes held now."""
        return self._bytes

    def put(self, frame: Frame) -> None:
        """Add ``frame``, dropping the oldest frames while a bound is passed."""
        with self._ready:
            self._items.append(frame)
            self._bytes += len(frame.jpeg)
            while len(self._items) > 1 and (
                len(self._items) > self.max_frames or self._bytes > self.max_bytes
            ):
                oldest = self._items.popleft()
                if oldest is not None:  # the end marker is only ever last
                    self._bytes -= len(oldest.jpeg)
                    self.dropped += 1
            self._ready.notify()

    def end(self) -> None:
        """Mark the end of the session: readers get None once the frames before it are read."""
        with self._ready:
            if not self._items or self._items[-1] is not None:
                self._items.append(None)
            self._ready.notify_all()

    def get(self, timeout: float | None = None) -> tuple[bool, Frame | None]:
        """(True, the oldest frame or None at the end) or (False, None) after ``timeout``
        seconds without one. The end stays for later calls."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while not self._items:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False, None
                self._ready.wait(remaining)
            item = self._items[0]
            if item is None:
                return True, None
            self._items.popleft()
            self._bytes -= len(item.jpeg)
            return True, item
