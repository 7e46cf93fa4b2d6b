"""Who a worker process is among its siblings, and the limits they hold together.

With ``--workers N`` (rtsp_server/workers.py) N processes share the RTSP port. Each knows
its index, owns the session ids whose value is its index modulo N (so any worker can tell
whose a session is from its id alone), and counts its sessions and connections in shared
memory, so that ``--max-sessions`` and ``--max-connections`` hold for the server as a whole.
Counts change under a file lock (flock(2)): the kernel releases it when its holder dies, so
a worker killed mid-update cannot wedge the others, and the supervisor clears a dead worker's
counts before its replacement starts.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SharedLimit:
    """A maximum that holds across worker processes: per-worker counts in shared memory."""

    maximum: int
    counts: Any  # a shared ctypes array, one int per worker; changed only under the file lock
    lock_path: str

    def try_take(self, index: int) -> bool:
        """Count one more for worker ``index``, unless the total is at the maximum."""
        with self._locked():
            if sum(self.counts) >= self.maximum:
                return False
            self.counts[index] += 1
            return True

    def give_back(self, index: int) -> None:
        """Count one less for worker ``index``."""
        with self._locked():
            self.counts[index] = max(0, self.counts[index] - 1)

    def clear(self, index: int) -> None:
        """Forget worker ``index``'s counts (it died: what it held is gone with it)."""
        with self._locked():
            self.counts[index] = 0

    def total(self) -> int:
        """The count over all workers."""
        return sum(self.counts)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.lock_path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


@dataclass(frozen=True)
class WorkerSlot:
    """Worker ``index`` of ``count``, with the server-wide session and connection limits."""

    index: int
    count: int
    sessions: SharedLimit
    connections: SharedLimit

    def owns(self, session_id: str) -> bool:
        """True when ``session_id`` is one this worker hands out."""
        return session_id.isdigit() and int(session_id) % self.count == self.index
