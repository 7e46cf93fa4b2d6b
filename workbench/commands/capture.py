"""`rtsp-workbench capture`: write the RTSP sessions seen on an interface to a pcap."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from workbench.messages import error

if TYPE_CHECKING:
    from analysis.capture.live import Capture

log = logging.getLogger(__name__)

REFRESH_SECONDS = 0.25
# The TCP ports Wireshark's RTSP dissector claims by default.
WIRESHARK_RTSP_PORTS = (554, 8554)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "capture",
        help="capture RTSP sessions (RTSP + negotiated RTP/RTCP) to a pcap",
        description="Capture the RTSP connections on a port and the RTP/RTCP flows their "
        "SETUP exchanges negotiate, and nothing else, to a classic pcap that "
        "Wireshark decodes without 'Decode As'. Needs root or CAP_NET_RAW.",
    )
    parser.add_argument("-i", "--interface", default="lo", help="interface (default: lo)")
    parser.add_argument("--rtsp-port", type=int, default=8554, help="RTSP TCP port (8554)")
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    limit.add_argument("--count", type=int, metavar="N", help="stop after N packets written")
    parser.add_argument(
        "--udp-port",
        type=int,
        action="append",
        default=[],
        metavar="PORT",
        help="also keep UDP to or from PORT (RTP sent without RTSP); repeatable",
    )
    parser.add_argument("-o", "--output", required=True, help="pcap file to write")
    parser.set_defaults(func=run)


def _status(capture: Capture, width: int) -> Text:
    """The live line, made to fit ``width`` columns: the items that matter least (the hint,
    then the packets merely seen) go first, so the line never wraps or gets cut mid-figure."""
    s = capture.stats()
    drops = s["kernel_drops"]
    items: list[tuple[str, str]] = [
        (f"{s['packets_written']} packets written", "green"),
        (f"{drops} kernel drops", "red" if drops else "dim"),
        (f"{s['elapsed']:.1f} s", ""),
        (f"{s['packets_seen']} seen", ""),
        ("Ctrl-C stops", "dim"),
    ]
    head = f"capturing {capture.interface}:{capture.rtsp_port} "
    while items and len(head) + sum(len(text) + 2 for text, _ in items) > width - 1:
        items.pop()
    line = Text(head, style="bold")
    for n, (text, style) in enumerate(items):
        if n:
            line.append(", ")
        line.append(text, style)
    return line


def run(args: argparse.Namespace) -> int:
    # Imported here: the command-line parser imports every command module, and the
    # analysis brings numpy; `--help` and the other commands start without it.
    from analysis.capture.live import Capture, CaptureError

    console = Console(stderr=True, soft_wrap=True)
    if (args.duration is not None and args.duration <= 0) or (
        args.count is not None and args.count <= 0
    ):
        return error("capture", "--duration and --count must be above 0")
    capture = Capture(
        interface=args.interface,
        rtsp_port=args.rtsp_port,
        output=args.output,
        duration=args.duration,
        count=args.count,
        udp_ports=tuple(args.udp_port),
    )
    try:
        capture.start()
    except CaptureError as exc:
        return error("capture", str(exc))
    try:
        with Live(
            _status(capture, console.width),
            console=console,
            refresh_per_second=4,
            transient=True,
        ) as live:
            while not capture.wait(REFRESH_SECONDS):
                live.update(_status(capture, console.width))
    except KeyboardInterrupt:
        pass
    try:
        summary = capture.stop()
    except CaptureError as exc:
        return error("capture", str(exc))
    out = Console(soft_wrap=True)
    out.print(
        f"wrote {summary.packets_written} packets to {escape(str(summary.output))} "
        f"({summary.packets_seen} seen on {summary.interface} in {summary.duration:.1f} s)"
    )
    drops_style = "bold red" if summary.kernel_drops else "green"
    out.print(f"kernel drops: [{drops_style}]{summary.kernel_drops}[/{drops_style}]")
    if summary.negotiated_ports:
        out.print("negotiated UDP ports: " + ", ".join(map(str, summary.negotiated_ports)))
    if args.rtsp_port not in WIRESHARK_RTSP_PORTS:
        # Wireshark finds the RTP through the SETUP exchange, once it reads RTSP there.
        out.print(
            f"Wireshark reads RTSP on ports 554 and 8554 only: open with "
            f"`wireshark -d tcp.port=={args.rtsp_port},rtsp {escape(str(summary.output))}`",
            soft_wrap=True,
        )
    return 0
