"""The demo on the terminal: a progress bar over its phases, then a summary table."""

from __future__ import annotations

import shutil

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from workbench.report.i18n import Catalog
from workbench.report.model import Outcome
from workbench.scenario import STEPS, DemoProgress, DemoResult

OUTCOME_STYLE = {Outcome.PASSED: "green", Outcome.FAILED: "bold red", Outcome.NOT_RUN: "yellow"}


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
        table.add_row(
            str(test.number),
            escape(test.title),
            f"[{style}]{catalog.t('outcome.' + test.outcome.value)}[/]",
        )
    console.print(table)
    if report.stats:
        stats = Table(title="RTP streams")
        for column in ("stream", "packets", "lost", "jitter ms", "kbit/s", "fps"):
            stats.add_column(column, justify="left" if column == "stream" else "right")
        for row in report.stats:
            stats.add_row(
                escape(row.stream.split(" → ")[0]),
                str(row.packets),
                str(row.lost),
                f"{row.jitter_ms:.2f}" if row.jitter_ms is not None else "–",
                f"{row.bitrate_kbps:.0f}" if row.bitrate_kbps else "–",
                f"{row.fps:.1f}" if row.fps else "–",
            )
        console.print(stats)
    counts = report.counts
    if not report.passed:
        verdict = f"[bold red]{counts[Outcome.FAILED]} failed, {counts[Outcome.NOT_RUN]} not run[/]"
    elif counts[Outcome.NOT_RUN]:
        verdict = (
            f"[green]all {counts[Outcome.PASSED]} tests that ran passed[/], "
            f"[yellow]{counts[Outcome.NOT_RUN]} not run (optional tool missing)[/]"
        )
    else:
        verdict = f"[green]all {len(report.functional_tests)} tests passed[/]"
    console.print(verdict)
    console.print(f"report:  {result.rendered.html}", markup=False, highlight=False)
    console.print(f"         {result.rendered.markdown}", markup=False, highlight=False)
    if result.capture is not None:
        console.print(f"capture: {result.capture}", markup=False, highlight=False)
    if result.wireshark_command:
        console.print("open it in Wireshark with RTP decoded:")
        console.print(
            f"  {result.wireshark_command}", markup=False, highlight=False, soft_wrap=True
        )
        if shutil.which("wireshark") is None:
            console.print("  (Wireshark is not installed here; tshark takes the same options)")
