"""`check` against `tshark -q -z rtp,streams` on captures of 0.4 and 1.6 GB: time, and peak
memory as the capture grows (the goal: bounded by the number of streams, not packets, at
most 300 MB).

Memory is judged as the checker's own: its peak anonymous memory, which the issue's figures
measured too. Its peak RSS is printed beside it; that also counts the pages of the capture
file it maps (page cache, shared and reclaimable by the kernel at any time), and reading a
capture of N GB that way shows N GB there. Bounded means both at most 300 MB and no
growth with the capture: on 4x the packets, at most MAX_GROWTH times the smallest's.

The captures (bench.check_capture, 20 sessions of 640x480 MJPEG at 30 fps, ~510 packets a
second each; with --h264, H.264 in as many packets) are written to a temporary directory
and deleted after. Both readers run as subprocesses measured alike (bench.child_usage: wall
time, peak RSS of that child alone; ours from compiled bytecode, as installed), alternately,
several rounds; medians are compared.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.check_capture import write_capture
from bench.child_usage import ChildUsage, compiled_env, run_measured

SESSIONS = 20
SIZES_S = (28.0, 113.0)  # seconds of each session: about 0.4 GB and 1.6 GB (1.15M packets)
BYTES_PER_SESSION_SECOND = 740_000  # 17 packets a frame of ~1440 bytes on the wire, 30 fps
TARGET_RATIO = 3.0
TARGET_PEAK_MEMORY = 300e6
MAX_GROWTH = 1.25  # largest over smallest capture's peak: flat, but for noise
ROUNDS = 3
MB = 1e6


def _median(runs: list[ChildUsage]) -> tuple[float, float, float]:
    """Median seconds, and the highest peak RSS and peak anonymous memory of the runs."""
    return (
        statistics.median(r.seconds for r in runs),
        max(r.peak_rss for r in runs),
        max(r.peak_anonymous for r in runs),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=list(SIZES_S))
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    payload = parser.add_mutually_exclusive_group()
    payload.add_argument(
        "--distinct",
        action="store_true",
        help="every frame distinct, as a camera's (each one decoded), not one clip repeated",
    )
    payload.add_argument(
        "--h264", action="store_true", help="H.264 (RFC 6184, FU-A) instead of MJPEG"
    )
    args = parser.parse_args(argv or [])
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark not found: no ratio")
        return 1
    needed = max(args.seconds) * SESSIONS * BYTES_PER_SESSION_SECOND * 1.1
    with tempfile.TemporaryDirectory() as tmp:
        free = shutil.disk_usage(tmp).free
        if free < needed:
            print(f"{tmp}: {free / MB:.0f} MB free, {needed / MB:.0f} MB needed: not run")
            return 1
        failed = False
        peaks, anonymous = [], []
        for seconds in args.seconds:
            path = Path(tmp) / "big.pcap"
            started = time.perf_counter()
            count = write_capture(path, SESSIONS, seconds, args.distinct, args.h264)
            size = path.stat().st_size
            print(
                f"capture: {count} packets, {size / 1e9:.2f} GB, {SESSIONS} sessions x "
                f"{seconds:g} s{', every frame distinct' if args.distinct else ''}"
                f"{', H.264' if args.h264 else ''} "
                f"(built in {time.perf_counter() - started:.1f} s)",
                flush=True,
            )
            check_cmd = [sys.executable, "-m", "workbench", "check", str(path)]
            tshark_cmd = [tshark, "-q", "-z", "rtp,streams", "-r", str(path)]
            compiled = compiled_env(Path(tmp), check_cmd)  # also warms the page cache
            checks, peers = [], []
            for _ in range(args.rounds):  # alternately, so that load on the machine hits both
                checks.append(run_measured(check_cmd, compiled))
                peers.append(run_measured(tshark_cmd))
            check_s, check_rss, check_anon = _median(checks)
            peer_s, peer_rss, peer_anon = _median(peers)
            ratio = peer_s / check_s
            peaks.append(check_rss)
            anonymous.append(check_anon)
            verdict = "meets" if ratio >= TARGET_RATIO else "misses"
            memory_verdict = "meets" if check_anon <= TARGET_PEAK_MEMORY else "misses"
            print(
                f"  check: median {check_s:.2f} s of "
                f"{', '.join(f'{r.seconds:.2f}' for r in checks)}, peak RSS {check_rss / MB:.0f} MB "
                f"(anonymous {check_anon / MB:.0f} MB; exit {checks[0].returncode})\n"
                f"  tshark -q -z rtp,streams: median {peer_s:.2f} s of "
                f"{', '.join(f'{r.seconds:.2f}' for r in peers)}, peak RSS {peer_rss / MB:.0f} MB "
                f"(anonymous {peer_anon / MB:.0f} MB)\n"
                f"  ratio tshark/check: {ratio:.2f}x ({verdict} the {TARGET_RATIO:g}x target); "
                f"check's peak anonymous memory {memory_verdict} the "
                f"{TARGET_PEAK_MEMORY / MB:.0f} MB target (its RSS adds the mapped capture)",
                flush=True,
            )
            failed |= ratio < TARGET_RATIO or check_anon > TARGET_PEAK_MEMORY
            path.unlink()
        if len(peaks) > 1:
            growth = anonymous[-1] / anonymous[0]
            bounded = "bounded" if growth <= MAX_GROWTH else "not bounded: it grows with packets"
            print(
                f"check from the smallest to the largest capture "
                f"({args.seconds[-1] / args.seconds[0]:.1f}x the packets): anonymous "
                f"{anonymous[0] / MB:.0f} -> {anonymous[-1] / MB:.0f} MB ({growth:.2f}x, "
                f"{bounded}); peak RSS {peaks[0] / MB:.0f} -> {peaks[-1] / MB:.0f} MB "
                f"({peaks[-1] / peaks[0]:.2f}x)"
            )
            failed |= growth > MAX_GROWTH
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
