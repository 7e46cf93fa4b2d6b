"""A small reorder buffer for RTP packets, bounded in time and in size.

UDP may deliver packets out of order. The buffer releases packets in sequence order,
holding a packet that arrives after a gap for at most ``max_delay`` seconds (or until
``max_packets`` wait) before giving up on the missing ones. Pure: time is passed in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from rtsp_common.rtp import SEQ_MOD, seq_diff

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_DELAY = 0.05  # seconds: longer than loopback reordering, short next to a frame period
DEFAULT_MAX_PACKETS = 64


@dataclass
class _Held(Generic[T]):
    seq: int
    item: T
    arrival: float = field(compare=False)


class ReorderBuffer(Generic[T]):
    """Release items in RTP sequence order; late items (behind what was released) are refused."""

    def __init__(
        self, max_delay: float = DEFAULT_MAX_DELAY, max_packets: int = DEFAULT_MAX_PACKETS
    ) -> None:
        self.max_delay = max_delay
        self.max_packets = max_packets
        self._next: int | None = None  # the sequence number we release next
        self._held: dict[int, _Held[T]] = {}
        self.late = 0  # refused: arrived after their slot was given up or already released
        self.skipped = 0  # sequence numbers given up as lost

    def __len__(self) -> int:
        return len(self._held)

    def reset(self) -> None:
        """Forget the sequence position (after a PLAY with a new range, say)."""
        self._next = None
        self._held.clear()

    def take_in_order(self, seq: int) -> bool:
        """True, and the position advanced past ``seq``, when it is the very next number and
        nothing waits: the caller uses the packet at once, without ``push`` holding it."""
        if not self.would_take_in_order(seq):
            return False
        self.took_in_order(seq)
        return True

    def would_take_in_order(self, seq: int) -> bool:
        """Whether ``take_in_order(seq)`` would take it (nothing changes)."""
        return not self._held and (self._next is None or seq == self._next)

    def took_in_order(self, last: int) -> None:
        """The caller used a run of packets in order, up to ``last``, each of which
        ``take_in_order`` would have taken: advance past it."""
        self._next = (last + 1) % SEQ_MOD

    def push(self, seq: int, item: T, now: float) -> list[T]:
        """Offer one packet; return those now releasable, in order."""
        if self.take_in_order(seq):  # the common case: in order, nothing waiting
            return [item]
        if self._next is None:
            self._next = seq
        ahead = seq_diff(seq, self._next)
        if ahead < 0 or seq in self._held:
            self.late += 1
            return []
        self._held[seq] = _Held(seq, item, now)
        released = self._release_run()
        while len(self._held) > self.max_packets:
            released.extend(self._skip_gap())
        released.extend(self.poll(now))
        return released

    def poll(self, now: float) -> list[T]:
        """Release what waited longer than ``max_delay`` behind a gap."""
        released: list[T] = []
        while self._held and now - self._oldest_arrival() >= self.max_delay:
            released.extend(self._skip_gap())
        return released

    def deadline(self) -> float | None:
        """When the next ``poll`` could release something, or None when nothing waits."""
        if not self._held:
            return None
        return self._oldest_arrival() + self.max_delay

    def flush(self) -> list[T]:
        """Release everything held, in order, giving up on every gap."""
        released: list[T] = []
        while self._held:
            released.extend(self._skip_gap())
        return released

    def _oldest_arrival(self) -> float:
        return min(held.arrival for held in self._held.values())

    def _release_run(self) -> list[T]:
        released: list[T] = []
        assert self._next is not None
        while self._next in self._held:
            released.append(self._held.pop(self._next).item)
            self._next = (self._next + 1) % SEQ_MOD
        return released

    def _skip_gap(self) -> list[T]:
        """Give up on the missing packets before the first held one; release the run after."""
        expected = self._next
        assert expected is not None
        first = min(self._held, key=lambda s: seq_diff(s, expected))
        gap = seq_diff(first, expected)
        self.skipped += gap
        logger.debug("reorder: giving up on %d packet(s) before seq %d", gap, first)
        self._next = first
        return self._release_run()
