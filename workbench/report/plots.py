"""Figures for the report with matplotlib (Agg: no display needed).

Each function draws one figure from a StreamSeries into a PNG and returns its Plot.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: the report is made headless, in CI too

import matplotlib.pyplot as plt  # noqa: E402

from workbench.report.i18n import Catalog  # noqa: E402
from workbench.report.model import Plot, StreamSeries  # noqa: E402

log = logging.getLogger(__name__)

FIGURE_SIZE = (8.0, 4.5)  # inches
DPI = 90
PAUSE_COLOR = "#f4c542"


def _shade_pauses(ax, series: StreamSeries, catalog: Catalog) -> None:
    for index, (start, end) in enumerate(series.pauses):
        label = catalog.t("plot.paused") if index == 0 else None
        ax.axvspan(start, end, color=PAUSE_COLOR, alpha=0.35, label=label)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


MIN_SHOWN_MS = 0.001  # fragments of one frame arrive microseconds apart: floor for a log axis
GAP_BREAK_S = 0.5  # a silence this long (a pause) breaks the plotted line


def _interarrival_ms(series: StreamSeries) -> tuple[list[float], list[float]]:
    times = series.arrival
    gaps = [max((b - a) * 1000.0, MIN_SHOWN_MS) for a, b in zip(times, times[1:])]
    return times[1:], gaps


def _broken(x: list[float], y: list[float]) -> tuple[list[float], list[float]]:
    """The line interrupted (NaN) where arrivals pause, so no line is drawn across a pause."""
    out_x: list[float] = []
    out_y: list[float] = []
    for i, (a, b) in enumerate(zip(x, y)):
        if i and a - x[i - 1] > GAP_BREAK_S:
            out_x.append(float("nan"))
            out_y.append(float("nan"))
        out_x.append(a)
        out_y.append(b)
    return out_x, out_y


def plot_timing(series: StreamSeries, folder: Path, name: str, catalog: Catalog) -> Plot:
    """Packet inter-arrival time and RFC 3550 A.8 interarrival jitter over time."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=FIGURE_SIZE, sharex=True)
    x, gaps = _interarrival_ms(series)
    top.plot(x, gaps, ".", markersize=2, color="#1f77b4")
    top.set_yscale("log")  # microsecond fragments, 1/fps frames and a pause on one axis
    top.set_ylabel(catalog.t("plot.interarrival_ms"))
    _shade_pauses(top, series, catalog)
    if series.jitter_ms:
        bottom.plot(
            *_broken(series.arrival[: len(series.jitter_ms)], series.jitter_ms),
            color="#d62728",
            linewidth=1,
        )
    bottom.set_ylabel(catalog.t("plot.jitter_ms"))
    bottom.set_xlabel(catalog.t("plot.time_s"))
    _shade_pauses(bottom, series, catalog)
    if series.pauses:
        top.legend(loc="upper right")
    fig.suptitle(catalog.t("plot.timing_title", stream=series.label))
    _save(fig, folder / name)
    return Plot(
        catalog.t("plot.timing_title", stream=series.label), name, catalog.t("plot.timing_caption")
    )


def plot_frame_sizes(series: StreamSeries, folder: Path, name: str, catalog: Catalog) -> Plot:
    """Size of each reassembled frame over time."""
    fig, ax = plt.subplots(figsize=FIGURE_SIZE)
    ax.plot(
        *_broken(series.frame_arrival, [size / 1024 for size in series.frame_sizes]),
        ".-",
        markersize=3,
        linewidth=0.6,
        color="#2ca02c",
    )
    ax.set_xlabel(catalog.t("plot.time_s"))
    ax.set_ylabel(catalog.t("plot.frame_kib"))
    _shade_pauses(ax, series, catalog)
    ax.set_title(catalog.t("plot.frames_title", stream=series.label))
    _save(fig, folder / name)
    return Plot(
        catalog.t("plot.frames_title", stream=series.label), name, catalog.t("plot.frames_caption")
    )


def plot_sequence_timestamp(
    series: StreamSeries, folder: Path, name: str, catalog: Catalog
) -> Plot:
    """Sequence numbers and RTP timestamps against arrival time: the pause shows as a gap."""
    fig, ax = plt.subplots(figsize=FIGURE_SIZE)
    ax.plot(
        series.arrival,
        series.sequence,
        ".",
        markersize=2,
        color="#1f77b4",
        label=catalog.t("plot.sequence"),
    )
    ax.set_xlabel(catalog.t("plot.time_s"))
    ax.set_ylabel(catalog.t("plot.sequence"), color="#1f77b4")
    other = ax.twinx()
    other.plot(
        series.arrival,
        series.timestamp,
        ".",
        markersize=2,
        color="#ff7f0e",
        label=catalog.t("plot.timestamp"),
    )
    other.set_ylabel(catalog.t("plot.timestamp"), color="#ff7f0e")
    _shade_pauses(ax, series, catalog)
    ax.set_title(catalog.t("plot.seq_title", stream=series.label))
    _save(fig, folder / name)
    return Plot(
        catalog.t("plot.seq_title", stream=series.label), name, catalog.t("plot.seq_caption")
    )


def plot_stream(series: StreamSeries, folder: Path, slug: str, catalog: Catalog) -> list[Plot]:
    """The three figures of one stream; none when it has fewer than two packets."""
    if len(series.arrival) < 2:
        log.info("stream %s has too few packets to plot", series.label)
        return []
    plots = [
        plot_timing(series, folder, f"{slug}-timing.png", catalog),
        plot_sequence_timestamp(series, folder, f"{slug}-seq-ts.png", catalog),
    ]
    if series.frame_sizes:
        plots.append(plot_frame_sizes(series, folder, f"{slug}-frames.png", catalog))
    return plots
