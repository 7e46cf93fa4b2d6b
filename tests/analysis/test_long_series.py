"""A long stream's per-packet series: unwrapped exactly, and decimated for plots and JSON
with every spike kept."""

from __future__ import annotations

import numpy as np

from analysis.check import stream_dict
from analysis.streams.decimate import MAX_SERIES_POINTS, keep_extremes
from analysis.streams.rtp import SEQ_MODULUS, TS_MODULUS, CapturedStream, unwrapped
from analysis.wire.flows import Endpoint
from workbench.report.from_check import series_from_stream

PACKETS = 120_000
LATE_PACKET = 77_777  # arrives 250 ms late: the spike a plot must show
JUMP_AT = 90_001  # the sequence jumps by 500 here


def test_unwrapped_counts_on_past_the_wrap_and_steps_back_for_a_late_packet():
    values = np.asarray([65534, 65535, 0, 1, 0xFFFF])
    assert unwrapped(values, SEQ_MODULUS).tolist() == [65534, 65535, 65536, 65537, 65535]
    stamps = np.asarray([TS_MODULUS - 10, 5, 20])
    assert unwrapped(stamps, TS_MODULUS).tolist() == [
        TS_MODULUS - 10,
        TS_MODULUS + 5,
        TS_MODULUS + 20,
    ]
    assert unwrapped(np.zeros(0, dtype=np.int64), SEQ_MODULUS).tolist() == []


def test_a_short_series_is_kept_whole():
    values = np.arange(500.0)
    assert keep_extremes(500, [values]).tolist() == list(range(500))


def test_decimation_keeps_the_ends_and_every_bucket_extreme_within_the_limit():
    rng = np.random.default_rng(3)
    noise = rng.normal(size=PACKETS)
    noise[LATE_PACKET] = 40.0  # the one spike
    noise[123] = -35.0  # and the one dip
    walk = np.cumsum(rng.normal(size=PACKETS))
    walk[5:9] = np.nan  # NaN (no measurement) is never an extreme
    keep = keep_extremes(PACKETS, [noise, walk])
    assert len(keep) <= MAX_SERIES_POINTS
    assert keep[0] == 0 and keep[-1] == PACKETS - 1
    assert np.all(np.diff(keep) > 0)  # arrival order, no repeats
    assert {LATE_PACKET, 123, int(np.nanargmax(walk)), int(np.nanargmin(walk))} <= set(
        keep.tolist()
    )
    assert not np.isnan(walk[keep[1:-1]]).any()


def _long_stream() -> CapturedStream:
    times = 1_700_000_000.0 + np.arange(PACKETS) / 500.0
    times[LATE_PACKET:] += 0.25
    seq = (np.arange(PACKETS) + 65000) % SEQ_MODULUS  # wraps early on
    seq[JUMP_AT:] = (seq[JUMP_AT:] + 500) % SEQ_MODULUS
    ts = (np.arange(PACKETS) // 17 * 3000 + TS_MODULUS - 90_000) % TS_MODULUS
    stream = CapturedStream(
        Endpoint("10.0.0.1", 6000), Endpoint("10.0.0.2", 50000), 0x1234,
        pktno=np.arange(1, PACKETS + 1), time=times, seq=seq.astype(np.int64),
        ts=ts.astype(np.int64), b1=np.full(PACKETS, 26, dtype=np.int64),
        size=np.full(PACKETS, 1400, dtype=np.int64),
    )  # fmt: skip
    stream.jitter = np.linspace(0, 900, PACKETS)  # timestamp units at 90 kHz: 0 to 10 ms
    return stream


def test_report_series_of_a_long_stream_is_decimated_with_its_spike_and_jump():
    stream = _long_stream()
    series = series_from_stream(stream, origin=float(stream.time[0]))
    points = len(series.arrival)
    assert points <= MAX_SERIES_POINTS
    assert len(series.sequence) == len(series.timestamp) == len(series.jitter_ms) == points
    assert len(series.interarrival_ms) == points - 1
    assert abs(max(series.interarrival_ms) - 252.0) < 1e-3  # the late packet, not averaged
    assert series.sequence == sorted(series.sequence)  # unwrapped past 65535
    assert series.sequence[-1] - series.sequence[0] == PACKETS - 1 + 500
    assert series.timestamp[-1] > TS_MODULUS  # unwrapped past 2^32
    assert series.jitter_ms[0] == 0.0 and abs(series.jitter_ms[-1] - 10.0) < 1e-9


def test_json_series_of_a_long_stream_is_decimated_and_says_so():
    stream = _long_stream()
    data = stream_dict(stream)
    series = data["series"]
    kept = len(series["pktno"])
    assert kept <= MAX_SERIES_POINTS
    assert data["series_points"] == {"kept": kept, "of": PACKETS}
    assert all(len(values) == kept for values in series.values())
    assert LATE_PACKET + 1 in series["pktno"]  # packet numbers count from 1
    assert series["pktno"][0] == 1 and series["pktno"][-1] == PACKETS
