"""`rtsp-workbench demo`: the whole lab on the built-in sample, in one command.

Makes media/movie.Mjpeg when it is missing, serves it, captures on loopback, plays it
over UDP and TCP with PAUSE/resume, tries the requests a server must refuse and the
lab's dialect, checks the capture and writes the report. Exit 0 only when every
functional test passed.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from workbench.playback import Timings
from workbench.report.i18n import DEFAULT_LANGUAGE, Catalog, available_languages
from workbench.report.model import Outcome
from workbench.sample import DEFAULT_PATH, ensure_sample
from workbench.scenario import STEPS, DemoConfig, DemoProgress, DemoResult, run_demo

log = logging.getLogger(__name__)

EXIT_NO_SAMPLE = 2
OUTCOME_STYLE = {Outcome.PASSED: "green", Outcome.FAILED: "bold red", Outcome.NOT_RUN: "yellow"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole lab on the built-in sample and write the report",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--media", type=Path, default=DEFAULT_PATH,
                        help=f"clip to serve, made when missing (default {DEFAULT_PATH})")
    parser.add_argument("--pcaps", type=Path, default=Path("pcaps"),
                        help="folder for the capture (default pcaps)")
    parser.add_argument("--reports", type=Path, default=Path("reports"),
                        help="folder for the report (default reports)")
    parser.add_argument("-i", "--interface", default="lo", help="capture interface (default lo)")
    parser.add_argument("--lang", choices=available_languages(), default=DEFAULT_LANGUAGE,
                        help="report language (default en)")
    parser.add_argument("--play", type=float, default=Timings.play_s, metavar="S",
                        help="seconds of the first PLAY (default %(default)s)")
    parser.add_argument("--pause", type=float, default=Timings.pause_s, metavar="S",
                        help="seconds paused (default %(default)s)")
    parser.add_argument("--resume", type=float, default=Timings.resume_s, metavar="S",
                        help="seconds of the PLAY after the pause (default %(default)s)")
    parser.set_defaults(func=run)


class RichProgress(DemoProgress):
    """Progress on the terminal: one bar over the phases, the capture's packet count."""

    def __init__(self, progress: Progress, console: Console) -> None:
        self.progress = progress
        self.console = console
        self.task = progress.add_task("demo", total=STEPS, packets="")
        self.started = False

    def step(self, text: str) -> None:
        if self.started:
            self.progress.advance(self.task)
        self.started = True
        self.progress.update(self.task, description=escape(text))

    def tick(self, captured: int | None) -> None:
        if captured is not None:
            self.progress.update(self.task, packets=f"{captured} packets captured")
        self.progress.refresh()

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{escape(text)}[/]")

    def finish(self) -> None:
        self.progress.update(self.task, completed=STEPS)


def print_summary(console: Console, result: DemoResult, catalog: Catalog) -> None:
    """The tests as a table, then where the report and the capture are."""
    report = result.report
    table = Table(title=report.title, show_lines=False)
    table.add_column("#", justify="right")
    table.add_column(catalog.t("test.title"))
    table.add_column(catalog.t("test.result"))
    for test in report.functional_tests:
        style = OUTCOME_STYLE[test.outcome]
        table.add_row(str(test.number), escape(test.title),
                      f"[{style}]{catalog.t('outcome.' + test.outcome.value)}[/]")
    console.print(table)
    if report.stats:
        stats = Table(title="RTP streams")
        for column in ("stream", "packets", "lost", "jitter ms", "kbit/s", "fps"):
            stats.add_column(column, justify="left" if column == "stream" else "right")
        for row in report.stats:
            stats.add_row(escape(row.stream.split(" → ")[0]), str(row.packets), str(row.lost),
                          f"{row.jitter_ms:.2f}" if row.jitter_ms is not None else "–",
                          f"{row.bitrate_kbps:.0f}" if row.bitrate_kbps else "–",
                          f"{row.fps:.1f}" if row.fps else "–")
        console.print(stats)
    counts = report.counts
    verdict = (f"[green]all {len(report.functional_tests)} tests passed[/]" if report.passed else
               f"[bold red]{counts[Outcome.FAILED]} failed, {counts[Outcome.NOT_RUN]} not run[/]")
    console.print(verdict)
    console.print(f"report:  {result.rendered.html}", markup=False, highlight=False)
    console.print(f"         {result.rendered.markdown}", markup=False, highlight=False)
    if result.capture is not None:
        console.print(f"capture: {result.capture}", markup=False, highlight=False)
    if result.wireshark_command:
        console.print("open it in Wireshark with RTP decoded:")
        console.print(f"  {result.wireshark_command}", markup=False, highlight=False,
                      soft_wrap=True)
        if shutil.which("wireshark") is None:
            console.print("  (Wireshark is not installed here; tshark takes the same options)")


def run(args: argparse.Namespace) -> int:
    console = Console()
    try:
        info, made = ensure_sample(args.media)
    except (ValueError, OSError) as exc:
        Console(stderr=True).print(f"rtsp-workbench demo: {exc}", markup=False)
        return EXIT_NO_SAMPLE
    console.print(("made " if made else "found ") + info.describe(), markup=False,
                  highlight=False)
    config = DemoConfig(
        media=args.media, pcaps=args.pcaps, reports=args.reports, interface=args.interface,
        timings=Timings(args.play, args.pause, args.resume), language=args.lang,
    )
    columns = (SpinnerColumn(), TextColumn("[progress.description]{task.description}"),
               BarColumn(), TextColumn("{task.fields[packets]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        display = RichProgress(progress, console)
        result = run_demo(config, display)
        display.finish()
    print_summary(console, result, Catalog.load(args.lang))
    return result.exit_code
