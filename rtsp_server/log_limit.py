"""A bound on repeated log lines: what a peer can make the server log, it cannot make it log
without limit (a disk filled through the log is a denial of service too)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

BURST = 10  # lines of one kind let through per window: enough to see what is going on
WINDOW = 60.0  # seconds
MAX_KINDS = 1024  # kinds remembered at once; stale ones are forgotten beyond this


@dataclass
class _Window:
    started: float
    passed: int = 1
    held_back: int = 0


class RepeatLimiter(logging.Filter):
    """A logging filter letting through at most ``burst`` records of one kind (logger and
    message template) per ``window`` seconds; the first line of the next window says how many
    were held back."""

    def __init__(
        self,
        burst: int = BURST,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """True to log ``record``; False when its kind has used up this window."""
        now = self._clock()
        key = (record.name, str(record.msg))
        current = self._windows.get(key)
        if current is None or now - current.started >= self.window:
            if len(self._windows) >= MAX_KINDS:
                self._forget_before(now - self.window)
            self._windows[key] = _Window(now)
            if current is not None and current.held_back:
                # Appended to the template: the count carries no % for the formatter to read.
                record.msg = f"{record.msg} [{current.held_back} more like this held back]"
            return True
        if current.passed < self.burst:
            current.passed += 1
            return True
        current.held_back += 1
        return False

    def reset(self) -> None:
        """Forget every window (a new server, or a test, starts with a clean slate)."""
        self._windows.clear()

    def _forget_before(self, cutoff: float) -> None:
        stale = [key for key, window in self._windows.items() if window.started < cutoff]
        for key in stale or list(self._windows):
            del self._windows[key]


# One for the server's loggers whose lines a peer can cause.
PEER_DRIVEN = RepeatLimiter()
