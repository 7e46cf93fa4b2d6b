"""The pacing queue: absolute deadlines per session, lateness does not accumulate."""

from __future__ import annotations

import pytest

from rtsp_server.scheduler import RESYNC_LAG, PacingQueue


def test_deadlines_are_start_plus_n_over_fps():
    queue = PacingQueue()
    queue.add("a", fps=25, start=100.0)
    sent = []
    now = 100.0
    while len(sent) < 10:
        for _key, deadline in queue.pop_due(now):
            sent.append(deadline)
        now = queue.next_deadline()
    assert sent == pytest.approx([100.0 + n / 25 for n in range(10)])


def test_a_late_tick_does_not_shift_later_frames():
    queue = PacingQueue()
    queue.add("a", fps=10, start=0.0)
    assert [d for _, d in queue.pop_due(0.0)] == [0.0]
    # the loop wakes 35 ms late for frame 1; frame 2 is still due at 0.2, not 0.235
    assert [d for _, d in queue.pop_due(0.135)] == [pytest.approx(0.1)]
    assert queue.next_deadline() == pytest.approx(0.2)


def test_many_sessions_share_one_queue_in_deadline_order():
    queue = PacingQueue()
    queue.add("slow", fps=10, start=0.0)
    queue.add("fast", fps=40, start=0.0)
    order = []
    now = 0.0
    while now < 0.2:
        order += [k for k, _ in queue.pop_due(now)]
        now = queue.next_deadline()
    assert order.count("fast") == 8 and order.count("slow") == 2


def test_removed_and_readded_sessions_leave_no_stale_deadlines():
    queue = PacingQueue()
    queue.add("a", fps=10, start=0.0)
    queue.remove("a")
    assert queue.next_deadline() is None and len(queue) == 0
    queue.add("a", fps=10, start=5.0)
    queue.add("a", fps=10, start=7.0)  # a new PLAY replaces the previous run
    assert [d for _, d in queue.pop_due(7.0)] == [7.0]
    assert queue.pop_due(6.0) == []


def test_far_behind_session_resynchronises_instead_of_bursting():
    queue = PacingQueue()
    queue.add("a", fps=10, start=0.0)
    due = queue.pop_due(RESYNC_LAG + 5.0)
    assert len(due) == 1
    assert queue.next_deadline() == pytest.approx(RESYNC_LAG + 5.1)
