"""Command line: ``rtsp-server [--host H] [--port P] [--media DIR|FILE] [--fps N] ...``."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from rtsp_common.arguments import (
    add_option,
    count,
    error_line,
    port,
    positive_int,
    positive_seconds,
    rtp_port,
)
from rtsp_common.errors import MediaFileError
from rtsp_server.options import ServerOptions
from rtsp_server.ports import PortInUse, port_in_use_advice
from rtsp_server.server import RTSPServer
from rtsp_server.workers import WorkerPool, WorkerStartError, usable_cores

log = logging.getLogger(__name__)


PROG = "rtsp-server"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rtsp-server``: defaults and help from ``ServerOptions``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="RTSP 1.0 server streaming MJPEG files over RTP (RFC 2326, 3550, 2435).",
    )

    def add(flag: str, name: str, group: Any = parser, **kwargs: Any) -> None:
        add_option(group, flag, ServerOptions, name, **kwargs)

    add("--host", "host")
    add("--port", "port", type=port)
    add("--media", "media")
    add("--fps", "fps", type=float)
    add("--mtu", "mtu", type=int)
    add("--loop", "loop", action="store_true")
    add("--session-timeout", "session_timeout", type=positive_seconds)
    add("--ready-timeout", "ready_timeout", type=positive_seconds)
    add("--max-sessions", "max_sessions", type=positive_int)
    add("--max-connections", "max_connections", type=positive_int)
    add("--max-sessions-per-peer", "max_sessions_per_peer", type=positive_int)
    add("--max-connections-per-peer", "max_connections_per_peer", type=positive_int)
    add("--max-interleaved-sessions", "max_interleaved_sessions", type=positive_int)
    add("--unreachable-limit", "unreachable_limit", type=count, metavar="N")
    add("--rtp-port", "rtp_port", type=rtp_port)
    add("--workers", "workers", type=worker_count, metavar="N|auto")
    add("--gso", "use_gso", action=argparse.BooleanOptionalAction, dest="gso")
    add("--pace", "pace", type=float, metavar="FRACTION")
    access = parser.add_argument_group(
        "access control", "RFC 2326 §D.1: Digest (RFC 7616) for the users named here; none: open"
    )
    add("--auth", "auth", access, action="append", metavar="USER:PASSWORD")
    add("--auth-file", "auth_file", access, metavar="FILE")
    add("--auth-realm", "auth_realm", access, metavar="REALM")
    add("--auth-basic", "auth_basic", access, action="store_true")
    add("--nonce-lifetime", "nonce_lifetime", access, type=positive_seconds, metavar="SECONDS")
    legacy = argparse.BooleanOptionalAction
    add("--auth-legacy-digest", "auth_legacy_digest", access, action=legacy)
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="start-up and one line per request are always shown; -v adds what the "
        "request handler and the sender notice (refused requests, GSO); -vv: debug",
    )
    return parser


def worker_count(text: str) -> int:
    """``auto`` (one worker per usable core) or a count of 1 or more."""
    return usable_cores() if text == "auto" else positive_int(text)


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
    for name in (
        "rtsp_server.server",
        "rtsp_server.connection",
        "rtsp_server.access",
        "rtsp_server.workers",
    ):
        logging.getLogger(name).setLevel(min(level, logging.INFO))
    try:
        options = ServerOptions(
            port=args.port,
            media=args.media,
            host=args.host,
            fps=args.fps,
            mtu=args.mtu,
            loop=args.loop,
            session_timeout=args.session_timeout,
            ready_timeout=args.ready_timeout,
            max_sessions=args.max_sessions,
            max_connections=args.max_connections,
            max_sessions_per_peer=args.max_sessions_per_peer,
            max_connections_per_peer=args.max_connections_per_peer,
            max_interleaved_sessions=args.max_interleaved_sessions,
            unreachable_limit=args.unreachable_limit,
            rtp_port=args.rtp_port,
            use_gso=args.gso,
            auth=args.auth,
            auth_file=args.auth_file,
            auth_realm=args.auth_realm,
            auth_basic=args.auth_basic,
            nonce_lifetime=args.nonce_lifetime,
            auth_legacy_digest=args.auth_legacy_digest,
            workers=args.workers,
            pace=args.pace,
        )
        if options.workers > 1:
            WorkerPool(options, level).run()
        else:
            RTSPServer(options=options).start()
    except WorkerStartError as exc:
        print(error_line(PROG, str(exc)), file=sys.stderr)
        return 2
    except PortInUse as exc:
        print(error_line(PROG, port_in_use_advice(exc)), file=sys.stderr)
        return 2
    except (MediaFileError, ValueError) as exc:
        print(error_line(PROG, str(exc)), file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(error_line(PROG, f"{where}{exc.strerror or exc}"), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
