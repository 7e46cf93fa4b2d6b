"""Decoding a capture's JPEG frames: each distinct frame once, on every core, in bounded memory.

A server streaming one clip to many clients sends the same frames again and again; a
camera sends frames that all differ. Frames already decoded are found again by their exact
bytes (a short hint narrows the search, a full comparison decides), within a budget of
bytes kept; the others are decoded by a pool of threads, since Pillow lets go of the GIL
while it decodes. At most a few frames per thread wait, so a capture of many GB never
queues its whole video.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
import zlib
from concurrent.futures import Future, ThreadPoolExecutor

from PIL import Image

DECODE_SCALE = 8  # decode at 1/8 scale: every coefficient is still entropy-decoded
HINT_BYTES = 2048  # headers and the start of the scan: what tells most frames apart
KEPT_BYTES = 32 << 20  # decoded frames kept to be found again: a clip of ~1000 frames
WAITING_PER_THREAD = 4  # frames handed to the pool ahead of the decoding


def decode_problem(data: bytes, width: int, height: int) -> str:
    """Why the JPEG file does not decode to width x height (0: any size), or ""."""
    try:
        image = Image.open(io.BytesIO(data))
        size = image.size
        image.draft("RGB", (max(size[0] // DECODE_SCALE, 1), max(size[1] // DECODE_SCALE, 1)))
        image.load()
    except Exception as exc:  # Pillow raises many types for broken JPEG data
        return f"Pillow cannot decode it: {exc}"
    if width and size != (width, height):
        return f"decodes to {size[0]}x{size[1]}, header says {width}x{height}"
    return ""


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_thread_limit: int | None = None  # set in worker processes checking side by side


def limit_decode_threads(count: int | None) -> None:
    """Decode with at most ``count`` threads (None: no limit): for a worker process of
    several checking captures at once (``check --jobs``), which share the cores."""
    global _thread_limit
    _thread_limit = None if count is None else max(1, count)


def decode_threads() -> int:
    """Threads to decode with: one per usable core, unless limited."""
    return min(usable_cores(), _thread_limit or usable_cores())


class FrameDecoder:
    """Hands out the verdict of ``decode_problem`` for each JPEG file submitted, decoding
    each distinct file once (as far as ``KEPT_BYTES`` allows remembering them).

    Use it as a context manager: leaving it waits for every decode. Pillow's warnings on
    odd data are silenced meanwhile (warning filters are shared by all threads)."""

    def __init__(self, threads: int | None = None) -> None:
        threads = threads or decode_threads()
        self._pool = ThreadPoolExecutor(threads)
        self._room = threading.BoundedSemaphore(threads * WAITING_PER_THREAD)
        self._seen: dict[tuple, list[tuple[bytes, Future[str]]]] = {}
        self._kept = 0
        self._warnings = warnings.catch_warnings()
        self.decoded = 0  # files actually decoded (the others were found again)

    def __enter__(self) -> FrameDecoder:
        self._warnings.__enter__()
        warnings.simplefilter("ignore")
        return self

    def __exit__(self, *exc_info) -> None:
        self._pool.shutdown(wait=True)
        self._warnings.__exit__(*exc_info)

    def submit(self, data: bytes, width: int, height: int) -> Future[str]:
        """The verdict on one JPEG file, decoded now or found among those already seen."""
        hint = (len(data), width, height, zlib.crc32(memoryview(data)[:HINT_BYTES]))
        same_hint = self._seen.get(hint, [])
        for kept, verdict in same_hint:
            if kept == data:
                return verdict
        self._room.acquire()  # wait while enough frames are waiting already
        verdict = self._pool.submit(decode_problem, data, width, height)
        verdict.add_done_callback(lambda _: self._room.release())
        self.decoded += 1
        if self._kept + len(data) <= KEPT_BYTES:
            self._seen.setdefault(hint, same_hint).append((data, verdict))
            self._kept += len(data)
        return verdict
