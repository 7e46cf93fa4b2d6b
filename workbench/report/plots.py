"""Figures for the report with matplotlib (Agg: no display needed).

Each function draws one figure from a StreamSeries into a PNG and returns its Plot. Every
axis names its unit; numbers are written out (no "+2.382e9" offset above an axis), in the
report's language (14,0 in Portuguese); each quantity gets its own panel, titled with
what it shows, so no series hides another and no long label runs into the next panel.
Pauses are shaded in every panel, and a caption speaks of the shading only when there is
a pause to shade.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: the report is made headless, in CI too

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from workbench.report.i18n import Catalog  # noqa: E402
from workbench.report.model import Plot, StreamSeries  # noqa: E402

log = logging.getLogger(__name__)

PANEL_SIZE = (8.0, 2.6)  # inches per panel of a figure
DPI = 90
PAUSE_COLOR = "#f4c542"
MIN_SHOWN_MS = 0.001  # fragments of one frame arrive microseconds apart: floor for a log axis
GAP_BREAK_S = 0.5  # a silence this long (a pause) breaks the plotted line
KIB = 1024
MAX_TICK_PLACES = 4  # decimals on a tick label (0.001 ms is the floor of the log axis)


def _axis_numbers(ax, catalog: Catalog) -> None:
    """Plain numbers in the report's language on both axes: no offset, no scientific form
    (a log axis reads 0.01, 1, 100 rather than powers of ten)."""
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(lambda v, _: _tick(v, catalog)))
        if axis.get_scale() == "log":
            axis.set_minor_formatter(NullFormatter())


def _tick(value: float, catalog: Catalog) -> str:
    if float(value).is_integer():
        return catalog.number(int(value))
    decimals = f"{value:.{MAX_TICK_PLACES}f}".rstrip("0").partition(".")[2]
    return catalog.number(value, len(decimals))


def _panels(count: int):
    fig, axes = plt.subplots(
        count, 1, figsize=(PANEL_SIZE[0], PANEL_SIZE[1] * count), sharex=True, squeeze=False
    )
    return fig, [row[0] for row in axes]


def _shade_pauses(ax, series: StreamSeries, catalog: Catalog) -> None:
    for index, (start, end) in enumerate(series.pauses):
        label = catalog.t("plot.paused") if index == 0 else None
        ax.axvspan(start, end, color=PAUSE_COLOR, alpha=0.35, label=label, zorder=0)


def _finish(fig, axes, series: StreamSeries, path: Path, catalog: Catalog) -> None:
    for ax in axes:
        _shade_pauses(ax, series, catalog)
        _axis_numbers(ax, catalog)
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel(catalog.t("plot.time_s"))
    if series.pauses:
        axes[0].legend(loc="best", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _caption(key: str, series: StreamSeries, catalog: Catalog) -> str:
    caption = catalog.t(key)
    if series.pauses:
        caption += " " + catalog.t("plot.pause_caption")
    return caption


def _interarrival_ms(series: StreamSeries) -> tuple[list[float], list[float]]:
    times = series.arrival
    gaps = series.interarrival_ms or [(b - a) * 1000.0 for a, b in zip(times, times[1:])]
    return times[1:], [max(gap, MIN_SHOWN_MS) for gap in gaps]


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


def _panel(ax, title: str, unit: str) -> None:
    ax.set_title(title, fontsize="medium", loc="left")
    ax.set_ylabel(unit)


def plot_timing(series: StreamSeries, folder: Path, name: str, catalog: Catalog) -> Plot:
    """Packet inter-arrival time and RFC 3550 A.8 interarrival jitter over time."""
    fig, (top, bottom) = _panels(2)
    x, gaps = _interarrival_ms(series)
    top.plot(x, gaps, ".", markersize=2, color="#1f77b4")
    top.set_yscale("log")  # microsecond fragments, 1/fps frames and a pause on one axis
    _panel(top, catalog.t("plot.interarrival"), catalog.t("plot.unit_ms"))
    if series.jitter_ms:
        bottom.plot(
            *_broken(series.arrival[: len(series.jitter_ms)], series.jitter_ms),
            color="#d62728",
            linewidth=1,
        )
    _panel(bottom, catalog.t("plot.jitter"), catalog.t("plot.unit_ms"))
    title = catalog.t("plot.timing_title", stream=series.label)
    _finish(fig, [top, bottom], series, folder / name, catalog)
    return Plot(title, name, _caption("plot.timing_caption", series, catalog))


def plot_frame_sizes(series: StreamSeries, folder: Path, name: str, catalog: Catalog) -> Plot:
    """Size of each reassembled frame over time."""
    fig, (ax,) = _panels(1)
    ax.plot(
        *_broken(series.frame_arrival, [size / KIB for size in series.frame_sizes]),
        ".-",
        markersize=3,
        linewidth=0.6,
        color="#2ca02c",
    )
    _panel(ax, catalog.t("plot.frame_size"), catalog.t("plot.unit_kib"))
    title = catalog.t("plot.frames_title", stream=series.label)
    _finish(fig, [ax], series, folder / name, catalog)
    return Plot(title, name, _caption("plot.frames_caption", series, catalog))


def plot_sequence_timestamp(
    series: StreamSeries, folder: Path, name: str, catalog: Catalog
) -> Plot:
    """Sequence numbers and RTP timestamps against arrival time, each in its own panel.

    Timestamps are shown as media time: seconds since the stream's first timestamp, at
    the media clock's rate, so the panel reads in seconds like the time axis."""
    fig, (top, bottom) = _panels(2)
    top.plot(series.arrival, series.sequence, ".", markersize=2, color="#1f77b4")
    _panel(top, catalog.t("plot.sequence"), catalog.t("plot.unit_packets"))
    if series.clock_rate:
        first = series.timestamp[0] if series.timestamp else 0
        media = [(ts - first) / series.clock_rate for ts in series.timestamp]
        bottom.plot(series.arrival, media, ".", markersize=2, color="#ff7f0e")
        _panel(bottom, catalog.t("plot.media_time"), catalog.t("plot.unit_s"))
    else:
        first = series.timestamp[0] if series.timestamp else 0
        bottom.plot(series.arrival, [ts - first for ts in series.timestamp], ".", markersize=2)
        _panel(bottom, catalog.t("plot.timestamp"), catalog.t("plot.unit_ticks"))
    title = catalog.t("plot.seq_title", stream=series.label)
    _finish(fig, [top, bottom], series, folder / name, catalog)
    return Plot(title, name, _caption("plot.seq_caption", series, catalog))


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
