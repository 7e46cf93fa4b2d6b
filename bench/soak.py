"""Soak: 60 UDP sessions of a 640x480, 30 fps MJPEG clip for 10 minutes against one server
process, as `make soak` runs it (not in CI). Prints the loss (goal 0), each session's frame
rate, and the server's RSS and open file descriptors at the start and at the end.

    python -m bench.soak [--sessions 60] [--minutes 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from gst_peer import make_mjpeg_clip
from server_process import rtsp_server_process

from bench.bench_server import FPS, HEIGHT, WIDTH
from bench.rtsp_load import close_sessions, open_session, run_load

WARMUP = 2.0  # s of streaming before the figures start


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("soak: ffmpeg not found (it makes the clip)")
        return 1
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        folder = Path(tmp)
        make_mjpeg_clip(folder / "clip.mjpeg", 20, (WIDTH, HEIGHT), FPS)
        room = str(args.sessions + 10)  # every session comes from loopback: one address
        flags = ["--fps", str(FPS), "--loop", "--max-sessions-per-peer", room]
        flags += ["--max-connections-per-peer", room]
        with rtsp_server_process(folder, *flags) as server:
            sessions = [
                open_session("127.0.0.1", server.port, server.url("clip.mjpeg"))
                for _ in range(args.sessions)
            ]
            marks: dict[str, tuple[int, int]] = {}

            def mark(name: str) -> None:
                marks[name] = (rss_kib(server.pid), fds(server.pid))

            load = run_load(
                sessions,
                WARMUP,
                seconds,
                on_window_start=lambda: mark("start"),
                on_window_end=lambda: mark("end"),
            )
            close_sessions(sessions)
    fps = load.fps
    (rss0, fd0), (rss1, fd1) = marks["start"], marks["end"]
    print(
        f"soak: {args.sessions} sessions x {args.minutes:g} min of {WIDTH}x{HEIGHT} @ {FPS} fps\n"
        f"loss: {load.loss_ratio * 100:.4f}% ({sum(load.lost)} of "
        f"{sum(load.packets) + sum(load.lost)} packets; goal 0)\n"
        f"fps per session: min {min(fps):.2f}, mean {sum(fps) / len(fps):.2f}\n"
        f"server RSS: {rss0} KiB at the start, {rss1} KiB at the end ({rss1 - rss0:+d} KiB)\n"
        f"server fds: {fd0} at the start, {fd1} at the end"
    )
    return 0 if sum(load.lost) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
