"""RFC 2435 packetizing and depacketizing against GStreamer's rtpjpegpay/rtpjpegdepay.

Both sides work on the same frames (the lab's movie.Mjpeg when present, else Pillow
frames of the same size) in the same run. Figures are CPU seconds per frame: ours from
process time, GStreamer's from the child's rusage, with the cost of reading and parsing
the file (filesrc ! jpegparse ! fakesink) subtracted so only the (de)payloader counts.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from media_samples import read_lab_frames, rotating_frames

from rtsp_common.jpeg import packetize
from rtsp_common.jpeg_depacketizer import Depacketizer

LAB_MOVIE = Path(__file__).resolve().parents[2] / "shared" / "lab" / "movie.Mjpeg"
MAX_PAYLOAD = 1400
REPEAT = 10  # passes over the clip, so the child's start-up cost is small beside the work


def load_frames() -> list[bytes]:
    """The lab's 240 frames (5-digit length prefix), or 240 generated 640x480 frames."""
    if LAB_MOVIE.exists():
        return read_lab_frames(LAB_MOVIE)
    return rotating_frames(240, (640, 480), degrees=1.5)


def ours(frames: list[bytes]) -> tuple[float, float]:
    """CPU seconds per frame for packetize, and for Depacketizer.push over those payloads."""
    start = time.process_time()
    packets = [packetize(f, MAX_PAYLOAD) for _ in range(REPEAT) for f in frames]
    pay = (time.process_time() - start) / len(packets)
    dep = Depacketizer()
    start = time.process_time()
    for ts, payloads in enumerate(packets):
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            dep.push(payload, ts, i == last)
    depay = (time.process_time() - start) / len(packets)
    assert dep.frames_complete == len(packets)
    return pay, depay


def child_cpu(args: list[str]) -> float:
    """CPU seconds (user + system) a child process used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def gstreamer(frames: list[bytes], gst: str) -> tuple[float, float]:
    """CPU seconds per frame for rtpjpegpay, and for rtpjpegdepay."""
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mjpeg"
        clip.write_bytes(b"".join(frames) * REPEAT)
        head = [gst, "-q", "filesrc", f"location={clip}", "!", "jpegparse", "!"]
        pay = ["rtpjpegpay", f"mtu={MAX_PAYLOAD + 12}", "!"]
        parse_only = child_cpu([*head, "fakesink"])
        with_pay = child_cpu([*head, *pay, "fakesink"])
        with_depay = child_cpu([*head, *pay, "rtpjpegdepay", "!", "fakesink"])
    count = len(frames) * REPEAT
    return max(with_pay - parse_only, 0.0) / count, max(with_depay - with_pay, 0.0) / count


def main() -> int:
    frames = load_frames()
    our_pay, our_depay = ours(frames)
    print(f"{len(frames)} frames x {REPEAT}, payloads <= {MAX_PAYLOAD} bytes")
    gst = shutil.which("gst-launch-1.0")
    if gst is None:
        print(f"packetize   ours {our_pay * 1e6:8.1f} us/frame   (gst-launch-1.0 missing)")
        print(f"depacketize ours {our_depay * 1e6:8.1f} us/frame")
        return 0
    peer_pay, peer_depay = gstreamer(frames, gst)
    print(f"{'CPU per frame':<14}{'ours us':>10}{'gst us':>10}{'ours/gst':>10}")
    for name, mine, peer in (
        ("packetize", our_pay, peer_pay),
        ("depacketize", our_depay, peer_depay),
    ):
        ratio = f"{mine / peer:9.2f}x" if peer > 0 else "      n/a"
        print(f"{name:<14}{mine * 1e6:>10.1f}{peer * 1e6:>10.1f}{ratio:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
