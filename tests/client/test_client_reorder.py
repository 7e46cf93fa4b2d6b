"""The reorder buffer: sequence order out, bounded wait, bounded size."""

from __future__ import annotations

from rtsp_client.reorder import ReorderBuffer


def test_in_order_packets_pass_straight_through():
    buf = ReorderBuffer(max_delay=0.05)
    assert [buf.push(s, s, 0.0) for s in range(3)] == [[0], [1], [2]]
    assert len(buf) == 0


def test_swapped_packets_come_out_in_order():
    buf = ReorderBuffer(max_delay=0.05)
    assert buf.push(0, "a", 0.0) == ["a"]
    assert buf.push(2, "c", 0.001) == []
    assert buf.push(1, "b", 0.002) == ["b", "c"]
    assert buf.skipped == 0


def test_a_gap_is_given_up_after_max_delay():
    buf = ReorderBuffer(max_delay=0.05)
    buf.push(0, 0, 0.0)
    assert buf.push(2, 2, 0.01) == []
    assert buf.deadline() == 0.01 + 0.05
    assert buf.poll(0.03) == []
    assert buf.poll(0.07) == [2]
    assert buf.skipped == 1
    # The missing packet arriving now is late and refused.
    assert buf.push(1, 1, 0.08) == []
    assert buf.late == 1


def test_size_bound_releases_early():
    buf = ReorderBuffer(max_delay=10.0, max_packets=4)
    buf.push(0, 0, 0.0)
    out = []
    for s in range(2, 8):
        out += buf.push(s, s, 0.0)
    assert out == [2, 3, 4, 5, 6, 7][: len(out)] and out
    assert len(buf) <= 4


def test_order_across_the_sequence_wrap():
    buf = ReorderBuffer()
    assert buf.push(65535, "x", 0.0) == ["x"]
    assert buf.push(1, "z", 0.0) == []
    assert buf.push(0, "y", 0.0) == ["y", "z"]


def test_duplicates_are_refused():
    buf = ReorderBuffer()
    buf.push(0, 0, 0.0)
    buf.push(2, 2, 0.0)
    assert buf.push(2, 2, 0.0) == []
    assert buf.push(0, 0, 0.0) == []
    assert buf.late == 2


def test_flush_releases_everything_in_order():
    buf = ReorderBuffer()
    buf.push(10, 10, 0.0)
    buf.push(13, 13, 0.0)
    buf.push(12, 12, 0.0)
    assert buf.flush() == [12, 13]
    assert len(buf) == 0
