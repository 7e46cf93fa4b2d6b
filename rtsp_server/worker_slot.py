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
from contextlib import AbstractContextManager, contextmanager
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

    def _locked(self) -> AbstractContextManager[None]:
        return _locked(self.lock_path)


PEER_BUCKETS = 4096  # peer addresses hash into this many counters (two sharing one: stricter)


@dataclass(frozen=True)
class SharedPeerCounts:
    """Sessions per peer address across worker processes: per worker, a row of counters the
    addresses hash into (crc32), so that --max-sessions-per-peer holds for the server."""

    counts: Any  # a shared ctypes array of workers x PEER_BUCKETS ints
    lock_path: str

    def try_take(self, index: int, peer: str, maximum: int) -> bool:
        """Count one more session of ``peer`` for worker ``index``, unless it holds ``maximum``."""
        bucket = self._bucket(peer)
        with _locked(self.lock_path):
            if self._held(bucket) >= maximum:
                return False
            self.counts[index * PEER_BUCKETS + bucket] += 1
            return True

    def give_back(self, index: int, peer: str) -> None:
        """Count one session of ``peer`` less for worker ``index``."""
        at = index * PEER_BUCKETS + self._bucket(peer)
        with _locked(self.lock_path):
            self.counts[at] = max(0, self.counts[at] - 1)

    def clear(self, index: int) -> None:
        """Forget worker ``index``'s sessions (it died with them)."""
        with _locked(self.lock_path):
            for at in range(index * PEER_BUCKETS, (index + 1) * PEER_BUCKETS):
                self.counts[at] = 0

    def held(self, peer: str) -> int:
        """Sessions ``peer`` holds in every worker (as far as its bucket tells)."""
        return self._held(self._bucket(peer))

    def _held(self, bucket: int) -> int:
        workers = len(self.counts) // PEER_BUCKETS
        return sum(self.counts[w * PEER_BUCKETS + bucket] for w in range(workers))

    @staticmethod
    def _bucket(peer: str) -> int:
        return zlib.crc32(peer.encode()) % PEER_BUCKETS


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
