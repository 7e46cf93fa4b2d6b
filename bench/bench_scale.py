"""How the server scales with sessions: one worker, N workers, and GStreamer's rtsp-server.

Per step (50, 100, 200, 400, 800 sessions by default, as many as ``--steps`` asks) each server
gets the same load: UDP sessions of a 640x480, 30 fps MJPEG clip, opened by load generators
in separate processes (``--generators``, one per usable core by default, so that receiving is
not the bottleneck), counted over a window after a warm-up. Per server and step it prints the
slowest session's frame rate, the loss, the cores the server's processes used (utime+stime of
the process and its children over the window) and the CPU per stream, and for N workers the
ratio of CPU per stream to one worker's (the goal: within 1.2x, near-linear) and whether the
slowest session kept >= 29.5 fps with no loss.

    python -m bench.bench_scale [--steps 50,100,200] [--seconds 10] [--workers N]

On a machine with few cores the large steps overload every server alike: the figures then
say how each degrades, and the goal there is that N workers do no worse than one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import shutil
import sys
import tempfile
import time
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

from bench.bench_server import FPS, HEIGHT, WIDTH, Served, our_server
from bench.rtsp_load import close_sessions, open_session, run_load
from rtsp_server.workers import usable_cores

STEPS = (50, 100, 200, 400, 800)
WARMUP = 2.0  # s: sessions set up and streaming before the window
GOAL_FPS = 29.5  # the slowest session's frame rate the goal asks for
GOAL_CPU_RATIO = 1.2  # N workers' CPU per stream within this of one worker's
CLK_TCK = os.sysconf("SC_CLK_TCK")
REPORT_TIMEOUT = 120.0  # s: a load generator's wait for its results, plus per session:
CLOSE_PER_SESSION = 0.25  # s: TEARDOWN of a session on a generator that is behind


def tree_cpu(pid: int) -> float:
    """utime + stime in seconds of ``pid`` and its descendants still running (proc(5))."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended meanwhile
    return total


def _generate(port: int, url: str, count: int, seconds: float, ready, start, results) -> None:
    """One load generator process: open ``count`` sessions, then count a window of RTP."""
    try:
        sessions = [open_session("127.0.0.1", port, url) for _ in range(count)]
    except (OSError, RuntimeError) as exc:
        ready.put(f"{type(exc).__name__}: {exc}")
        return
    ready.put(None)
    start.wait()
    load = run_load(sessions, WARMUP, seconds)
    close_sessions(sessions)
    results.put((load.frames, load.packets, load.lost))


@dataclass
class Step:
    """One server at one step."""

    name: str
    sessions: int
    seconds: float
    cpu_seconds: float
    fps: list[float]
    packets: int
    lost: int

    @property
    def cores(self) -> float:
        return self.cpu_seconds / self.seconds

    @property
    def cpu_per_stream(self) -> float:
        return self.cpu_seconds / (self.sessions * self.seconds)

    @property
    def cpu_per_frame(self) -> float:
        """CPU seconds per frame the receivers got: fair to a saturated server, which spends
        less per stream-second only because it sends fewer frames."""
        delivered = sum(self.fps) * self.seconds
        return self.cpu_seconds / delivered if delivered else float("inf")

    @property
    def loss(self) -> float:
        return self.lost / (self.packets + self.lost) if self.packets + self.lost else 0.0

    @property
    def healthy(self) -> bool:
        return self.lost == 0 and min(self.fps) >= GOAL_FPS


