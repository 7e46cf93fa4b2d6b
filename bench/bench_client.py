"""The client's receive cost against ffmpeg on the same 640x480, 30 fps RTSP stream.

Our server streams the lab's movie (640x480 MJPEG) at 30 fps, looping. In the same run,
one after the other for the same duration (``--seconds``, 10):
- ``rtsp-client URL --duration D`` in a child process (RTP over UDP, RFC 2435 reassembly,
  statistics, RTCP), its CPU seconds from the child's rusage;
- ``ffmpeg -rtsp_transport udp -i URL -c copy -f null -`` for the same duration.
It prints both CPU figures and their ratio, over a steady window sampled from /proc while
both stream (from 2 s after start to 1 s before the end: start-up excluded for both) and
over the whole run, and the delay from the PLAY reply to the first complete frame
(target: under 100 ms on loopback).

Fairness: the two receivers take turns, ``--rounds`` times (5), and the medians decide: a
shared machine is noisy, and a receiver's few milliseconds of CPU a second move by 20%
from one 7 s window to the next (longer ``--seconds`` narrow that). Our child runs from
compiled bytecode, as an installed package does: it gets a private bytecode cache
(PYTHONPYCACHEPREFIX) filled by a warm-up run, so neither PYTHONDONTWRITEBYTECODE nor
stale caches make it compile its sources while measured. Headless, rtsp-client reads RTP
in batches (up to 0.5 s apart) once the first frame is in; the first-frame delay is
measured with the library's default, reading on every burst.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.child_usage import compiled_env
from rtsp_client import RTSPClient
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

# The lab's movie beside the checkout (../shared/lab), or where RTSP_WORKBENCH_LAB_MOVIE
# says (as for the tests: a worktree elsewhere still measures the same stream).
LAB_MOVIE = Path(
    os.environ.get("RTSP_WORKBENCH_LAB_MOVIE")
    or Path(__file__).resolve().parents[2] / "shared" / "lab" / "movie.Mjpeg"
)
DURATION = 10.0  # seconds each receiver runs by default (--seconds)
FPS = 30.0
FIRST_FRAME_TARGET = 0.100  # seconds from the PLAY reply
FIRST_FRAME_TRIALS = 5
STEADY_FROM = 2.0  # seconds after a child starts: start-up and PLAY are behind it
STEADY_END = 1.0  # seconds before a child stops: the steady window ends this far from it
ROUNDS = 5  # turns each receiver takes by default; the medians are reported


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def media_path(folder: Path) -> Path:
    """The lab's movie, or a generated 640x480 clip of the same shape when it is absent."""
    if LAB_MOVIE.exists():
        return LAB_MOVIE
    import io

    from PIL import Image

    from rtsp_common.mjpeg import open_writer

    path = folder / "bench.Mjpeg"
    base = Image.effect_mandelbrot((640, 480), (-2.0, -1.2, 0.8, 1.2), 64).convert("RGB")
    with open_writer(path) as writer:
        for i in range(120):
            out = io.BytesIO()
            base.rotate(i * 3).save(out, "JPEG", quality=75)
            writer.append(out.getvalue())
    return path


def proc_cpu(pid: int) -> float | None:
    """CPU seconds a live process's threads have run, in nanoseconds' resolution.

    Sums the first field of /proc/PID/task/*/schedstat (time on a CPU, proc(5)); the
    clock-tick figures of /proc/PID/stat are too coarse for a few seconds of work.
    """
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that just ended
    return total / 1e9


@dataclass
class Measured:
    """A child's CPU: in total (start-up included) and over the steady window."""

    total: float
    steady: float | None
    code: int


def run_measured(command: list[str], seconds: float, env: dict[str, str] | None = None) -> Measured:
    """Run a child that streams for ``seconds``; total CPU from its rusage, steady-state
    CPU sampled from /proc between STEADY_FROM and STEADY_END before its end."""
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, env=env
    )
    started = time.monotonic()
    deadline = started + seconds + 20
    window_end = seconds - STEADY_END
    samples: dict[str, float | None] = {}
    while True:
        elapsed = time.monotonic() - started
        if "start" not in samples and elapsed >= STEADY_FROM:
            samples["start"] = proc_cpu(proc.pid)
        if "end" not in samples and elapsed >= window_end:
            samples["end"] = proc_cpu(proc.pid)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    start, end = samples.get("start"), samples.get("end")
    steady = end - start if start is not None and end is not None else None
    return Measured(usage.ru_utime + usage.ru_stime, steady, os.waitstatus_to_exitcode(status))


def our_client(
    url: str, folder: Path, env: dict[str, str], seconds: float
) -> tuple[Measured, dict]:
    stats_file = folder / "client-stats.json"
    command = [sys.executable, "-m", "rtsp_client", url, "--duration", str(seconds),
               "--stats-json", str(stats_file)]  # fmt: skip
    measured = run_measured(command, seconds, env)
    if measured.code != 0 or not stats_file.exists():
        raise RuntimeError(f"rtsp-client exited {measured.code}")
    return measured, json.loads(stats_file.read_text())


