"""`rtsp-workbench check`: conformance check of a capture, as tables, JSON and JUnit XML."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from analysis.check import CheckResult

log = logging.getLogger(__name__)

# Keyed by the analysis enums' values (analysis.rules.Outcome and Severity), so that
# building the parser does not import the analysis.
OUTCOME_STYLE = {"passed": "green", "failed": "red", "not applicable": "dim"}
SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check a capture against RTP, RFC 2435, RTCP and RTSP rules",
        description="Read a pcap/pcapng, rebuild its RTSP sessions and RTP streams, and check "
        "them against RFC 3550, RFC 2435 and RFC 2326. Exit status 1 when a rule at or "
        "above --fail-on failed (or the file could not be read whole).",
    )
    parser.add_argument("capture", nargs="?", help="pcap or pcapng file")
    parser.add_argument(
        "--list-rules", action="store_true", help="print every rule with its source, then exit"
    )
    parser.add_argument("--json", metavar="F", help="write the result as JSON to F")
    parser.add_argument("--junit", metavar="F", help="write one JUnit test case per rule to F")
    parser.add_argument(
        "--fail-on",
        choices=["error", "warning"],
        default="error",
        help="lowest severity that makes the exit status 1 (default: error)",
    )
    parser.add_argument(
        "--rtp-port",
        type=int,
        action="append",
        metavar="N",
        help="treat UDP to/from port N as RTP (N+1 as RTCP); repeatable",
    )
    parser.set_defaults(func=run)


def print_summary(result: CheckResult, console: Console) -> None:
    """Per session and stream figures, then every rule with its evidence."""
    from analysis.rules import Severity

    # Lines a user reads or greps are never wrapped, whatever the terminal's width.
    console.print(
        f"[bold]{escape(str(result.path))}[/]: {result.packets_read} packets read", soft_wrap=True
    )
    if result.error is not None:
        console.print(f"[red]capture damaged:[/] {escape(str(result.error))}", soft_wrap=True)
    if result.sessions:
        table = Table(title="RTSP sessions")
        for col in ("session", "client", "server", "transport", "streams"):
            table.add_column(col)
        for s in result.sessions:
            # Session ids and Transport values are the capture's bytes, not markup.
            table.add_row(
                escape(s.id),
                str(s.connection.client),
                str(s.connection.server),
                escape("; ".join(st.granted.raw for st in s.setups if st.granted)),
                str(len(s.streams)),
            )
        console.print(table)
    table = Table(title="RTP streams")
    for col in ("stream", "session", "format", "packets", "frames", "lost", "jitter ms", "fps"):
        table.add_column(col, justify="right" if col not in ("stream", "format") else "left")
    keepalives = {id(s) for s in result.capture.keepalives} if result.capture else set()
    for s in result.streams:
        st = s.stats
        kind = "keepalive" if id(s) in keepalives else s.format.value
        if st.gso_datagrams:
            kind += f"\n{st.gso_datagrams} GSO cut"
        table.add_row(
            f"{s.ssrc:#010x}\n{s.src} -> {s.dst}"
            + (f" ch {s.channel}" if s.channel is not None else ""),
            escape(s.session_id or "-"),
            kind,
            str(st.packets),
            f"{st.complete_frames}/{st.frames}",
            str(st.lost),
            f"{st.jitter_ms:.2f}",
            f"{st.fps:.2f}",
        )
    console.print(table)
    table = Table(title="Rules")
    for col in ("rule", "severity", "outcome", "title and evidence"):
        table.add_column(col)
    for r in result.rules:
        outcome = f"[{OUTCOME_STYLE[r.outcome.value]}]{r.outcome.value}[/]"
        if r.failed:
            outcome += f"\n{r.count}x, packets {','.join(map(str, r.packets))}"
        table.add_row(
            r.rule.id,
            f"[{SEVERITY_STYLE[r.rule.severity.value]}]{r.rule.severity.value}[/]",
            outcome,
            f"{r.rule.title} ({r.rule.rfc} §{r.rule.section})"
            + (f"\n[dim]{escape(r.evidence)}[/]" if r.evidence else ""),
        )
    console.print(table)
    counts = {
        sev: len([r for r in result.failures(sev) if r.rule.severity is sev]) for sev in Severity
    }
    console.print(
        f"failed: [red]{counts[Severity.ERROR]} error[/], [yellow]{counts[Severity.WARNING]} "
        f"warning[/], [cyan]{counts[Severity.INFO]} info[/]"
    )


def print_rules(console: Console) -> None:
    """Every registered rule: id, source, severity and title."""
    from analysis.rules import registered_rules

    table = Table(title="Conformance rules")
    for col in ("rule", "source", "severity", "checks that"):
        table.add_column(col)
    for r in registered_rules():
        table.add_row(
            r.id,
            f"{r.rfc} §{r.section}",
            f"[{SEVERITY_STYLE[r.severity.value]}]{r.severity.value}[/]",
            r.title,
        )
    console.print(table)


def run(args: argparse.Namespace) -> int:
    # Imported here: the command-line parser imports every command module, and the
    # analysis brings numpy; `--help` and the other commands start without it.
    from analysis.check import check_capture, write_json, write_junit
    from analysis.errors import AnalysisError
    from analysis.rules import Severity

    console = Console(width=None if Console().is_terminal else 140)
    if args.list_rules:
        print_rules(console)
        return 0
    if not args.capture:
        console.print("[red]check needs a CAPTURE file (or --list-rules)[/]")
        return 2
    try:
        result = check_capture(args.capture, args.rtp_port)
    except AnalysisError as exc:
        console.print(f"[red]cannot check {escape(args.capture)}:[/] {escape(str(exc))}")
        return 2
    print_summary(result, console)
    try:
        if args.json:
            write_json(result, args.json)
        if args.junit:
            write_junit(result, args.junit)
    except OSError as exc:
        Console(stderr=True, soft_wrap=True).print(
            f"rtsp-workbench check: cannot write {exc.filename}: {exc.strerror}", markup=False
        )
        return 2
    threshold = Severity(args.fail_on)
    return 1 if result.failures(threshold) or result.error is not None else 0