def measure(name: str, server: Served, sessions: int, seconds: float, generators: int) -> Step:
    """Load ``server`` with ``sessions`` sessions from ``generators`` processes."""
    context = multiprocessing.get_context("spawn")
    ready, results, start = context.Queue(), context.Queue(), context.Event()
    shares = [sessions // generators + (i < sessions % generators) for i in range(generators)]
    processes = [
        context.Process(
            target=_generate, args=(server.port, server.url, n, seconds, ready, start, results)
        )
        for n in shares
        if n
    ]
    for p in processes:
        p.start()
    try:
        problems = [ready.get(timeout=120) for _ in processes]
        if any(problems):
            raise RuntimeError(next(p for p in problems if p))
        start.set()
        time.sleep(WARMUP)
        before = tree_cpu(server.pid)
        time.sleep(seconds)
        used = tree_cpu(server.pid) - before
        frames, packets, lost = [], 0, 0
        for _ in processes:
            try:
                f, p, lo = results.get(timeout=REPORT_TIMEOUT + sessions * CLOSE_PER_SESSION)
            except queue.Empty:
                raise RuntimeError(
                    "the load generators did not report: they are overloaded"
                ) from None
            frames += f
            packets += sum(p)
            lost += sum(lo)
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return Step(name, sessions, seconds, used, [f / seconds for f in frames], packets, lost)


@contextmanager
def ours(folder: Path, sessions: int, workers: int) -> Iterator[Served]:
    with our_server(folder, sessions, "--loop", "--workers", str(workers)) as served:
        time.sleep(1.0 if workers > 1 else 0.0)  # every worker listening, not only the first
        yield served


def report(step: Step, one_worker: Step | None) -> None:
    ratio = ""
    if one_worker is not None:
        per_stream = step.cpu_per_stream / one_worker.cpu_per_stream
        per_frame = step.cpu_per_frame / one_worker.cpu_per_frame
        one_frame = 1 / step.seconds  # fps: one frame over the window is counting noise
        no_worse = min(step.fps) >= min(one_worker.fps) - one_frame and step.lost <= one_worker.lost
        ratio = (
            f" vs 1 worker: cpu/stream={per_stream:.2f}x cpu/frame={per_frame:.2f}x"
            f" (goal <= {GOAL_CPU_RATIO}x), fps and loss no worse: {'yes' if no_worse else 'NO'}"
        )
    print(
        f"{step.name:<12} sessions={step.sessions:<4} slowest fps={min(step.fps):5.2f} "
        f"loss={step.loss * 100:.3f}% cores={step.cores:.2f} "
        f"cpu/stream-s={step.cpu_per_stream:.5f}{ratio} "
        f"({'meets' if step.healthy else 'misses'} >= {GOAL_FPS} fps, 0 loss)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default=",".join(map(str, STEPS)))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=usable_cores())
    parser.add_argument("--generators", type=int, default=usable_cores())
    parser.add_argument("--no-gstreamer", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("bench_scale: ffmpeg not found; skipped")
        return 1
    steps = [int(s) for s in args.steps.split(",")]
    reason = "--no-gstreamer asked" if args.no_gstreamer else unavailable_reason()
    print(
        f"{usable_cores()} usable cores; {args.workers} workers; {args.generators} load "
        f"generator processes; {WIDTH}x{HEIGHT} @ {FPS} fps; {args.seconds:.0f} s per step"
    )
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        folder = Path(tmp)
        raw = make_mjpeg_clip(
            folder / "clip.mjpeg", args.seconds + WARMUP + 8, (WIDTH, HEIGHT), FPS
        )
        mkv = remux_to_mkv(raw, FPS)
        for sessions in steps:
            try:
                with ours(folder, sessions, 1) as served:
                    single = measure("ours-1", served, sessions, args.seconds, args.generators)
                report(single, None)
                with ours(folder, sessions, args.workers) as served:
                    name = f"ours-{args.workers}"
                    multi = measure(name, served, sessions, args.seconds, args.generators)
                report(multi, single)
            except RuntimeError as exc:
                print(f"ours         sessions={sessions:<4} not measured: {exc}")
                continue
            if reason is not None:
                continue
            try:
                with gst_rtsp_server(mkv, path="/clip") as peer:
                    served = Served(peer.pid, peer.port, peer.url)
                    gst = measure("gstreamer", served, sessions, args.seconds, args.generators)
            except (GstPeerError, RuntimeError) as exc:
                print(f"gstreamer    sessions={sessions:<4} failed: {exc}")
                continue
            report(gst, None)
    if reason is not None:
        print(f"GStreamer peer not run ({reason}): no comparison")
    return 0


if __name__ == "__main__":
    sys.exit(main())
