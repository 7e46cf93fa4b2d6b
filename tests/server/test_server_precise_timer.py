"""The timerfd behind the pacing clock: fires once, never early, can be moved and cancelled,
and the scheduler sends the same frames in the same order with it as with asyncio's timers."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from rtsp_server.precise_timer import PreciseTimer
from rtsp_server.scheduler import BATCH_WINDOW, Scheduler

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")


def run(coroutine):
    return asyncio.run(coroutine)


async def fired_times(setup, wait: float = 0.15) -> list[tuple[float, float]]:
    """(the time it was set for, the loop time it fired) per firing."""
    loop = asyncio.get_running_loop()
    fired: list[float] = []
    timer = PreciseTimer.create(loop, lambda: fired.append(loop.time()))
    assert timer is not None
    when = setup(timer, loop.time())
    await asyncio.sleep(wait)
    timer.close()
    return [(when, at) for at in fired]


def test_fires_once_and_never_before_its_time():
    def setup(timer, now):
        timer.set(now + 0.02)
        return now + 0.02

    (firing,) = run(fired_times(setup))
    when, at = firing
    assert at >= when


def test_a_new_time_replaces_the_old_one():
    def setup(timer, now):
        timer.set(now + 0.01)
        timer.set(now + 0.05)
        return now + 0.05

    (firing,) = run(fired_times(setup))
    assert firing[1] >= firing[0]


def test_a_time_already_past_fires_at_once_and_cancel_stops_it():
    assert len(run(fired_times(lambda timer, now: timer.set(now - 1.0) or now))) == 1

    def cancelled(timer, now):
        timer.set(now + 0.02)
        timer.cancel()
        return now

    assert run(fired_times(cancelled)) == []


def test_close_releases_the_descriptor():
    async def open_and_close() -> tuple[int, int]:
        before = len(os.listdir("/proc/self/fd"))
        timer = PreciseTimer.create(asyncio.get_running_loop(), lambda: None)
        assert timer is not None
        during = len(os.listdir("/proc/self/fd"))
        timer.close()
        timer.close()  # twice is harmless
        return during - before, len(os.listdir("/proc/self/fd")) - before

    assert run(open_and_close()) == (1, 0)


@pytest.mark.parametrize("precise", [True, False])
def test_scheduler_sends_every_frame_in_deadline_order_never_early(precise):
    async def schedule() -> list[tuple[str, float, float]]:
        loop = asyncio.get_running_loop()
        sent: list[tuple[str, float, float]] = []

        def send(key, deadline):
            sent.append((key, deadline, loop.time()))
            return len([s for s in sent if s[0] == key]) < 5

        scheduler = Scheduler(loop, send, precise=precise)
        assert scheduler.precise is precise
        start = loop.time() + 0.01
        for i, key in enumerate("abc"):
            scheduler.add(key, 50.0, start + i * 0.004)
        await asyncio.sleep(0.25)
        scheduler.close()
        return sent

    sent = run(schedule())
    assert sorted(key for key, _, _ in sent) == sorted("abc" * 5)
    assert [deadline for _, deadline, _ in sent] == sorted(deadline for _, deadline, _ in sent)
    assert all(at >= deadline - BATCH_WINDOW for _, deadline, at in sent)
