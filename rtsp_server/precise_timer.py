"""A one-shot timer on the event loop that fires on time to the microsecond (Linux timerfd).

asyncio's timers wake through the selector's timeout, which epoll takes in whole
milliseconds, rounded up: a frame due at 10.2 ms leaves at 11 ms, the next one due at
43.5 ms at 44 ms, so every session's frames leave up to 1 ms late by an amount that changes
from frame to frame. Receivers see that as RFC 3550 interarrival jitter. A timerfd armed
for the absolute deadline (CLOCK_MONOTONIC, the event loop's clock) becomes readable at the
deadline itself and wakes the same epoll at once. Where there is no timerfd (not Linux,
no libc symbol) ``PreciseTimer.create`` returns None and the caller keeps asyncio's timers.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import math
import os
import time
from collections.abc import Callable

from rtsp_common.linux_calls import libc_function

logger = logging.getLogger(__name__)

# timerfd_create(2), Linux: the clock and flags of <sys/timerfd.h>.
CLOCK_MONOTONIC = 1  # time.monotonic(), the clock asyncio's loop.time() reads
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = 0o2000000  # O_CLOEXEC on every Linux architecture with timerfd
TFD_TIMER_ABSTIME = 1
EXPIRATIONS_SIZE = 8  # a read returns the expiration count as a uint64


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _load_timerfd() -> tuple[Callable[..., int], Callable[..., int]] | None:
    # timerfd counts on the clock time.monotonic() reads (libc_function says if it is Linux).
    if time.get_clock_info("monotonic").implementation != "clock_gettime(CLOCK_MONOTONIC)":
        return None
    create = libc_function("timerfd_create", [ctypes.c_int, ctypes.c_int])
    settime = libc_function(
        "timerfd_settime",
        [ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Itimerspec), ctypes.POINTER(_Itimerspec)],
    )
    if create is None or settime is None:
        return None
    return create, settime


_TIMERFD = _load_timerfd()


class PreciseTimer:
    """Calls ``callback`` on the loop once the monotonic clock reaches the time ``set``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        if _TIMERFD is None:
            raise OSError("timerfd is not available on this system")
        create, self._settime = _TIMERFD
        fd = create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"timerfd_create: {os.strerror(code)}")
        self._fd: int | None = fd
        self._loop = loop
        self._callback = callback
        self._spec = _Itimerspec()  # it_interval stays zero: one-shot
        loop.add_reader(fd, self._expired)

    @classmethod
    def create(
        cls, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]
    ) -> PreciseTimer | None:
        """A timer, or None where timerfd is unavailable (asyncio's timers serve then)."""
        if _TIMERFD is None:
            return None
        try:
            return cls(loop, callback)
        except OSError as exc:
            logger.debug("no precise timer: %s", exc)
            return None

    def set(self, when: float) -> None:
        """Fire at monotonic time ``when`` (at once if it has passed); replaces any earlier
        setting."""
        # it_value zero would disarm: a deadline at or before the clock's epoch fires now.
        seconds = max(when, 1e-9)
        self._arm(math.floor(seconds), round((seconds - math.floor(seconds)) * 1e9))

    def cancel(self) -> None:
        """Disarm; a firing already read but not yet run still runs."""
        self._arm(0, 0)

    def close(self) -> None:
        """Disarm and release the descriptor."""
        fd = self._fd
        if fd is None:
            return
        self._fd = None
        self._loop.remove_reader(fd)
        os.close(fd)

    def _arm(self, seconds: int, nanoseconds: int) -> None:
        if self._fd is None:
            return
        if nanoseconds >= 1_000_000_000:
            seconds, nanoseconds = seconds + 1, nanoseconds - 1_000_000_000
        self._spec.it_value.tv_sec = seconds
        self._spec.it_value.tv_nsec = nanoseconds
        if self._settime(self._fd, TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None) < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"timerfd_settime: {os.strerror(code)}")

    def _expired(self) -> None:
        if self._fd is None:
            return
        try:
            os.read(self._fd, EXPIRATIONS_SIZE)
        except BlockingIOError:
            return  # re-armed after it became readable: the new time has not come yet
        self._callback()
