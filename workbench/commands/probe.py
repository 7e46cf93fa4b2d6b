"""`rtsp-workbench probe URL`: send a battery of crafted RTSP requests, judge each reply."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from rtsp_common.arguments import PASSWORD_VARIABLE
from workbench.messages import error
from workbench.tables import Column, TableData, print_table

if TYPE_CHECKING:
    from analysis.probe.battery import ProbeReport
    from analysis.probe.wire import Target

STATUS_NOT_FOUND = 404  # RFC 2326 §7.1.1

# Keyed by analysis.probe.battery.Verdict's values, so that building the parser does not import
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
        "each reply against RFC 2326. A server that demands authentication is also asked "
        "whether it offers or accepts Basic over plain TCP, accepts a replayed Digest answer "
        "or a nonce it never issued, and tells an unknown user from a wrong password. "
        "Exits 1 when a case fails.",
    )
    parser.add_argument("url", help="rtsp://[USER:PASSWORD@]HOST[:PORT]/PATH")
    parser.add_argument("--user", help="user name, when the server demands one")
    parser.add_argument(
        "--password",
        help=f"password of --user (else ${PASSWORD_VARIABLE}, which ps cannot show)",
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait per reply")
    parser.add_argument(
        "--rtp-wait", type=float, default=2.0, help="seconds to wait for RTP after PLAY"
    )
    parser.add_argument("--json", type=Path, metavar="F", help="also write the results as JSON")
    parser.set_defaults(func=run)


def render(report: ProbeReport, console: Console) -> None:
    """The results as a table (on a narrow terminal without the request, then the reply and
    the expected status, which the reason quotes), then the totals."""
    table = TableData(
        f"RTSP probe of {report.target}",
        [
            Column("case", whole=True),
            Column("request", drop=1),
            # The reason quotes the reply, and the expected status when it differs.
            Column("expected", drop=3),
            Column("got", drop=2),
            Column("verdict"),
            Column("reason"),
        ],
    )
    for r in report.results:
        # Requests, replies and reasons quote the server's bytes: plain text, never markup.
        table.add_row(
            r.case,
            r.request,
            r.expected,
            r.reply or "-",
            Text(r.verdict.value.upper(), style=_STYLE[r.verdict.value]),
            r.reason,
        )
    print_table(console, table)
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


def _no_such_path(target: Target, timeout: float) -> str | None:
    """Why the URL's path names nothing on the server (404 to a DESCRIBE), or None.

    Any other answer, or none, is left for the probe to judge."""
    from workbench.rawrtsp import RawRTSPConnection, RawRTSPError

    try:
        with RawRTSPConnection(target.host, target.port, timeout) as connection:
            reply = connection.send(
                "DESCRIBE", target.url, [("Accept", "application/sdp")]
            ).response
    except (OSError, RawRTSPError):
        return None
    if reply.status != STATUS_NOT_FOUND:
        return None
    return (
        f"{target.url}: the server answers DESCRIBE with {reply.status} {reply.reason}: the "
        f"path may be wrong (the cases that need a clip would all fail for it); check the "
        f"clip's name, e.g. with ffprobe or rtsp-client"
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: the command-line parser imports every command module, and the
    # analysis brings numpy; `--help` and the other commands start without it.
    from analysis.probe.battery import run_probe
    from analysis.probe.channel import socket_environment
    from analysis.probe.wire import Target

    console = Console()
    try:
        target = Target.parse(args.url)
    except ValueError as exc:
        return error("probe", str(exc))
    if args.user is not None:
        password = args.password or os.environ.get(PASSWORD_VARIABLE, "")
        target = dataclasses.replace(target, user=args.user, password=password)
    # One line says more than fifteen rows that all fail for the same reason.
    problem = _unreachable(target, args.timeout) or _no_such_path(target, args.timeout)
    if problem:
        return error("probe", problem)
    report = run_probe(target, socket_environment(target, args.timeout, args.rtp_wait))
    render(report, console)
    if args.json:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            return error("probe", f"cannot write {args.json}: {exc.strerror}")
    return 1 if report.failed else 0
