"""The per-packet shortcuts of the receive path give the same figures as the general path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from stats_figures import figures

from rtsp_client.reorder import ReorderBuffer
from rtsp_client.stats import SEQ_MOD, StatsAccumulator

# A stream as steps between sequence numbers: mostly +1, with losses, duplicates,
# late packets, and jumps big enough to look like a restarted sender (RFC 3550 A.1).
STEPS = st.lists(
    st.one_of(
        st.just(1),
        st.just(1),
        st.just(1),
        st.integers(min_value=2, max_value=40),
        st.integers(min_value=-120, max_value=0),
        st.integers(min_value=2900, max_value=40000),
    ),
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(min_value=0, max_value=SEQ_MOD - 1),
    steps=STEPS,
    probation=st.sampled_from([0, 2]),
)
def test_in_order_shortcut_matches_rfc3550_a1(start, steps, probation):
    fast = StatsAccumulator(probation=probation)
    general = StatsAccumulator(probation=probation)
    seq, accepted = start, []
    for i, step in enumerate([0, *steps]):
        seq = (seq + step) % SEQ_MOD
        timestamp, arrival, size = (i * 3000 + (i % 7) * 11) % (1 << 32), i / 300, 100 + i
        # The general path, as ``packet`` ran it before the shortcut existed.
        if general._first_arrival is None:
            general._first_arrival = arrival
        general._last_arrival = arrival
        counted = general._account(seq, timestamp, arrival, size)
        accepted.append((fast.packet(seq, timestamp, arrival, size), counted))
    assert all(a == b for a, b in accepted)
    assert figures(fast) == figures(general)


def test_in_order_shortcut_counts_a_wrap_as_a_cycle():
    stats = StatsAccumulator()
    for i, seq in enumerate([65534, 65535, 0, 1]):
        assert stats.packet(seq, i * 3000, i / 30, 10)
    assert (stats.cycles, stats.extended_max) == (SEQ_MOD, SEQ_MOD + 1)
    assert (stats.expected, stats.lost) == (4, 0)


def test_take_in_order_only_for_the_next_number_with_nothing_waiting():
    buffer: ReorderBuffer[str] = ReorderBuffer(max_delay=0.05)
    assert buffer.take_in_order(10)  # the first packet sets the position
    assert buffer.take_in_order(11)
    assert not buffer.take_in_order(13)  # a gap: the caller must push it
    assert buffer.push(13, "13", now=0.0) == []
    assert not buffer.take_in_order(12)  # 13 waits, so 12 goes through push too
    assert buffer.push(12, "12", now=0.001) == ["12", "13"]
    assert buffer.take_in_order(14)
    assert buffer.push(14, "late", now=0.002) == [] and buffer.late == 1


def test_take_in_order_wraps_the_sequence_number():
    buffer: ReorderBuffer[str] = ReorderBuffer()
    assert buffer.take_in_order(SEQ_MOD - 1)
    assert buffer.take_in_order(0)
    assert not buffer.take_in_order(SEQ_MOD - 1)
