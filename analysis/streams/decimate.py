"""Fewer points of a long per-packet series for plots and JSON, its spikes kept.

A plot of a million packets draws no more than its pixels; averaging or striding would
hide the one late packet a reader looks for. The packets are cut into equal buckets and
each bucket keeps its first and last packet and, for every series given, the packets of
its minimum and its maximum: every extreme of the whole survives, in arrival order.
Statistics are never computed from the kept points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_SERIES_POINTS = 10_000  # per stream: about the pixels across a few plot widths
POINTS_PER_BUCKET = 2  # first and last, then a minimum and a maximum per series


def keep_extremes(
    count: int, series: Sequence[np.ndarray], max_points: int = MAX_SERIES_POINTS
) -> np.ndarray:
    """Indices (sorted) of at most ``max_points`` of ``count`` packets: all of them when
    they fit, else per bucket the first, the last, and the minimum and maximum of each of
    ``series`` (arrays of ``count`` values; NaN never counts as an extreme)."""
    if count <= max_points:
        return np.arange(count)
    buckets = max(max_points // (POINTS_PER_BUCKET * (1 + len(series))), 1)
    starts = np.linspace(0, count, buckets + 1).astype(np.int64)[:-1]
    ends = np.append(starts[1:], count)
    picks = [starts, ends - 1]
    bucket = np.repeat(np.arange(buckets), ends - starts)
    for values in series:
        values = np.asarray(values, dtype=np.float64)
        for reduce, fill in ((np.fmin, np.inf), (np.fmax, -np.inf)):
            clean = np.where(np.isnan(values), fill, values)
            extreme = reduce.reduceat(clean, starts)
            at = np.nonzero(clean == extreme[bucket])[0]
            _, first = np.unique(bucket[at], return_index=True)
            picks.append(at[first])
    return np.unique(np.concatenate(picks))
