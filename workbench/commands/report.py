"""`rtsp-workbench report CAPTURE -o DIR`: the lab report for any capture.

Reads the capture with the analysis package, runs every conformance rule, and writes
index.html and report.md with their plots into DIR. The functional tests come from the
capture itself: each RTSP exchange, each RTP stream, and the conformance rules.
Exit 0 when every test passed, 1 when one failed, 2 when the capture cannot be read.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from workbench.messages import error
from workbench.report.i18n import DEFAULT_LANGUAGE, Catalog, available_languages
from workbench.tables import Column, TableData, print_table

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the lab report (HTML and Markdown) for a capture",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("capture", type=Path, help="pcap or pcapng file")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="folder to write the report into (made when missing)",
    )
    parser.add_argument(
        "--lang",
        choices=available_languages(),
        default=DEFAULT_LANGUAGE,
        help="report language (default en)",
    )
    parser.add_argument(
        "--source",
        type=Path,
        metavar="CLIP",
        help="the clip that was streamed: screenshots then show each captured "
        "frame beside the source frame of the same number (sample clips)",
    )
    parser.add_argument(
        "--rtp-port",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="a UDP port carrying RTP when the capture lacks the RTSP SETUP (repeatable)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: the command-line parser imports every command module,
    # and these pull in the analysis, Pillow, matplotlib and Jinja2.
    from rtsp_common.mjpeg import open_media
    from workbench.report.build import analyse_capture, build_report
    from workbench.report.capture_frames import capture_screenshots
    from workbench.report.from_capture import add_capture_tests
    from workbench.report.functional import TestBook
    from workbench.report.render import (
        headline,
        print_wireshark_commands,
        render_report,
        rule_title,
    )
    from workbench.wireshark import annotated_path

    console = Console()
    if not args.capture.is_file():
        return error("report", f"no such capture file: {args.capture}")
    catalog = Catalog.load(args.lang)
    with console.status(escape(catalog.t("demo.check"))):
        analysed = analyse_capture(
            args.capture,
            rtp_ports=args.rtp_port or None,
            annotate_to=annotated_path(args.capture, args.output),
        )
    if analysed.check is None:
        reason = analysed.error or "unreadable"
        # The analysis's messages mostly begin with the file's name: say it once.
        reason = reason.removeprefix(f"{args.capture}: ")
        return error("report", f"cannot read {args.capture}: {reason}")
    book = TestBook(catalog)
    add_capture_tests(book, analysed)
    try:
        source = open_media(args.source) if args.source else None
    except (OSError, ValueError) as exc:
        return error("report", f"cannot read the source clip: {exc}")
    with console.status(escape(catalog.t("demo.report"))):
        args.output.mkdir(parents=True, exist_ok=True)
        try:
            shots = capture_screenshots(analysed.check, args.output, catalog, source)
        finally:
            if source is not None:
                source.close()
        report = build_report(
            catalog,
            subject=catalog.t("report.subject", capture=args.capture),
            tests=book.tests,
            analysis=analysed,
            folder=args.output,
            screenshots=shots,
        )
        rendered = render_report(report, args.output, catalog)
    failed_rules = [row for row in report.conformance if row.passed is False]
    if failed_rules:
        table = TableData(
            catalog.t("section.conformance"),
            [
                Column(catalog.t("rule.id"), whole=True),
                Column(catalog.t("rule.rfc")),
                Column(catalog.t("rule.severity")),
                Column(catalog.t("rule.title")),
            ],
        )
        for row in failed_rules:
            style = "red" if row.severity == "error" else "yellow"
            table.add_row(
                row.rule_id,
                row.rfc,
                Text(catalog.t("severity." + row.severity), style=style),
                rule_title(row, catalog),
            )
        print_table(console, table)
    verdict = Text(headline(report, catalog), style="green" if report.passed else "red")
    console.print(verdict, soft_wrap=True)
    for test in report.functional_tests:
        if test.counts_against:
            console.print(
                Text.assemble((f"  {test.number}. {test.title}", "red"), f": {test.observed}")
            )
    console.print(f"{catalog.t('console.report')} {rendered.html}", markup=False, highlight=False)
    indent = " " * (len(catalog.t("console.report")) + 1)
    console.print(f"{indent}{rendered.markdown}", markup=False, highlight=False)
    print_wireshark_commands(console, report, catalog)
    return report.exit_code()
