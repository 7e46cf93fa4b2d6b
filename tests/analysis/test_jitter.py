"""RFC 3550 A.8 jitter on a stream's own clock: one late packet raises the estimate by
|D|/16; packets stamped in the past (B-frames) are measured against the latest in-order
packet and left out of the mean and maximum, as are marker packets (Wireshark's rules)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.streams.jitter import jitter_figures

PT_PCMU = 0
MARKER = 0x80


def figures(times, stamps, rate, b1=None):
    b1 = np.zeros(len(times), dtype=np.int64) if b1 is None else np.asarray(b1)
    return jitter_figures(
        np.asarray(times, dtype=float), np.asarray(stamps, dtype=np.int64), b1, rate
    )


def test_one_late_packet_raises_the_estimate_by_a_sixteenth_of_its_delay():
    # 8 kHz audio, 20 ms packets; the fourth arrives 10 ms late.
    times = [0.0, 0.02, 0.04, 0.07]
    got = figures(times, [0, 160, 320, 480], 8000)
    assert got.series[:3].tolist() == [0.0, 0.0, 0.0]
    assert got.last_ms == pytest.approx(10.0 / 16)
    assert got.max_ms == pytest.approx(10.0 / 16)


def test_the_same_arrival_pattern_gives_the_same_jitter_in_ms_on_any_clock():
    times = [0.0, 0.021, 0.039, 0.062, 0.08]
    at_8k = figures(times, [0, 160, 320, 480, 640], 8000)
    at_90k = figures(times, [0, 1800, 3600, 5400, 7200], 90000)
    assert at_8k.mean_ms == pytest.approx(at_90k.mean_ms)
    assert at_8k.max_ms == pytest.approx(at_90k.max_ms)


def test_a_frame_stamped_in_the_past_is_measured_against_the_latest_in_order_one():
    # I P B: the B frame's timestamp lies between I and P, sent after P (decoding order).
    times = [0.0, 0.04, 0.08]
    stamps = [0, 7200, 3600]
    got = figures(times, stamps, 90000)
    # Against P: 40 ms later in arrival, 40 ms earlier in media time: |D| = 80 ms.
    assert got.last_ms == pytest.approx(got.series[1] * 1000 / 90000 * 15 / 16 + 80.0 / 16)
    assert got.max_ms == pytest.approx(got.series[1] * 1000 / 90000)  # the B frame left out


def test_marker_packets_are_left_out_of_mean_and_maximum():
    times = [0.0, 0.02, 0.07]
    late_marked = figures(times, [0, 160, 320], 8000, [PT_PCMU, PT_PCMU, MARKER | PT_PCMU])
    assert late_marked.last_ms == pytest.approx(30.0 / 16)
    assert late_marked.max_ms == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=0.05), min_size=2, max_size=60),
    st.sampled_from([8000, 16000, 90000]),
)
def test_mean_matches_the_running_mean_recurrence(gaps, rate):
    times = np.cumsum([0.0, *gaps])
    stamps = np.arange(len(times)) * (rate // 50)
    got = figures(times, stamps, rate)
    mean = 0.0
    for i, value in enumerate(got.series[1:].tolist(), start=1):
        mean = (mean * (i - 1) + value) / i
    assert got.mean_ms == pytest.approx(mean * 1000 / rate, rel=1e-9, abs=1e-12)


def test_in_decoding_order_frames_stamped_in_the_past_do_not_move_the_estimate():
    # I P B B P B B sent at the frame rate in decoding order, B frames just after their P.
    times = [0.0, 0.12, 0.121, 0.122, 0.24, 0.241, 0.242]
    stamps = [0, 10800, 3600, 7200, 21600, 14400, 18000]
    b1 = np.zeros(7, dtype=np.int64)
    wire = jitter_figures(np.asarray(times), np.asarray(stamps), b1, 90000)
    held = jitter_figures(np.asarray(times), np.asarray(stamps), b1, 90000, decoding_order=True)
    assert wire.max_ms > 5.0  # A.8 on every packet: the codec's reordering looks like jitter
    assert held.max_ms == pytest.approx(0.0, abs=1e-9) and held.last_ms < 0.2
