"""What the statistics tests compare: every RFC 3550 figure a StatsAccumulator keeps."""

from __future__ import annotations

from dataclasses import astuple

from rtsp_client.stats import StatsAccumulator


def figures(stats: StatsAccumulator) -> tuple:
    return (
        stats.received,
        stats.duplicates,
        stats.reordered,
        stats.cycles,
        stats.max_seq,
        stats.base_seq,
        stats.bytes_received,
        stats.jitter,
        stats.expected,
        stats.lost,
        astuple(stats.report_block(ssrc=1, now=100.0)),
        astuple(stats.snapshot(now=100.0)),
    )
