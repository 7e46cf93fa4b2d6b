"""The demo on the terminal: a progress bar over its phases, then a summary table, in the
report's language."""

from __future__ import annotations

import shutil

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.text import Text

from workbench.demo.scenario import STEPS, DemoProgress, DemoResult
from workbench.report.i18n import Catalog
from workbench.report.model import Outcome
from workbench.report.render import headline, print_wireshark_commands
from workbench.tables import Column, TableData, print_table

OUTCOME_STYLE = {Outcome.PASSED: "green", Outcome.FAILED: "bold red", Outcome.NOT_RUN: "yellow"}


class RichProgress(DemoProgress):
    """Progress on the terminal: one bar over the phases, the capture's packet count."""

    def __init__(self, progress: Progress, console: Console, catalog: Catalog) -> None:
        self.progress = progress
        self.console = console
        self.catalog = catalog
        self.task = progress.add_task("demo", total=STEPS, packets="")
        self.started = False

    def step(self, text: str) -> None:
        if self.started:
            self.progress.advance(self.task)
        self.started = True
        self.progress.update(self.task, description=escape(text))

    def tick(self, captured: int | None) -> None:
        if captured is not None:
            self.progress.update(self.task, packets=self.catalog.t("demo.packets", count=captured))
        self.progress.refresh()

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{escape(text)}[/]")

    def finish(self) -> None:
        self.progress.update(self.task, completed=STEPS)


def print_summary(console: Console, result: DemoResult, catalog: Catalog) -> None:
    """The tests as a table, the streams' figures, the verdict (the report's own headline,
    word for word), then where the report and the capture are."""
    report = result.report
    tests = TableData(
        report.title,
        [
            Column("#", justify="right", whole=True),
            Column(catalog.t("test.title")),
            Column(catalog.t("test.result"), whole=True),
        ],
    )
    for test in report.functional_tests:
        outcome = catalog.t("outcome." + test.outcome.value)
        tests.add_row(
            str(test.number), test.title, Text(outcome, style=OUTCOME_STYLE[test.outcome])
        )
    print_table(console, tests)
    if report.stats:
        stats = TableData(
            catalog.t("console.streams"),
            [
                Column(catalog.t("stats.stream"), whole=True),
                *(
                    Column(catalog.t(key), justify="right")
                    for key in ("stats.packets", "stats.lost", "stats.jitter_ms")
                ),
                Column(catalog.t("stats.bitrate"), justify="right"),
                Column(catalog.t("stats.fps"), justify="right"),
            ],
        )
        for row in report.stats:
            stats.add_row(
                row.stream.split(" → ")[0],
                catalog.number(row.packets),
                catalog.number(row.lost),
                catalog.number(row.jitter_ms, 2),
                catalog.number(row.bitrate_kbps, 0),
                catalog.number(row.fps, 1),
            )
        print_table(console, stats)
    style = "green" if report.passed else "bold red"
    console.print(Text(headline(report, catalog), style=style), soft_wrap=True)
    where = [(catalog.t("console.report"), result.rendered.html), ("", result.rendered.markdown)]
    if result.capture is not None:
        where.append((catalog.t("console.capture"), result.capture))
    width = max(len(label) for label, _ in where) + 1
    for label, path in where:
        console.print(f"{label:<{width}}{path}", markup=False, highlight=False, soft_wrap=True)
    print_wireshark_commands(console, report, catalog)
    if result.wireshark_command:
        if shutil.which("wireshark") is None:
            console.print("  " + catalog.t("console.no_wireshark"), markup=False)
