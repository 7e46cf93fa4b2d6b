"""`rtsp-workbench probe URL`: send a battery of crafted RTSP requests, judge each reply."""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from analysis.probe import ProbeReport
    from analysis.probe_wire import Target

# Keyed by analysis.probe.Verdict's values, so that building the parser does not import
# the analysis.
_STYLE = {
    "pass": "green",
    "warn": "yellow",
    "fail": "bold red",
    "skip": "dim",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="probe an RTSP server with normal, malformed and hostile requests",
        description="Send the normal flow and a battery of odd requests (missing CSeq, wrong "
        "version, PLAY before SETUP, wrong Session, unknown method, oversized "
        "header, path traversal, bad Transport, interleaved TCP, the lab's request "
        "form) and judge "
        "each reply against RFC 2326. Exits 1 when a case fails.",
    )
    parser.add_argument("url", help="rtsp://HOST[:PORT]/PATH")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait per reply")
    parser.add_argument(
        "--rtp-wait", type=float, default=2.0, help="seconds to wait for RTP after PLAY"
    )
    parser.add_argument("--json", type=Path, metavar="F", help="also write the results as JSON")
    parser.set_defaults(func=run)


def render(report: ProbeReport, console: Console) -> None:
    """The results as a rich table, then the totals."""
    table = Table(title=f"RTSP probe of {escape(str(report.target))}", show_lines=False)
    for column in ("case", "request", "expected", "got", "verdict", "reason"):
        table.add_column(column, overflow="fold")
    for r in report.results:
        style = _STYLE[r.verdict.value]
        # Requests, replies and reasons quote the server's bytes, never markup.
        table.add_row(
            r.case,
            escape(r.request),
            escape(r.expected),
            escape(r.reply or "-"),
            f"[{style}]{r.verdict.value.upper()}[/{style}]",
            escape(r.reason),
        )
    console.print(table)
    counts = report.counts()
    console.print(", ".join(f"{n} {name}" for name, n in counts.items()))


def _unreachable(target: Target, timeout: float) -> str | None:
    """Why no TCP connection to the target opens, or None when one does."""
    where = f"{target.host}:{target.port}"
    try:
        socket.create_connection((target.host, target.port), timeout=timeout).close()
    except ConnectionRefusedError:
        return f"connection refused by {where} (is an RTSP server listening there?)"
    except TimeoutError:
        return f"no answer from {where} within {timeout:g} s"
    except OSError as exc:
        return f"cannot connect to {where}: {exc.strerror or exc}"
    return None


def run(args: argparse.Namespace) -> int:
    # Imported here: the command-line parser imports every command module, and the
    # analysis brings numpy; `--help` and the other commands start without it.
    from analysis.probe import run_probe
    from analysis.probe_channel import socket_environment
    from analysis.probe_wire import Target

    console = Console()
    try:
        target = Target.parse(args.url)
    except ValueError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    unreachable = _unreachable(target, args.timeout)
    if unreachable:
        # Fifteen rows that all say "refused" tell less than this one line.
        Console(stderr=True, soft_wrap=True).print(
            f"rtsp-workbench probe: {unreachable}", markup=False
        )
        return 2
    report = run_probe(target, socket_environment(target, args.timeout, args.rtp_wait))
    render(report, console)
    if args.json:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            Console(stderr=True, soft_wrap=True).print(
                f"rtsp-workbench probe: cannot write {args.json}: {exc.strerror}", markup=False
            )
            return 2
    return 1 if report.failed else 0
