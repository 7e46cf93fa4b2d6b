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
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

PEER_BUCKETS = 4096  # peer addresses hash into this many counters (two sharing one: stricter)


@dataclass(frozen=True)
class SharedCounts:
    """Counts that hold across worker processes: per worker, a row of ``buckets`` counters in
    shared memory that keys hash into (crc32), changed only under the file lock."""

    counts: Any  # a shared ctypes array of workers x buckets ints
    lock_path: str
    buckets: int = 1

    def try_take(self, index: int, key: str, maximum: int) -> bool:
        """Count one more of ``key`` for worker ``index``, unless all hold ``maximum``."""
        bucket = self._bucket(key)
        with _locked(self.lock_path):
            if self._held(bucket) >= maximum:
                return False
            self.counts[index * self.buckets + bucket] += 1
            return True

    def give_back(self, index: int, key: str) -> None:
        """Count one of ``key`` less for worker ``index``."""
        at = index * self.buckets + self._bucket(key)
        with _locked(self.lock_path):
            self.counts[at] = max(0, self.counts[at] - 1)

    def clear(self, index: int) -> None:
        """Forget worker ``index``'s counts (it died: what it held is gone with it)."""
        with _locked(self.lock_path):
            for at in range(index * self.buckets, (index + 1) * self.buckets):
                self.counts[at] = 0

    def held(self, key: str) -> int:
        """What all workers hold of ``key`` (as far as its bucket tells)."""
        return self._held(self._bucket(key))

    def _held(self, bucket: int) -> int:
        return sum(self.counts[bucket :: self.buckets])

    def _bucket(self, key: str) -> int:
        return zlib.crc32(key.encode()) % self.buckets if self.buckets > 1 else 0


@dataclass(frozen=True)
class SharedLimit:
    """A maximum that holds across worker processes: one count per worker."""

    maximum: int
    counts: Any  # a shared ctypes array, one int per worker
    lock_path: str

    def try_take(self, index: int) -> bool:
        """Count one more for worker ``index``, unless the total is at the maximum."""
        return self._shared.try_take(index, "", self.maximum)

    def give_back(self, index: int) -> None:
        """Count one less for worker ``index``."""
        self._shared.give_back(index, "")

    def clear(self, index: int) -> None:
        """Forget worker ``index``'s count (it died: what it held is gone with it)."""
        self._shared.clear(index)

    def total(self) -> int:
        """The count over all workers."""
        return self._shared.held("")

    @property
    def _shared(self) -> SharedCounts:
        return SharedCounts(self.counts, self.lock_path)


@dataclass(frozen=True)
class SharedPeerCounts(SharedCounts):
    """Sessions or connections per peer address across worker processes, so that the
    per-peer limits hold for the server."""

    buckets: int = PEER_BUCKETS


@dataclass(frozen=True)
class WorkerSlot:
    """Worker ``index`` of ``count``, with the server-wide session and connection limits and
    the sessions and connections per peer address."""

    index: int
    count: int
    sessions: SharedLimit
    connections: SharedLimit
    peers: SharedPeerCounts  # sessions per address
    peer_connections: SharedPeerCounts

    def owns(self, session_id: str) -> bool:
        """True when ``session_id`` is one this worker hands out."""
        return session_id.isdigit() and int(session_id) % self.count == self.index


@contextmanager
def _locked(lock_path: str) -> Iterator[None]:
    """The shared counts' file lock (flock(2)), held while the block runs."""
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
