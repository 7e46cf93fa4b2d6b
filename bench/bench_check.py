"""`check` against `tshark -q -z rtp,streams` on three synthetic captures.

The capture (bench.check_capture): 20 RTSP sessions x 11.5 s of 640x480 MJPEG at 30 fps over
UDP, about 115,000 packets (``--seconds`` and ``--sessions`` change it), made three ways:
the same frames in every session, as pcap and as pcapng, and every frame distinct. check runs
in-process (interpreter start excluded) and as a subprocess (from compiled bytecode, as
installed); the two readers run
alternately, several rounds, on the same warm page cache, and the medians are compared:
the machine is shared, so single runs are noisy.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analysis.check import check_capture
from bench.check_capture import write_capture
from bench.child_usage import compiled_env, run_measured

SESSIONS = 20
SECONDS = 11.5
TARGET_RATIO = 3.0
ROUNDS = 5
# One clip streamed to every client (each distinct frame decoded once), in classic pcap and
# in pcapng (what Wireshark and dumpcap write), and frames that all differ, as a camera's:
# there JPEG-DEC-1's decoding is most of check's work.
CAPTURE_KINDS = (
    (False, "pcap", "the same 8 frames in every session (one clip, many clients)"),
    (False, "pcapng", "the same, as pcapng"),
    (True, "pcap", "every frame distinct (as a camera's)"),
)


def time_check(path: Path) -> tuple[float, int, int]:
    """Seconds of one in-process check, its RTP packet count and error count."""
    start = time.perf_counter()
    result = check_capture(path)
    elapsed = time.perf_counter() - start
    packets = sum(s.stats.packets for s in result.streams)
    return elapsed, packets, len(result.failures())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args(argv or [])
    tshark = shutil.which("tshark")
    if not tshark:
        print("tshark not found: no ratio")
        return 1
    failed = False
    for distinct, file_format, kind in CAPTURE_KINDS:
        print(f"## {kind}")
        failed |= _measure(tshark, args, distinct, file_format)
    return 1 if failed else 0


def _measure(tshark: str, args: argparse.Namespace, distinct: bool, file_format: str) -> bool:
    """Time check and tshark on one capture; True when check found errors."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.pcap"
        started = time.perf_counter()
        count = write_capture(path, args.sessions, args.seconds, distinct)
        if file_format == "pcapng":  # editcap comes with tshark
            converted = path.with_suffix(".pcapng")
            subprocess.run(["editcap", "-F", "pcapng", str(path), str(converted)], check=True)
            path.unlink()
            path = converted
        print(
            f"capture: {count} packets, {path.stat().st_size / 1e6:.1f} MB, {args.sessions} "
            f"sessions x {args.seconds:g} s of 640x480 @ 30 fps "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        check_cmd = [sys.executable, "-m", "workbench", "check", str(path)]
        tshark_cmd = [tshark, "-q", "-z", "rtp,streams", "-r", str(path)]
        compiled = compiled_env(Path(tmp), check_cmd)  # also warms the page cache
        in_process, subprocess_s, tshark_s = [], [], []
        packets = errors = 0
        for _ in range(args.rounds):  # alternately, so that load on the machine hits both
            seconds, packets, errors = time_check(path)
            in_process.append(seconds)
            subprocess_s.append(run_measured(check_cmd, compiled).seconds)
            tshark_s.append(run_measured(tshark_cmd).seconds)
        check_s = statistics.median(in_process)
        print(
            f"check (in-process, all rules): median {check_s:.3f} s of "
            f"{', '.join(f'{s:.3f}' for s in in_process)}; {packets} RTP packets, {errors} errors"
        )
        print(
            f"check (subprocess, with interpreter start): median "
            f"{statistics.median(subprocess_s):.3f} s"
        )
        peer_s = statistics.median(tshark_s)
        print(
            f"tshark -q -z rtp,streams: median {peer_s:.3f} s of "
            f"{', '.join(f'{s:.3f}' for s in tshark_s)}"
        )
        ratio = peer_s / check_s
        verdict = "meets" if ratio >= TARGET_RATIO else "misses"
        print(f"ratio tshark/check: {ratio:.2f}x ({verdict} the {TARGET_RATIO:g}x target)")
        sub_ratio = peer_s / statistics.median(subprocess_s)
        print(f"ratio tshark/check as subprocesses: {sub_ratio:.2f}x")
        return errors != 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