def ffmpeg_client(url: str, seconds: float) -> Measured | None:
    if shutil.which("ffmpeg") is None:
        return None
    command = ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "udp", "-i", url,
               "-t", str(seconds), "-c", "copy", "-f", "null", "-"]  # fmt: skip
    measured = run_measured(command, seconds)
    return measured if measured.code == 0 else None


def first_frame_delays(url: str) -> list[float]:
    """Seconds from the PLAY reply to the first complete frame handed to the application.

    Timed at the hand-over (the frame callback), not by the frame's arrival stamp, which is
    the kernel's receive time of its last packet.
    """
    delays = []
    for _ in range(FIRST_FRAME_TRIALS):
        handed: list[float] = []
        got = threading.Event()

        def on_frame(
            jpeg: bytes,
            timestamp: int,
            arrival: float,
            index: int,
            handed: list[float] = handed,
            got: threading.Event = got,
        ) -> None:
            if not handed:
                handed.append(time.time())
                got.set()

        with RTSPClient.from_url(url, on_frame=on_frame, queue_frames=False) as client:
            client.setup()
            client.play()
            if got.wait(5) and client.core.play_reply_time is not None:
                # Negative when the frame was complete before the reply was read: count 0.
                delays.append(max(0.0, handed[0] - client.core.play_reply_time))
    return delays


def ratio(ours: float | None, theirs: float | None) -> float | None:
    return ours / theirs if ours is not None and theirs else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="turns each receiver takes")
    parser.add_argument(
        "--seconds", type=float, default=DURATION, help="how long each receiver streams"
    )
    args = parser.parse_args(argv or [])
    window = args.seconds - STEADY_END - STEADY_FROM  # seconds of steady reception measured
    if window <= 0:
        parser.error(f"--seconds must exceed {STEADY_FROM + STEADY_END:g}")
    rounds: list[tuple[Measured, Measured | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        media = media_path(folder)
        env = compiled_env(folder, [sys.executable, "-m", "rtsp_client", "--help"])
        with RTSPServer(
            options=ServerOptions(port=0, media=media, host="127.0.0.1", fps=FPS, loop=True)
        ) as server:
            url = f"rtsp://127.0.0.1:{server.port}/{media.name}"
            for _ in range(args.rounds):  # turns, so both meet the same moods of the machine
                ours, stats = our_client(url, folder, env, args.seconds)
                rounds.append((ours, ffmpeg_client(url, args.seconds)))
            delays = first_frame_delays(url)
    print(f"stream: {media.name} 640x480 at {FPS:g} fps over UDP, {args.seconds:g} s per receiver, "
          f"{args.rounds} rounds taking turns")  # fmt: skip
    print(
        f"rtsp-client received {stats['frames_complete']} frames, "
        f"{stats['packets_received']} packets, {stats['packets_lost']} lost, "
        f"{stats['average_bitrate_kbps']:.0f} kbit/s (last round)"
    )
    print(f"CPU-s while receiving, from {STEADY_FROM:g} s to {STEADY_FROM + window:g} s "
          "after start (start-up excluded for both); whole run in brackets:")  # fmt: skip
    steady_ratios, whole_ratios = [], []
    for n, (ours, theirs) in enumerate(rounds, 1):
        line = f"  round {n}: rtsp-client {fmt(ours.steady)} ({ours.total:.3f})"
        if theirs is not None:
            line += f"   ffmpeg -c copy -f null {fmt(theirs.steady)} ({theirs.total:.3f})"
            steady, whole = ratio(ours.steady, theirs.steady), ratio(ours.total, theirs.total)
            line += f"   ratios {fmt(steady)} ({fmt(whole)})"
            if steady is not None:
                steady_ratios.append(steady)
            if whole is not None:
                whole_ratios.append(whole)
        print(line)
    ok = True
    if not steady_ratios:
        print("  ffmpeg: not available; no ratio")
    else:
        median = statistics.median(steady_ratios)
        print(f"  median ratio rtsp-client / ffmpeg while receiving: {median:.2f} (target < 1)")
        ours_cpu, theirs_cpu = zip(
            *((o.steady, t.steady) for o, t in rounds if o.steady is not None and t and t.steady)
        )
        per_second = 1000 / window
        print(f"  median CPU while receiving: rtsp-client "
              f"{statistics.median(ours_cpu) * per_second:.2f} ms/s, ffmpeg "
              f"{statistics.median(theirs_cpu) * per_second:.2f} ms/s")  # fmt: skip
        print(f"  median ratio over the whole run: {statistics.median(whole_ratios):.2f} "
              "(Python start-up and imports included)")  # fmt: skip
        ok = median < 1
    if delays:
        worst = max(delays)
        print(
            f"first frame after the PLAY reply: median {sorted(delays)[len(delays) // 2] * 1000:.1f} ms, "
            f"worst {worst * 1000:.1f} ms over {len(delays)} trials (target < "
            f"{FIRST_FRAME_TARGET * 1000:.0f} ms)"
        )
        ok = ok and worst < FIRST_FRAME_TARGET
    else:
        print("first frame: none arrived")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
