"""`check` against `tshark -q -z rtp,streams` on one synthetic capture.

The capture: 20 RTSP sessions x 8 s of 640x480 MJPEG at 30 fps over UDP (RFC 2435,
~1400-byte packets, about 80,000 packets), synthesized with analysis.craft.synth. Both readers
run in this process tree in the same minute; check runs in-process (interpreter start
excluded, and reported separately as a subprocess run too).
"""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from analysis.check import check_capture
from analysis.craft.synth import PcapSynth, SynthSession, split_jpeg, write_sessions

SESSIONS = 20
SECONDS = 8
FPS = 30
WIDTH, HEIGHT = 640, 480
DISTINCT_FRAMES = 8
TARGET_RATIO = 3.0
RUNS = 3  # best of three for each reader: both see the same warm page cache


def _frames() -> list:
    rng = random.Random(7)
    parts = []
    for i in range(DISTINCT_FRAMES):
        image = Image.new("RGB", (WIDTH, HEIGHT), (i * 30, 90, 160))
        noise = Image.frombytes(
            "L", (WIDTH // 16, HEIGHT // 16), rng.randbytes(WIDTH * HEIGHT // 256)
        )
        image.paste(noise.resize((WIDTH, HEIGHT)).convert("RGB"), (0, 0))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=45)
        parts.append(split_jpeg(out.getvalue()))
    return parts


def build_capture(path: Path) -> int:
    """Write the benchmark capture; returns its packet count."""
    frames = _frames()
    sessions = [
        SynthSession(
            frames,
            count=SECONDS * FPS,
            t0=1_700_000_000.0 + i * 0.013,
            client_ip=f"10.0.1.{i + 2}",
            rtsp_client_port=41000 + i,
            client_rtp_port=50000 + 2 * i,
            server_rtp_port=6000 + 2 * i,
            ssrc=0x10000000 + i,
            seq0=1000 * i,
            ts0=12345 * i + 1,
            session_id=f"S{i:04d}",
        )
        for i in range(SESSIONS)
    ]
    synth = PcapSynth()
    write_sessions(synth, sessions)
    synth.write(path)
    return synth.count


def time_check(path: Path) -> tuple[float, int, int]:
    start = time.perf_counter()
    result = check_capture(path)
    elapsed = time.perf_counter() - start
    packets = sum(s.stats.packets for s in result.streams)
    return elapsed, packets, len(result.failures())


def time_tshark(tshark: str, path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    out = subprocess.run(
        [tshark, "-q", "-z", "rtp,streams", "-r", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    elapsed = time.perf_counter() - start
    streams = sum(1 for line in out.splitlines() if " 0x" in line)
    return elapsed, streams


def main() -> int:
    tshark = shutil.which("tshark")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.pcap"
        started = time.perf_counter()
        count = build_capture(path)
        print(
            f"capture: {count} packets, {path.stat().st_size / 1e6:.1f} MB, {SESSIONS} sessions x "
            f"{SECONDS} s of {WIDTH}x{HEIGHT} @ {FPS} fps (built in {time.perf_counter() - started:.1f} s)"
        )
        check_runs = [time_check(path) for _ in range(RUNS)]
        check_s = min(run[0] for run in check_runs)
        _, rtp_packets, errors = check_runs[0]
        print(
            f"check (in-process, all rules): best {check_s:.3f} s of "
            f"{', '.join(f'{run[0]:.3f}' for run in check_runs)}; {rtp_packets} RTP packets, "
            f"{errors} errors"
        )
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "workbench", "check", str(path)],
            capture_output=True,
            check=False,
        )
        print(f"check (subprocess, with interpreter start): {time.perf_counter() - started:.3f} s")
        if tshark is None:
            print("tshark not found: no ratio")
            return 1
        tshark_runs = [time_tshark(tshark, path) for _ in range(RUNS)]
        tshark_s = min(run[0] for run in tshark_runs)
        streams = tshark_runs[0][1]
        print(
            f"tshark -q -z rtp,streams: best {tshark_s:.3f} s of "
            f"{', '.join(f'{run[0]:.3f}' for run in tshark_runs)}; {streams} streams"
        )
        ratio = tshark_s / check_s
        verdict = "meets" if ratio >= TARGET_RATIO else "misses"
        print(f"ratio tshark/check: {ratio:.2f}x ({verdict} the {TARGET_RATIO:g}x target)")
        return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
