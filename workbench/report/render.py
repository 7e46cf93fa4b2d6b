"""Write a Report as a folder: index.html and report.md (Jinja2) beside their images."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.report.i18n import Catalog
from workbench.report.ladder import shown_text, text_ladder
from workbench.report.model import Outcome, Report

if TYPE_CHECKING:
    import jinja2

log = logging.getLogger(__name__)

HTML_TEMPLATE = "index.html.j2"
MARKDOWN_TEMPLATE = "report.md.j2"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # package data


@dataclass(frozen=True)
class RenderedReport:
    """Where a report was written."""

    folder: Path
    html: Path
    markdown: Path


def _number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _environment(autoescape: bool) -> jinja2.Environment:
    # Imported here so that commands which never render start without Jinja2.
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = _number
    env.filters["shown_text"] = shown_text
    env.filters["md_cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", "<br>")
    return env


def headline(report: Report, catalog: Catalog) -> str:
    """The one-sentence verdict above everything else in the report."""
    counts = report.counts
    total = len(report.functional_tests)
    if not report.passed:
        return catalog.t(
            "summary.some_failed",
            failed=counts[Outcome.FAILED],
            not_run=counts[Outcome.NOT_RUN],
            total=total,
        )
    if counts[Outcome.NOT_RUN]:
        return catalog.t(
            "summary.passed_some_not_run",
            passed=counts[Outcome.PASSED],
            not_run=counts[Outcome.NOT_RUN],
        )
    return catalog.t("summary.all_passed", total=total)


def render_report(report: Report, folder: Path, catalog: Catalog) -> RenderedReport:
    """Write index.html and report.md into ``folder``; images must already be there."""
    folder.mkdir(parents=True, exist_ok=True)
    context = {
        "report": report,
        "t": catalog.t,
        "lang": catalog.language,
        "Outcome": Outcome,
        "headline": headline(report, catalog),
        "ladders": [
            text_ladder(s, catalog.t("ladder.client"), catalog.t("ladder.server"))
            for s in report.ladder
        ],
    }
    missing = [name for name in _image_names(report) if not (folder / name).is_file()]
    if missing:
        log.warning("report images missing from %s: %s", folder, ", ".join(missing))
    html = folder / "index.html"
    markdown = folder / "report.md"
    html.write_text(
        _environment(autoescape=True).get_template(HTML_TEMPLATE).render(context),
        encoding="utf-8",
    )
    markdown.write_text(
        _environment(autoescape=False).get_template(MARKDOWN_TEMPLATE).render(context),
        encoding="utf-8",
    )
    return RenderedReport(folder, html, markdown)


def _image_names(report: Report) -> list[str]:
    names = [plot.image for plot in report.plots]
    for shot in report.screenshots:
        names.append(shot.received_image)
        if shot.source_image:
            names.append(shot.source_image)
    return names
