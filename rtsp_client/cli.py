"""``rtsp-client``: play an RTSP MJPEG, H.264 or H.265 stream headless (recording, statistics) or in a window.

Exit status: 0 for a clean session; otherwise a one-line reason on stderr and one of the
codes in ``ExitCode`` (connection refused, an RTSP error status, no RTP after PLAY, the
server gone).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
import signal
import sys
import threading
import time
from enum import IntEnum
from pathlib import Path
from typing import Any

from rtsp_client.cli_logging import VERBOSE_HELP, configure_logging
from rtsp_client.client import RTSPClient
from rtsp_client.errors import ClientError, ConnectionLost, RTSPError, RTSPTimeout
from rtsp_client.options import ClientOptions, Dialect, LowerTransport
from rtsp_client.recording import Recorder
from rtsp_client.stats import ReceptionStats
from rtsp_common.arguments import (
    PASSWORD_VARIABLE,
    add_option,
    error_line,
    positive_int,
    positive_seconds,
    rtp_port,
)
from rtsp_common.errors import MediaFileError

logger = logging.getLogger(__name__)

PROG = "rtsp-client"

NO_RTP_TIMEOUT = 5.0  # seconds after PLAY (or after the last packet) before giving up
STATUS_INTERVAL = 0.5  # seconds between live status line updates
POLL = 0.1  # seconds: how often the main loop looks at its stop conditions
FLOWING = 1.0  # seconds: frames count as flowing when the last one is this recent
# Headless and unattended, frames are read off the socket in batches this many seconds
# apart once the first one is in: a few wake-ups a second instead of one per frame.
# Arrival times (and so jitter) come from the kernel's receive timestamps, not from when
# we read; what arrived after the last batch is read at TEARDOWN.
HEADLESS_BATCH_INTERVAL = 0.5


class ExitCode(IntEnum):
    """The command's exit statuses."""

    OK = 0
    FAILURE = 1  # anything else (a file that cannot be written, garbage from the server)
    USAGE = 2  # argparse's own code for a bad command line
    CONNECT = 3  # connection refused or unreachable
    RTSP_STATUS = 4  # the server answered a request with a non-2xx status (404, 454...)
    NO_RTP = 5  # no RTP within the timeout after PLAY
    SERVER_GONE = 6  # the server closed the connection, went silent or stopped answering
    INTERRUPTED = 130


class Terminated(KeyboardInterrupt):
    """SIGTERM: ends the session the way Ctrl-C does (TEARDOWN, then the summary)."""


def check_writable(path: Path) -> str | None:
    """Why ``path`` cannot be written (checked before connecting), or None when it can."""
    if path.is_dir():
        return f"{path} is a folder"
    existed = path.exists()
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}"
    if not existed:
        os.unlink(path)  # written at the end of the session; leave nothing behind till then
    return None


