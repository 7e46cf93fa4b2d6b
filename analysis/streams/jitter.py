"""Interarrival jitter (RFC 3550 §6.4.1, A.8), and its mean and maximum as Wireshark's RTP
stream analysis reports them, so that `check` and `tshark -z rtp,streams` can be compared.

J is the running estimate J += (|D| - J) / 16, where D is the difference in transit time
between a packet and the one before it. "The one before" is the latest packet whose
timestamp was not below any earlier one: a packet stamped in the past (video sent in
decoding order, B-frames) is measured against it and does not become the reference.
The maximum and mean leave out, as Wireshark does, the first packet, packets with the
marker bit (the start of a talkspurt, the end of a video frame), comfort noise, and
packets stamped in the past. For formats sent in decoding order (``decoding_order``:
H.264, H.265, MPEG-4 with B-frames) the packets stamped in the past do not enter the
estimate at all: their timestamps say when to show a frame, not when it was sent, and
would add the reordering of the codec to the jitter of the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

JITTER_GAIN = 16  # RFC 3550 A.8: J += (|D| - J) / 16
JITTER_CHUNK = 2048  # (16/15)**2048 stays far inside float range
PT_CN = 13  # RFC 3389 comfort noise
PT_CN_OLD = 19  # comfort noise in RFC 1890's table
RTP_MARKER_BIT = 0x80  # RFC 3550 §5.1: M is the top bit of the second octet
RTP_PT_MASK = 0x7F


@dataclass(frozen=True)
class JitterFigures:
    """The estimate after each packet (timestamp units), and mean and maximum in ms."""

    series: np.ndarray
    mean_ms: float
    max_ms: float
    last_ms: float


def _filter(d: np.ndarray, start: float) -> np.ndarray:
    """J_i for J_0 = ``start`` and J_i = J_{i-1} + (d_i - J_{i-1}) / 16, in closed form
    per chunk (a first-order filter is a scaled cumulative sum)."""
    out = np.zeros(len(d))
    keep = 1.0 - 1.0 / JITTER_GAIN
    j = start
    for a in range(0, len(d), JITTER_CHUNK):
        chunk = d[a : a + JITTER_CHUNK] / JITTER_GAIN
        k = np.arange(1, len(chunk) + 1)
        series = keep**k * (j + np.cumsum(chunk * keep ** -k.astype(float)))
        out[a : a + len(chunk)] = series
        j = float(series[-1])
    return out


def jitter_figures(
    arrival: np.ndarray,
    ext_ts: np.ndarray,
    b1: np.ndarray,
    rate: int,
    resync: np.ndarray | None = None,
    decoding_order: bool = False,
) -> JitterFigures:
    """Jitter of packets in arrival order: ``arrival`` in seconds, ``ext_ts`` unwrapped
    timestamps, ``b1`` the marker/payload-type octets, ``rate`` the clock in Hz.

    ``resync`` marks packets that follow a new PLAY (RFC 2326 §12.33: RTP-Info restates the
    timestamp mapping): the transit difference across a pause is not jitter."""
    n = len(arrival)
    series = np.zeros(n)
    if n < 2:
        return JitterFigures(series, 0.0, 0.0, 0.0)
    ts = ext_ts.astype(np.float64)
    before = np.concatenate(([-np.inf], np.maximum.accumulate(ts)[:-1]))
    in_sequence = ts >= before
    index = np.arange(n)
    last_in_sequence = np.maximum.accumulate(np.where(in_sequence, index, -1))
    ref = last_in_sequence[:-1]  # for packet i (1..n-1), the reference among 0..i-1
    d = np.abs((arrival[1:] - arrival[ref]) * rate - (ts[1:] - ts[ref]))
    if resync is not None:
        d[resync[1:]] = 0.0
    if decoding_order and not in_sequence.all():
        # The estimate moves on in-order packets only and holds across the others.
        moves = np.nonzero(in_sequence[1:])[0]
        filtered = _filter(d[moves], 0.0)
        held = np.zeros(n - 1)
        held[moves] = filtered
        last = np.maximum.accumulate(np.where(in_sequence[1:], np.arange(n - 1), -1))
        series[1:] = np.where(last >= 0, held[np.maximum(last, 0)], 0.0)
    else:
        series[1:] = _filter(d, 0.0)
    pt = b1[1:] & RTP_PT_MASK
    regular = in_sequence[1:] & ((b1[1:] & RTP_MARKER_BIT) == 0) & (pt != PT_CN) & (pt != PT_CN_OLD)
    to_ms = 1000.0 / rate
    values = series[1:]
    max_ms = float(values[regular].max()) * to_ms if regular.any() else 0.0
    return JitterFigures(series, _running_mean(values, regular) * to_ms, max_ms, values[-1] * to_ms)


def _running_mean(values: np.ndarray, regular: np.ndarray) -> float:
    """Wireshark's mean: after packet i (1-based among those after the first), a regular
    packet's value updates M = (M (i - 1) + J) / i and any other leaves M as it was."""
    i = np.arange(1, len(values) + 1, dtype=np.float64)
    a = np.where(regular, (i - 1) / i, 1.0)
    b = np.where(regular, values / i, 0.0)
    # M_n = sum_k b_k prod_{m > k} a_m; a_1 = 0 when the first is regular: start after it.
    first = b[0]
    a, b = a[1:], b[1:]
    if not len(a):
        return float(first)
    tail = np.cumprod(a[::-1])[::-1]  # prod_{m >= k} a_m
    after = np.concatenate((tail[1:], [1.0]))  # prod_{m > k} a_m
    return float(first * tail[0] + (b * after).sum())
