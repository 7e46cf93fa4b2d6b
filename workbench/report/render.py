"""Write a Report as a folder: index.html and report.md (Jinja2) beside their images."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.report.i18n import DEFAULT_LANGUAGE, Catalog
from workbench.report.ladder import shown_text, text_ladder
from workbench.report.model import MAX_EVIDENCE, ConformanceRow, Outcome, Report

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup
    from rich.console import Console

log = logging.getLogger(__name__)

HTML_TEMPLATE = "index.html.j2"
MARKDOWN_TEMPLATE = "report.md.j2"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # package data
ERROR_SEVERITY = "error"
RULE_TITLE_PREFIX = "rules."  # catalog keys of the rules' titles: rules.RTP-SEQ-1
APPENDIX = "Appendix"  # the one English word in the checker's section references


@dataclass(frozen=True)
class RenderedReport:
    """Where a report was written."""

    folder: Path
    html: Path
    markdown: Path


def _environment(autoescape: bool, catalog: Catalog) -> jinja2.Environment:
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
    env.filters["num"] = catalog.number
    env.filters["words"] = _words
    env.filters["shown_text"] = shown_text
    env.filters["md_cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", "<br>")
    return env


def headline(report: Report, catalog: Catalog) -> str:
    """The verdict above everything else: the functional tests, then the conformance
    table, in words that agree with both tables below."""
    counts = report.counts
    total = len(report.functional_tests)
    if not report.passed:
        sentences = [
            catalog.t(
                "summary.some_failed",
                failed=counts[Outcome.FAILED],
                not_run=counts[Outcome.NOT_RUN],
                total=total,
            )
        ]
    elif counts[Outcome.NOT_RUN]:
        sentences = [
            catalog.t(
                "summary.passed_some_not_run",
                passed=counts[Outcome.PASSED],
                not_run=counts[Outcome.NOT_RUN],
            )
        ]
    else:
        sentences = [catalog.t("summary.all_passed", total=total)]
    applied = [row for row in report.conformance if row.passed is not None]
    failed = [row for row in applied if row.verdict == "failed"]
    expected = [row.rule_id for row in applied if row.verdict == "expected"]
    # Findings a deliberate session was meant to produce are named, so no table says more.
    if failed:
        errors = sum(1 for row in failed if row.severity == ERROR_SEVERITY)
        sentences.append(
            catalog.t("summary.rules_failed", failed=len(failed), rules=len(applied), errors=errors)
        )
        if expected:
            sentences.append(catalog.t("summary.rules_also_expected", rules=", ".join(expected)))
    elif expected:
        sentences.append(
            catalog.t(
                "summary.rules_expected",
                passed=len(applied) - len(expected),
                rules=", ".join(expected),
            )
        )
    elif applied:
        sentences.append(catalog.t("summary.rules_passed", rules=len(applied)))
    return " ".join(sentences)


def print_wireshark_commands(console: Console, report: Report, catalog: Catalog) -> None:
    """The commands opening the capture in Wireshark, and its annotated copy at the packets
    of the failed rules, each on one line that is never wrapped."""
    commands = [
        (catalog.t("summary.open_wireshark"), report.wireshark_command),
        (catalog.t("summary.open_annotated"), report.annotated_wireshark_command),
    ]
    for label, command in commands:
        if command:
            console.print(label + ":", markup=False, highlight=False, soft_wrap=True)
            console.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)


def rule_title(row: ConformanceRow, catalog: Catalog) -> str:
    """A rule's title in the report's language (the checker names its rules in English)."""
    return catalog.messages.get(f"{RULE_TITLE_PREFIX}{row.rule_id}", row.title)


def rule_source(row: ConformanceRow, catalog: Catalog) -> str:
    """The RFC section a rule comes from, "Appendix" in the report's language."""
    return row.rfc.replace(APPENDIX, catalog.t("rule.appendix"))


def rule_evidence(row: ConformanceRow, catalog: Catalog) -> str:
    """The evidence column: the checker's own words in English; in another language what
    the checker counted, and the packets to look at (``check`` prints its words)."""
    if catalog.language == DEFAULT_LANGUAGE:
        return row.evidence
    if row.passed is None:
        return catalog.t("rule.evidence_na")
    if not row.packets:
        return ""
    shown = ", ".join(f"#{n}" for n in row.packets[:MAX_EVIDENCE])
    if row.expected:  # the reasons are in the report's language already
        return catalog.t(
            "rule.evidence_expected", count=row.count, packets=shown, reason=row.expected
        )
    return catalog.t("rule.evidence_failed", count=row.count, packets=shown)


def _words(text: object) -> Markup:
    """Each word of ``text`` in a span that never breaks (see the template's ``.w``): a
    table cell is then never narrower than its longest word, ids and addresses stay whole."""
    from markupsafe import Markup

    return Markup(" ").join(
        Markup('<span class="w">{}</span>').format(w) for w in str(text).split()
    )


def render_report(report: Report, folder: Path, catalog: Catalog) -> RenderedReport:
    """Write index.html and report.md into ``folder``; images must already be there."""
    folder.mkdir(parents=True, exist_ok=True)
    context = {
        "report": report,
        "t": catalog.t,
        "lang": catalog.language,
        "Outcome": Outcome,
        "headline": headline(report, catalog),
        "rules_failed": sum(1 for row in report.conformance if row.verdict == "failed"),
        "rule_title": lambda row: rule_title(row, catalog),
        "rule_evidence": lambda row: rule_evidence(row, catalog),
        "rule_source": lambda row: rule_source(row, catalog),
        "ladders": [
            text_ladder(
                s,
                catalog.t("ladder.client"),
                catalog.t("ladder.server"),
                catalog.t("ladder.left_out", n=s.left_out),
            )
            for s in report.ladder
        ],
    }
    missing = [name for name in _image_names(report) if not (folder / name).is_file()]
    if missing:
        log.warning("report images missing from %s: %s", folder, ", ".join(missing))
    html = folder / "index.html"
    markdown = folder / "report.md"
    html.write_text(
        _environment(True, catalog).get_template(HTML_TEMPLATE).render(context),
        encoding="utf-8",
    )
    markdown.write_text(
        _environment(False, catalog).get_template(MARKDOWN_TEMPLATE).render(context),
        encoding="utf-8",
    )
    return RenderedReport(folder, html, markdown)


def _image_names(report: Report) -> list[str]:
    names = [plot.image for plot in report.plots]
    names += [shot.image for shot in report.player_shots]
    for shot in report.screenshots:
        names.append(shot.received_image)
        if shot.source_image:
            names.append(shot.source_image)
    return names
