"""Our rtsp-server against GStreamer's rtsp-server under the same load, side by side.

N concurrent UDP sessions of a 640x480, 30 fps MJPEG clip for a fixed window. Per server:
CPU seconds per stream-second (utime+stime of the server process from /proc/<pid>/stat),
packet loss, each session's frame rate, and the ratio ours/GStreamer.

    python -m bench.bench_server [--sessions 60] [--seconds 10] [--rounds 3]

The servers take turns, ROUNDS times, and the medians give the ratios (a shared machine is
noisy).

Our server runs twice: as "ours", its default (one sendmmsg per scheduler tick, one datagram
per packet), and as "ours-gso", with UDP GSO (--gso), one syscall per frame.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gst_peer import (
    GstPeerError,
    gst_rtsp_server,
    make_mjpeg_clip,
    remux_to_mkv,
    unavailable_reason,
)
from server_process import rtsp_server_process

from bench.rtsp_load import LoadResult, close_sessions, open_session, run_load

FPS = 30
WIDTH, HEIGHT = 640, 480
TARGET_RATIO = 0.3  # issue 14: at most 0.3x GStreamer's CPU per stream (0.5 was the first step)
WARMUP = 1.5  # s before the window: sessions set up, first frames and SRs out
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class ServerRun:
    name: str
    cpu_seconds: float
    load: LoadResult

    @property
    def cpu_per_stream_second(self) -> float:
        return self.cpu_seconds / (self.load.sessions * self.load.seconds)


def process_cpu(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (proc(5): fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass(frozen=True)
class Served:
    """A server under load: its process (for CPU time), port and the clip's URL."""

    pid: int
    port: int
    url: str


def measure(name: str, server: Served, sessions: int, seconds: float) -> ServerRun:
    opened = [open_session("127.0.0.1", server.port, server.url) for _ in range(sessions)]
    marks: dict[str, float] = {}
    load = run_load(
        opened,
        WARMUP,
        seconds,
        on_window_start=lambda: marks.__setitem__("start", process_cpu(server.pid)),
        on_window_end=lambda: marks.__setitem__("end", process_cpu(server.pid)),
    )
    close_sessions(opened)
    return ServerRun(name, marks["end"] - marks["start"], load)


@contextmanager
def our_server(folder: Path, sessions: int, *extra: str) -> Iterator[Served]:
    """`python -m rtsp_server` on a free port, serving ``folder`` at FPS with room for
    ``sessions`` sessions from one address (every load comes from loopback), and ``extra``."""
    room = str(sessions + 10)
    options = ["--fps", str(FPS), "--max-sessions", room, "--max-connections", room]
    options += ["--max-sessions-per-peer", room, "--max-connections-per-peer", room, *extra]
    with rtsp_server_process(folder, *options) as server:
        yield Served(server.pid, server.port, server.url("clip.mjpeg"))


def report(run: ServerRun) -> None:
    fps = run.load.fps
    print(
        f"{run.name:<10} sessions={run.load.sessions:<3} cpu={run.cpu_seconds:6.2f}s "
        f"cpu/stream-s={run.cpu_per_stream_second:.5f} loss={run.load.loss_ratio * 100:.3f}% "
        f"({sum(run.load.lost)} of {sum(run.load.packets) + sum(run.load.lost)} packets) "
        f"fps min/mean/max={min(fps):.1f}/{sum(fps) / len(fps):.1f}/{max(fps):.1f}",
        flush=True,
    )


def healthy(run: ServerRun) -> bool:
    """Zero loss and every session at the clip's frame rate (2% for the window's edges)."""
    return run.load.loss_ratio == 0 and min(run.load.fps) >= FPS * 0.98


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-gstreamer", action="store_true", help="measure our server only")
    parser.add_argument("--rounds", type=int, default=3, help="turns each server takes")
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("bench_server: ffmpeg not found; skipped")
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        folder = Path(tmp)
        raw = make_mjpeg_clip(
            folder / "clip.mjpeg", args.seconds + WARMUP + 3, (WIDTH, HEIGHT), FPS
        )
        mkv = remux_to_mkv(raw, FPS)
        print(
            f"clip: {WIDTH}x{HEIGHT} {FPS} fps, {raw.stat().st_size // 1024} KiB; "
            f"{args.sessions} UDP sessions, {args.seconds:.0f} s window",
            flush=True,
        )
        peer = None if args.no_gstreamer else unavailable_reason()
        if args.no_gstreamer or peer is not None:
            print(f"GStreamer peer not run ({peer or '--no-gstreamer'}): no ratio")
        # Turns, so every server meets the same moods of a shared machine; medians decide.
        runs: dict[str, list[ServerRun]] = {}
        for _ in range(args.rounds):
            for name, gso in (("ours", False), ("ours-gso", True)):
                with our_server(folder, args.sessions, "--gso" if gso else "--no-gso") as served:
                    runs.setdefault(name, []).append(
                        measure(name, served, args.sessions, args.seconds)
                    )
                report(runs[name][-1])
            if args.no_gstreamer or peer is not None:
                continue
            try:
                with gst_rtsp_server(mkv, path="/clip") as gst:
                    runs.setdefault("gstreamer", []).append(
                        measure(
                            "gstreamer",
                            Served(gst.pid, gst.port, gst.url),
                            args.sessions,
                            args.seconds,
                        )
                    )
            except GstPeerError as exc:
                print(f"GStreamer peer failed: {exc}: no ratio")
                return 1
            report(runs["gstreamer"][-1])
        ours = {name: runs[name] for name in ("ours", "ours-gso")}
        if "gstreamer" not in runs:
            return 0 if all(healthy(r) for rs in ours.values() for r in rs) else 1
        gst_cpu = statistics.median(r.cpu_per_stream_second for r in runs["gstreamer"])
        print(f"medians over {args.rounds} round(s): gstreamer cpu/stream-s={gst_cpu:.5f}")
        for name, own in ours.items():
            cpu = statistics.median(r.cpu_per_stream_second for r in own)
            ratio = cpu / gst_cpu
            ok = ratio <= TARGET_RATIO and all(healthy(r) for r in own)
            verdict = "meets" if ok else "misses"
            print(
                f"ratio {name}/gstreamer cpu per stream-second = {ratio:.3f} (median "
                f"{cpu:.5f}; {verdict} the target: <= {TARGET_RATIO}, zero loss, {FPS} fps each)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
