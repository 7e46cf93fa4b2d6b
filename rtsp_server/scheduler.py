"""One pacing clock for every playing session, against absolute deadlines.

Frame n of a play run leaves at ``start + n / fps``: deadlines are computed, never accumulated
from sleeps, so lateness in one tick does not push every later frame back. A session's run
starts in its phase slot (``Session.first_frame_at``), so sessions take turns in the interval.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from rtsp_server.precise_timer import PreciseTimer

log = logging.getLogger(__name__)

BATCH_WINDOW = 0.0005  # s: deadlines this close to now go out in the same tick
RESYNC_LAG = 1.0  # s: a session this far behind restarts its schedule instead of bursting


@dataclass
class _Run:
    key: Hashable
    start: float
    fps: float
    sent: int = 0  # frames sent in this run
    generation: int = 0

    def deadline(self) -> float:
        return self.start + self.sent / self.fps


class PacingQueue:
    """Deadlines of every playing session (pure: the caller supplies the time)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, Hashable]] = []
        self._runs: dict[Hashable, _Run] = {}
        self._counter = 0
        self._generation = 0

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._runs

    def add(self, key: Hashable, fps: float, start: float) -> None:
        """Schedule ``key``'s first frame at ``start`` and the following every 1/fps."""
        self._generation += 1
        run = _Run(key, start, fps, generation=self._generation)
        self._runs[key] = run
        self._push(run)

    def remove(self, key: Hashable) -> None:
        """Stop pacing ``key`` (unknown keys are ignored)."""
        self._runs.pop(key, None)  # its heap entries go stale and are skipped

    def _push(self, run: _Run) -> None:
        self._counter += 1
        heapq.heappush(self._heap, (run.deadline(), self._counter, run.generation, run.key))

    def _live(self, entry: tuple[float, int, int, Hashable]) -> _Run | None:
        run = self._runs.get(entry[3])
        return run if run is not None and run.generation == entry[2] else None

    def next_deadline(self) -> float | None:
        """The earliest deadline of a live run, or None when nothing is paced."""
        while self._heap and self._live(self._heap[0]) is None:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[tuple[Hashable, float]]:
        """Keys whose deadline has come, with that deadline; each is rescheduled one frame on."""
        due = []
        while self._heap and self._heap[0][0] <= now + BATCH_WINDOW:
            entry = heapq.heappop(self._heap)
            run = self._live(entry)
            if run is None:
                continue
            due.append((run.key, entry[0]))
            run.sent += 1
            if now - run.deadline() > RESYNC_LAG:
                log.warning(
                    "session %s fell %.1f s behind: rescheduling", run.key, now - run.deadline()
                )
                run.start, run.sent = now, 1
            self._push(run)
        return due


class Scheduler:
    """Drives a PacingQueue from the event loop with a single timer: a timerfd where the
    system has one (``rtsp_server.precise_timer``: on time to the microsecond, where
    asyncio's own timers fire up to 1 ms late by a varying amount), else asyncio's."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        send: Callable[[Hashable, float], bool],
        precise: bool = True,
        flush: Callable[[], object] | None = None,
    ) -> None:
        """``send(key, deadline)`` sends one frame; False ends the key's run. ``precise``
        False keeps asyncio's timers even where a timerfd is available. ``flush()`` runs at
        the end of every tick: the frames ``send`` queued leave together."""
        self._loop = loop
        self._send = send
        self._flush = flush
        self.queue = PacingQueue()
        self._precise = PreciseTimer.create(loop, self._tick) if precise else None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None  # when the armed timer fires; None: unarmed

    def __len__(self) -> int:
        return len(self.queue)

    @property
    def precise(self) -> bool:
        """True when the timer is a timerfd."""
        return self._precise is not None

    def add(self, key: Hashable, fps: float, start: float | None = None) -> None:
        """Pace ``key`` from clock time ``start`` (now by default)."""
        self.queue.add(key, fps, self._loop.time() if start is None else start)
        self._arm()

    def remove(self, key: Hashable) -> None:
        """Stop pacing ``key``; the timer is left to fire and find nothing due."""
        self.queue.remove(key)

    def close(self) -> None:
        """Cancel the timer and release it (at shutdown)."""
        self._disarm()
        if self._precise is not None:
            self._precise.close()
            self._precise = None

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._timer_at is not None and self._precise is not None:
            self._precise.cancel()
        self._timer_at = None

    def _arm(self) -> None:
        when = self.queue.next_deadline()
        if when is None:
            self._disarm()
            return
        if self._timer_at is not None and self._timer_at <= when:
            return
        self._timer_at = when
        if self._precise is not None:
            self._precise.set(when)
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._timer_at = None
        try:
            for key, deadline in self.queue.pop_due(self._loop.time()):
                try:
                    keep = self._send(key, deadline)
                except Exception:  # one session's failure must not stop every other stream
                    log.exception("sending a frame of %s failed", key)
                    keep = False
                if not keep:
                    self.queue.remove(key)
        finally:
            if self._flush is not None:
                self._flush()
        self._arm()
