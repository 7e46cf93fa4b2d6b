"""Command line: ``rtsp-server [--host H] [--port P] [--media DIR|FILE] [--fps N] ...``."""

from __future__ import annotations

import argparse
import logging
import sys

from rtsp_common.arguments import port, positive_int, positive_seconds, rtp_port
from rtsp_common.errors import MediaFileError
from rtsp_server.server import DEFAULT_PORT, RTSPServer

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rtsp-server``."""
    parser = argparse.ArgumentParser(
        prog="rtsp-server",
        description="RTSP 1.0 server streaming MJPEG files over RTP (RFC 2326, 3550, 2435).",
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument(
        "--port", type=port, default=DEFAULT_PORT, help=f"RTSP TCP port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--media", default=".", help="folder of .Mjpeg/.mjpeg/.mjpg files, or one file (default .)"
    )
    parser.add_argument("--fps", type=float, default=20.0, help="frames per second (default 20)")
    parser.add_argument(
        "--mtu", type=int, default=1400, help="largest IP packet in bytes (default 1400)"
    )
    parser.add_argument("--loop", action="store_true", help="start over at the end of a file")
    parser.add_argument(
        "--session-timeout",
        type=positive_seconds,
        default=60.0,
        help="idle session timeout, s (default 60)",
    )
    parser.add_argument(
        "--max-sessions",
        type=positive_int,
        default=1000,
        help="most sessions at once (default 1000)",
    )
    parser.add_argument(
        "--max-connections",
        type=positive_int,
        default=1000,
        help="most RTSP connections (default 1000)",
    )
    parser.add_argument(
        "--rtp-port",
        type=rtp_port,
        default=0,
        help="even UDP port for RTP, RTCP on the next (default any)",
    )
    parser.add_argument(
        "--gso",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="UDP segmentation offload: one syscall per frame instead of one per packet; a "
        "capture on this host then shows one large datagram per frame (default off)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="-v: one line per request; -vv: debug"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the server until Ctrl-C or SIGTERM; the exit status is 2 when it cannot start."""
    args = build_parser().parse_args(argv)
    level = (
        logging.WARNING
        if args.verbose == 0
        else logging.INFO
        if args.verbose == 1
        else logging.DEBUG
    )
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Startup and per-request lines are what an operator watches, even without -v.
    for name in ("rtsp_server.server", "rtsp_server.connection"):
        logging.getLogger(name).setLevel(min(level, logging.INFO))
    try:
        server = RTSPServer(
            port=args.port,
            media=args.media,
            host=args.host,
            fps=args.fps,
            mtu=args.mtu,
            loop=args.loop,
            session_timeout=args.session_timeout,
            max_sessions=args.max_sessions,
            max_connections=args.max_connections,
            rtp_port=args.rtp_port,
            use_gso=args.gso,
        )
        server.start()
    except (MediaFileError, ValueError, OSError) as exc:
        print(f"rtsp-server: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
