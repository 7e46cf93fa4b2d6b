"""`rtsp-workbench check`: conformance check of a capture, as tables, JSON and JUnit XML."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from rtsp_common.arguments import positive_int
from workbench.messages import error
from workbench.tables import Column, TableData, print_table
from workbench.wireshark import DecodeAs, annotate, failed_rules_filter

if TYPE_CHECKING:
    from analysis.check import CheckResult
    from analysis.pcap.annotated_writer import AnnotationSummary

log = logging.getLogger(__name__)

# Keyed by the analysis enums' values (analysis.rules.Outcome and Severity), so that
# building the parser does not import the analysis.
OUTCOME_STYLE = {
    "passed": "green",
    "failed": "red",
    "expected": "magenta",
    "not applicable": "dim",
}
SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}
VERDICT_STYLE = {
    "passed": "green",
    "failed": "red",
    "damaged": "red",
    "unreadable": "red",
    "nothing judged": "yellow",
}
EXIT_NOTHING_JUDGED = 3  # a check that checked nothing is not a pass
VERDICT_EXIT = {"passed": 0, "failed": 1, "damaged": 1, "nothing judged": EXIT_NOTHING_JUDGED}
SHOWN_PACKETS = 5  # packet numbers listed per non-media row


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check a capture against RTP, RFC 2435, RTCP and RTSP rules",
        description="Read a pcap/pcapng (gzip-compressed too), rebuild its RTSP sessions and "
        "RTP streams, and check them against RFC 3550, RFC 2435 and RFC 2326. Exit status 0 "
        "when no rule at or above --fail-on failed; 1 when one did, or the file could not be "
        "read whole; 2 when the file could not be read at all (or --expect could not be); "
        f"{EXIT_NOTHING_JUDGED} when the capture holds nothing any rule can judge (no RTSP, "
        "RTP or RTCP, or a link type it cannot read). Offences that --expect covers are "
        "shown as expected and do not fail.",
    )
    parser.add_argument(
        "capture",
        nargs="*",
        help="pcap or pcapng file; several files or folders (searched for .pcap, .pcapng, "
        ".cap, compressed too) check each capture apart, --jobs at a time",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        metavar="N",
        help="with several captures: check N at once, each in its own process (default: 1)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        help="with several captures: write each one's JSON and JUnit XML, and summary.json, "
        "into DIR",
    )
    parser.add_argument(
        "--list-rules", action="store_true", help="print every rule with its source, then exit"
    )
    parser.add_argument("--json", metavar="F", help="write the result as JSON to F")
    parser.add_argument("--junit", metavar="F", help="write one JUnit test case per rule to F")
    parser.add_argument(
        "--annotate",
        metavar="OUT.pcapng",
        help="write the capture back as pcapng with every finding as a comment on its packet "
        '(Wireshark: frame.comment contains "RULE-ID")',
    )
    parser.add_argument(
        "--fail-on",
        choices=["error", "warning"],
        default="error",
        help="lowest severity that makes the exit status 1 (default: error)",
    )
    parser.add_argument(
        "--expect",
        metavar="F",
        help="JSON file of expected findings (sessions or connections whose offences are "
        "deliberate, as the demo writes beside its capture)",
    )
    parser.add_argument(
        "--sdp",
        action="append",
        metavar="F",
        help="SDP file describing RTP that no RTSP session in the capture describes (as "
        "ffmpeg's -sdp_file writes): its clocks and encodings, by port; repeatable",
    )
    parser.add_argument(
        "--rtp-port",
        type=int,
        action="append",
        metavar="N",
        help="treat UDP to/from port N as RTP (N+1 as RTCP); repeatable",
    )
    parser.set_defaults(func=run)


def _styled(value: str, styles: dict[str, str]) -> Text:
    return Text(value, style=styles.get(value, ""))


def print_summary(result: CheckResult, console: Console) -> None:
    """Per session and stream figures, what is not media, then every rule with its
    evidence and the sessions its findings belong to."""
    from analysis.rules import Outcome, Severity

    # Lines a user reads or greps are never wrapped, whatever the terminal's width.
    console.print(
        f"[bold]{escape(str(result.path))}[/]: {result.packets_read} packets read", soft_wrap=True
    )
    if result.error is not None:
        console.print(f"[red]capture damaged:[/] {escape(str(result.error))}", soft_wrap=True)
    for note in result.notes:
        console.print(f"[cyan]note:[/] {escape(note)}", soft_wrap=True)
    if result.sessions:
        sessions = TableData(
            "RTSP sessions",
            [
                Column("session", whole=True),
                Column("client", whole=True),
                Column("server", whole=True),
                Column("transport"),
                Column("streams", justify="right"),
            ],
        )
        for s in result.sessions:
            sessions.add_row(
                s.id,
                str(s.connection.client),
                str(s.connection.server),
                # One Transport parameter per word, so a narrow column breaks between them.
                " | ".join(st.granted.raw.replace(";", "; ") for st in s.setups if st.granted),
                str(len(s.streams)),
            )
        print_table(console, sessions)
    streams = TableData(
        "RTP streams",
        [
            Column("stream", whole=True),
            Column("session", whole=True),
            Column("format"),
            Column("packets", justify="right"),
            Column("frames", justify="right"),
            Column("lost", justify="right"),
            Column("jitter ms", justify="right"),
            Column("fps", justify="right"),
        ],
    )
    for stream in result.streams:
        st = stream.stats
        kind = f"{stream.fmt.describe()}\n{stream.format.value}"
        if st.gso_datagrams:
            kind += f"\n{st.gso_datagrams} GSO cut"
        channel = f" ch {stream.channel}" if stream.channel is not None else ""
        streams.add_row(
            f"{stream.ssrc:#010x}\n{stream.src}\n-> {stream.dst}{channel}",
            stream.session_id or "-",
            kind,
            str(st.packets),
            "-" if st.frames is None else f"{st.complete_frames}/{st.frames}",
            str(st.lost),
            "-" if st.jitter_ms is None else f"{st.jitter_ms:.2f}",
            "-" if st.fps is None else f"{st.fps:.2f}",
        )
    print_table(console, streams)
    if result.non_media:
        others = TableData(
            "Not media: keep-alives and datagrams that fail RTP validation",
            [
                Column("flow", whole=True),
                Column("session", whole=True),
                Column("what"),
                Column("packets"),
            ],
        )
        for n in result.non_media:
            shown = ", ".join(map(str, n.pktnos[:SHOWN_PACKETS]))
            more = " ..." if len(n.pktnos) > SHOWN_PACKETS else ""
            others.add_row(n.label, n.session_id or "-", n.kind, f"{len(n.pktnos)}: {shown}{more}")
        print_table(console, others)
    rules = TableData(
        "Rules",
        [
            Column("rule", whole=True),
            Column("severity"),
            Column("outcome"),
            Column("title and evidence"),
        ],
    )
    for r in result.rules:
        outcome = _styled(r.outcome.value, OUTCOME_STYLE)
        if r.offences:
            outcome.append(f"\n{r.count}x, packets {', '.join(map(str, r.packets))}")
            owners = r.by_owner()
            if len(owners) > 1 or any(o.scope.session for o in r.offences):
                outcome.append("\n" + "; ".join(f"{k}: {v}" for k, v in owners.items()))
        detail = Text(f"{r.rule.title} ({r.rule.rfc} §{r.rule.section})")
        if r.evidence:
            detail.append("\n" + r.evidence, style="dim")
        for reason in r.reasons:
            detail.append(f"\nexpected: {reason}", style="magenta")
        rules.add_row(r.rule.id, _styled(r.rule.severity.value, SEVERITY_STYLE), outcome, detail)
    print_table(console, rules)
    counts = result.failed_counts()
    expected_rules = sum(1 for r in result.rules if r.outcome is Outcome.EXPECTED)
    console.print(
        f"failed: [red]{counts[Severity.ERROR]} error[/], [yellow]{counts[Severity.WARNING]} "
        f"warning[/], [cyan]{counts[Severity.INFO]} info[/]"
        + (
            f"; [magenta]{expected_rules} rule(s) with expected findings only[/]"
            if expected_rules
            else ""
        )
    )


def print_rules(console: Console) -> None:
    """Every registered rule: id, source, severity and title."""
    from analysis.rules import registered_rules

    table = TableData(
        "Conformance rules",
        [Column("rule", whole=True), Column("source"), Column("severity"), Column("checks that")],
    )
    for r in registered_rules():
        table.add_row(
            r.id,
            f"{r.rfc} §{r.section}",
            _styled(r.severity.value, SEVERITY_STYLE),
            r.title,
        )
    print_table(console, table)


def print_annotation(
    summary: AnnotationSummary, path: str, result: CheckResult, console: Console
) -> None:
    """Where the annotated copy went, what it holds, and the Wireshark filter for the
    failed rules."""
    console.print(
        f"annotated: {escape(path)}: {summary.annotated} of {summary.packets} packets commented",
        soft_wrap=True,
    )
    if summary.stopped:
        console.print(f"[red]annotation stopped:[/] {escape(summary.stopped)}", soft_wrap=True)
    failed = failed_rules_filter(result)
    if failed:
        console.print("the packets of the failed rules in Wireshark:")
        console.print(
            f"  {DecodeAs.of(result).command(Path(path), failed)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def run_batch(args: argparse.Namespace, console: Console) -> int:
    """Several captures: a verdict per capture as each is checked, files in -o DIR, a total.

    Exit status 2 when a capture could not be read at all, else 1 when one failed or was
    damaged, else 3 when one held nothing to judge, else 0."""
    from workbench.check_batch import check_many, find_captures, write_summary

    single = [
        flag
        for flag, value in (
            ("--json", args.json),
            ("--junit", args.junit),
            ("--annotate", args.annotate),
            ("--expect", args.expect),
            ("--sdp", args.sdp),
        )
        if value
    ]
    if single:
        return error(
            "check",
            f"{', '.join(single)} take one capture; with several, -o DIR writes a JSON "
            "and a JUnit XML per capture",
        )
    captures = find_captures(args.capture)
    if not captures:
        return error("check", f"no capture files in {' '.join(args.capture)}")
    table = TableData(
        f"{len(captures)} captures",
        [
            Column("capture", whole=True),
            Column("verdict"),
            Column("packets", justify="right"),
            Column("streams", justify="right"),
            Column("errors", justify="right"),
            Column("warnings", justify="right"),
            Column("failed rules or why"),
        ],
    )
    verdicts = []
    try:
        for v in check_many(
            captures, args.capture, args.output, args.jobs, args.fail_on, args.rtp_port
        ):
            verdicts.append(v)
            table.add_row(
                v.capture,
                _styled(v.verdict, VERDICT_STYLE),
                str(v.packets),
                str(v.streams),
                str(v.errors),
                str(v.warnings),
                ", ".join(v.failed_rules) or v.message,
            )
        summary = write_summary(verdicts, args.output) if args.output else None
    except OSError as exc:
        return error("check", f"cannot write {exc.filename}: {exc.strerror}")
    print_table(console, table)
    counts = {k: sum(v.verdict == k for v in verdicts) for k in VERDICT_STYLE}
    console.print(", ".join(f"{n} {k}" for k, n in counts.items()), soft_wrap=True)
    if summary is not None:
        console.print(f"summary: {escape(str(summary))}", soft_wrap=True)
    if counts["unreadable"]:
        return 2
    if counts["failed"] or counts["damaged"]:
        return 1
    return EXIT_NOTHING_JUDGED if counts["nothing judged"] else 0


def run(args: argparse.Namespace) -> int:
    # Imported here: the command-line parser imports every command module, and the
    # analysis brings numpy; `--help` and the other commands start without it.
    from analysis.check import check_capture, write_json, write_junit
    from analysis.errors import AnalysisError
    from analysis.expected import read_expectations
    from analysis.rules import Severity
    from analysis.sessions.sdp_sources import read_sdp_file

    console = Console()
    if args.list_rules:
        print_rules(console)
        return 0
    if not args.capture:
        return error("check", "check needs a CAPTURE file (or --list-rules)")
    if len(args.capture) > 1 or Path(args.capture[0]).is_dir():
        return run_batch(args, console)
    if args.output is not None:
        return error("check", "-o DIR is for several captures; with one, use --json/--junit")
    args.capture = args.capture[0]
    try:
        expectations = read_expectations(args.expect) if args.expect else None
        sdps = [read_sdp_file(f) for f in args.sdp or ()]
        result = check_capture(args.capture, args.rtp_port, expectations, sdps)
    except AnalysisError as exc:
        return error("check", f"cannot check {args.capture}: {exc}")
    print_summary(result, console)
    try:
        if args.json:
            write_json(result, args.json)
        if args.junit:
            write_junit(result, args.junit)
        if args.annotate:
            print_annotation(annotate(result, args.annotate), args.annotate, result, console)
    except OSError as exc:
        return error("check", f"cannot write {exc.filename}: {exc.strerror}")
    except AnalysisError as exc:
        return error("check", f"cannot annotate {args.capture}: {exc}")
    verdict = result.verdict(Severity(args.fail_on))
    if verdict == "nothing judged":
        console.print(
            f"[yellow]nothing judged:[/] {escape(result.nothing_judged_reason())}", soft_wrap=True
        )
    return VERDICT_EXIT[verdict]