class SessionFailed(Exception):
    """Ends the session with an exit code and a one-line reason."""

    def __init__(self, code: ExitCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Receive an RTSP MJPEG, H.264 or H.265 stream: record it, save frames, "
        "measure it, or watch it.",
    )
    parser.add_argument("url", help="rtsp://host:port/path")
    add_option(
        parser, "--transport", ClientOptions, "transport", choices=[t.value for t in LowerTransport]
    )
    add_option(parser, "--rtp-port", ClientOptions, "rtp_port", type=rtp_port)
    add_option(parser, "--announce-port", ClientOptions, "announce_port", type=rtp_port)
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--duration", type=positive_seconds, help="stop after S seconds of playing")
    stop.add_argument("--frames", type=positive_int, help="stop after N frames")
    parser.add_argument(
        "--record",
        type=Path,
        help="write frames to a file: .Mjpeg is the lab's format, .mjpeg/.mjpg raw JPEGs; "
        ".h264/.h265 an Annex B stream of H.264/H.265 video",
    )
    parser.add_argument(
        "--record-format",
        choices=("lab", "raw"),
        help="the --record format whatever the file's name (default: from the name)",
    )
    parser.add_argument(
        "--frames-dir",
        type=Path,
        help="write each frame here: JPEGs as they come, H.264/H.265 decoded to PNG (needs PyAV)",
    )
    parser.add_argument("--stats-json", type=Path, help="write the final statistics as JSON")
    parser.add_argument("--gui", action="store_true", help="open the Tk player instead")
    add_option(parser, "--dialect", ClientOptions, "dialect", choices=[d.value for d in Dialect])
    parser.add_argument(
        "--rtp-timeout",
        type=positive_seconds,
        default=NO_RTP_TIMEOUT,
        help="seconds without RTP (after PLAY) before the session is given up",
    )
    add_option(parser, "--timeout", ClientOptions, "timeout", type=positive_seconds)
    add_option(parser, "--user", ClientOptions, "user")
    parser.add_argument(
        "--password",
        help=f"password of --user (else ${PASSWORD_VARIABLE}, which ps cannot show; "
        f"or give both in the URL: rtsp://USER:PASSWORD@host/...)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    return parser


def session_options(args: argparse.Namespace, batch_interval: float = 0.0) -> ClientOptions:
    """The client's options from the command line; ValueError for a combination it refuses."""
    return ClientOptions(
        transport=args.transport,
        rtp_port=args.rtp_port,
        announce_port=args.announce_port,
        dialect=args.dialect,
        timeout=args.timeout,
        batch_interval=batch_interval,
        user=args.user,
        password=args.password or (os.environ.get(PASSWORD_VARIABLE) if args.user else None),
    )


TERMINAL_COLUMNS = 80  # the summary fits a standard terminal; lines break between items
SUMMARY_INDENT = " " * 10  # continuation lines line up under the first value
JITTER_UNKNOWN = "not measured (the stream's media clock is unknown)"


def _jitter_text(stats: ReceptionStats, width: int = 0) -> str:
    if stats.jitter_ms is None:
        return "–".rjust(width)
    return f"{stats.jitter_ms:{width}.2f} ms"


def status_line(stats: ReceptionStats, width: int = TERMINAL_COLUMNS) -> str:
    """The live one-line summary: fps, kbit/s, loss, jitter; the items that do not fit
    ``width`` columns are left off (a live line that wraps leaves debris on the terminal)."""
    items = [
        f"{stats.frames_complete:6d} frames",
        f"{stats.fps:5.1f} fps",
        f"{stats.bitrate_kbps:8.1f} kbit/s",
        f"loss {stats.loss_percent:5.2f}%",
        f"jitter {_jitter_text(stats, 6)}",
    ]
    line = items[0]
    for item in items[1:]:
        if len(line) + 2 + len(item) >= width:
            break
        line += "  " + item
    return line


def _wrapped(label: str, items: list[str]) -> str:
    """``label`` then the items joined by commas, broken between items to fit the terminal."""
    lines: list[str] = []
    line = f"{label:<{len(SUMMARY_INDENT)}}"
    fresh = True  # nothing after the label or the indent yet
    for n, item in enumerate(items):
        text = item + ("," if n < len(items) - 1 else "")
        if not fresh and len(line) + 1 + len(text) > TERMINAL_COLUMNS:
            lines.append(line)
            line, fresh = SUMMARY_INDENT, True
        line += text if fresh else " " + text
        fresh = False
    lines.append(line)
    return "\n".join(lines)


def summary(stats: ReceptionStats) -> str:
    """The end-of-session report, in lines that fit 80 columns."""
    dropped = [f"{k} {v}" for k, v in sorted(stats.dropped.items())] or ["none"]
    jitter = JITTER_UNKNOWN if stats.jitter_ms is None else _jitter_text(stats)
    return "\n".join(
        [
            _wrapped(
                "frames:",
                [f"{stats.frames_complete} complete", f"{stats.frames_incomplete} incomplete"],
            ),
            _wrapped(
                "packets:",
                [
                    f"{stats.packets_received} received of {stats.packets_expected} expected",
                    f"{stats.packets_lost} lost ({stats.loss_percent:.2f}%)",
                    f"{stats.duplicates} duplicated",
                    f"{stats.reordered} reordered",
                ],
            ),
            _wrapped("jitter:", [jitter]),
            _wrapped(
                "rate:",
                [
                    f"{stats.average_fps:.1f} fps",
                    f"{stats.average_bitrate_kbps:.1f} kbit/s over {stats.elapsed:.1f} s",
                ],
            ),
            _wrapped("dropped:", dropped),
        ]
    )


class FrameSink:
    """Receives frames on the network thread: records them and counts them."""

    def __init__(self, recorder: Recorder, limit: int | None) -> None:
        self.recorder = recorder
        self.limit = limit
        self.count = 0
        self.last_frame: float | None = None
        self.error: Exception | None = None
        self.done = threading.Event()  # the frame limit was reached or recording failed
        self.stopping = False  # the server said BYE or the connection went
        # Set with ``done`` and when the stream stops: the main thread need not poll for them.
        self.wake = threading.Event()

    def __call__(self, jpeg: bytes, timestamp: int, arrival: float, index: int) -> None:
        if self.done.is_set():
            return
        try:
            self.recorder.add(jpeg, index)
        except (MediaFileError, OSError) as exc:
            self.error = exc
            self._finish()
            return
        self.count += 1
        self.last_frame = time.monotonic()
        if self.limit is not None and self.count >= self.limit:
            self._finish()

    def stream_stopped(self) -> None:
        """The server said BYE or the connection went (on the network thread)."""
        self.stopping = True
        self.wake.set()

    def _finish(self) -> None:
        self.done.set()
        self.wake.set()


def run_session(client: RTSPClient, args: argparse.Namespace, recorder: Recorder) -> str:
    """SETUP, PLAY, receive until a stop condition; return why it stopped (clean cases).

    Frames are handled on the network thread; while they flow, this thread sleeps until
    the duration is over, the stream goes silent for --rtp-timeout, the frame limit is
    reached or the stream stops (``FrameSink.wake``), or the status line is due.
    """
    sink = FrameSink(recorder, args.frames)
    client.on_frame = sink
    client.on_stream_stop = sink.stream_stopped
    client.setup()
    recorder.start(client.media_format, client.stream_header)
    client.play()
    played = time.monotonic()
    last_status = 0.0
    live = sys.stderr.isatty()
    while True:
        sink.wake.wait(wait_time(sink.last_frame, played, last_status, live, args, sink.stopping))
        sink.wake.clear()  # what woke it is state, looked at below
        finished = sink.done.is_set()
        if sink.error is not None:
            raise sink.error
        if finished:
            return f"received {sink.count} frames"
        now = time.monotonic()
        if args.duration is not None and now - played >= args.duration:
            return f"played {args.duration:g} s"
        if live and now - last_status >= STATUS_INTERVAL:
            last_status = now
            width = shutil.get_terminal_size((TERMINAL_COLUMNS, 24)).columns
            print("\r" + status_line(client.stats(), width), end="", file=sys.stderr, flush=True)
        last = sink.last_frame
        if last is not None and now - last < POLL:
            continue
        if client.stream_ended:
            return "the server ended the stream"
        if client.connection_closed:
            raise SessionFailed(ExitCode.SERVER_GONE, f"server gone: {client.close_reason}")
        if client.first_packet_time is None and now - played >= args.rtp_timeout:
            raise SessionFailed(ExitCode.NO_RTP, f"no RTP within {args.rtp_timeout:g} s of PLAY")
        if last is None and now - played >= args.rtp_timeout:
            raise SessionFailed(
                ExitCode.NO_RTP, f"RTP arrives but no complete frame within {args.rtp_timeout:g} s"
            )
        if last is not None and now - last >= args.rtp_timeout:
            if args.dialect == Dialect.LAB:
                return "the stream went quiet (the lab's server just stops at the end)"
            raise SessionFailed(
                ExitCode.SERVER_GONE, f"server gone: no RTP for {args.rtp_timeout:g} s"
            )


def wait_time(
    last_frame: float | None,
    played: float,
    last_status: float,
    live: bool,
    args: argparse.Namespace,
    stopping: bool = False,
) -> float:
    """How long the main thread may sleep before a stop condition or the status line is due
    (``stopping``: the stream stopped, so the last frames are watched for)."""
    now = time.monotonic()
    timeout = POLL
    if last_frame is not None and now - last_frame < FLOWING and not stopping:
        # Flowing: the end of the stream and the frame limit wake the thread; silence
        # shows when --rtp-timeout has passed since the last frame.
        timeout = last_frame + args.rtp_timeout - now
    if args.duration is not None:
        timeout = min(timeout, played + args.duration - now)
    if live:
        timeout = min(timeout, last_status + STATUS_INTERVAL - now)
    return max(timeout, 0.0)


def classify(exc: Exception, rtp_port: int = 0) -> tuple[ExitCode, str]:
    """Exit code and one-line reason for an error out of the client (``rtp_port``: the
    --rtp-port asked for, named when it is taken)."""
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return ExitCode.FAILURE, (
            f"UDP port {rtp_port} or {rtp_port + 1} (--rtp-port) is in use: another player "
            f"or RTP receiver holds it; `ss -lunp 'sport = :{rtp_port}'` shows which process, "
            f"or leave --rtp-port out for any free pair"
        )
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return ExitCode.FAILURE, f"{where}{exc.strerror or exc}"
    if isinstance(exc, SessionFailed):
        return exc.code, str(exc)
    if isinstance(exc, RTSPError):
        return ExitCode.RTSP_STATUS, str(exc)
    if isinstance(exc, ConnectionLost):
        text = str(exc)
        if "connection refused" in text or "cannot connect" in text or "connecting" in text:
            return ExitCode.CONNECT, text
        return ExitCode.SERVER_GONE, f"server gone: {text}"
    if isinstance(exc, RTSPTimeout):
        return ExitCode.SERVER_GONE, f"server not answering: {exc}"
    return ExitCode.FAILURE, str(exc)


def _terminate_like_ctrl_c() -> Any:
    """Make SIGTERM raise ``Terminated``; return the handler it replaced (None off the main thread).

    A second SIGTERM while tearing down kills the process as usual.
    """

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated()

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    # Headless and unattended, RTP is read in batches; not with a frame count (it stops at
    # once, not at the end of a batch), nor with the live status line or the window (their
    # fps and bit rate would lag by up to a batch).
    batched = not args.gui and args.frames is None and not sys.stderr.isatty()
    try:
        options = session_options(args, HEADLESS_BATCH_INTERVAL if batched else 0.0)
    except ValueError as exc:
        print(error_line(PROG, str(exc)), file=sys.stderr)
        return ExitCode.USAGE
    if args.gui:
        from rtsp_client.player import run_player

        return run_player(args.url, options)
    if args.record_format and not args.record:
        print(error_line(PROG, "--record-format needs --record"), file=sys.stderr)
        return ExitCode.USAGE
    if args.stats_json:
        problem = check_writable(args.stats_json)
        if problem:
            print(error_line(PROG, f"--stats-json: {problem}"), file=sys.stderr)
            return ExitCode.USAGE
    try:
        client = RTSPClient.from_url(args.url, options, queue_frames=False)
    except ValueError as exc:
        print(error_line(PROG, str(exc)), file=sys.stderr)
        return ExitCode.USAGE
    code, reason = ExitCode.OK, ""
    recorder: Recorder | None = None
    previous_handler = _terminate_like_ctrl_c()
    try:
        recorder = Recorder(args.record, args.frames_dir, args.record_format)
        reason = run_session(client, args, recorder)
        client.teardown()
    except KeyboardInterrupt as exc:
        code = ExitCode.OK
        reason = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        try:
            client.teardown()
        except ClientError:
            pass
    except (ClientError, SessionFailed, MediaFileError, OSError) as exc:
        code, reason = classify(exc, args.rtp_port)
        if code != ExitCode.SERVER_GONE and not client.connection_closed:
            try:
                client.teardown()
            except ClientError as err:
                logger.debug("teardown after failure: %s", err)
    finally:
        if recorder is not None:
            recorder.close()
        stats = client.stats()
        client.close()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if code == ExitCode.OK or stats.packets_received:
        print(summary(stats))
    if args.stats_json:
        payload = {"exit_code": int(code), "reason": reason, **stats.to_dict()}
        import json  # only for --stats-json: start-up counts

        try:
            args.stats_json.write_text(json.dumps(payload, indent=2) + "\n")
        except OSError as exc:
            if code == ExitCode.OK:
                code = ExitCode.FAILURE
                reason = f"cannot write {args.stats_json}: {exc.strerror or exc}"
            else:
                logger.warning("cannot write %s: %s", args.stats_json, exc)
    if code != ExitCode.OK:
        print(error_line(PROG, reason), file=sys.stderr)
    return int(code)
