"""Pacing as the network sees it: our server (unpaced and --pace 0.5) against GStreamer's.

For 20 and 60 UDP sessions of a 640x480, 30 fps MJPEG clip, the loopback traffic to the
sessions' ports is captured with tshark (dumpcap) during the window, and per server this
prints the RFC 3550 interarrival jitter per stream as `tshark -q -z rtp,streams` computes it
(the median over streams of each stream's maximum, and the worst), and the largest gap
between two frames' last packets in any stream (read from the same capture); then the ratios
ours/GStreamer. The goal: jitter and largest gap no larger than GStreamer's.

    python -m bench.bench_pacing [--sessions 20,60] [--seconds 8]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gst_peer import GstPeerError, gst_rtsp_server, make_mjpeg_clip, remux_to_mkv
from gst_peer import unavailable_reason as gst_unavailable
from tshark_streams import live_capture, tshark_rtp_streams

from analysis.check import check_capture
from bench.bench_server import FPS, HEIGHT, WIDTH, Served, our_server
from bench.rtsp_load import close_sessions, open_session, run_load

WARMUP = 1.5  # s of streaming before the window


@dataclass
class Pacing:
    name: str
    max_jitters_ms: list[float]  # per stream, tshark's maximum jitter
    largest_gap_ms: float

    @property
    def median_max(self) -> float:
        return statistics.median(self.max_jitters_ms)

    @property
    def worst(self) -> float:
        return max(self.max_jitters_ms)


def measure(name: str, server: Served, sessions: int, seconds: float, folder: Path) -> Pacing:
    tshark = shutil.which("tshark")
    assert tshark is not None
    opened = [open_session("127.0.0.1", server.port, server.url) for _ in range(sessions)]
    ports = [s.rtp.getsockname()[1] for s in opened]
    capture = folder / f"{name}-{sessions}.pcap"
    bpf = "udp and (" + " or ".join(f"dst port {p}" for p in ports) + ")"
    try:
        with live_capture(tshark, capture, bpf):
            run_load(opened, WARMUP, seconds)
    finally:
        close_sessions(opened)
    streams = tshark_rtp_streams(tshark, capture, rtp_ports=ports)
    jitters = [row["max_jitter"] for row in streams.values()]
    gaps = []
    for stream in check_capture(capture, ports).streams:
        ends = [f.time for f in stream.frames]
        gaps += [b - a for a, b in zip(ends, ends[1:], strict=False)]
    return Pacing(name, jitters, 1000 * max(gaps, default=0.0))


def report(run: Pacing, peer: Pacing | None) -> None:
    ratio = ""
    if peer is not None:
        ratio = (
            f"  vs gstreamer: median {run.median_max / peer.median_max:.2f}x, worst "
            f"{run.worst / peer.worst:.2f}x, gap {run.largest_gap_ms / peer.largest_gap_ms:.2f}x"
        )
    print(
        f"{run.name:<14} streams={len(run.max_jitters_ms):<3} jitter max per stream: median "
        f"{run.median_max:.3f} ms, worst {run.worst:.3f} ms; largest frame gap "
        f"{run.largest_gap_ms:.1f} ms{ratio}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="20,60")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    missing = [t for t in ("ffmpeg", "tshark") if shutil.which(t) is None]
    if missing:
        print(f"bench_pacing: {', '.join(missing)} not found; skipped")
        return 1
    reason = gst_unavailable()
    with tempfile.TemporaryDirectory(prefix="bench-pacing-") as tmp:
        folder = Path(tmp)
        raw = make_mjpeg_clip(
            folder / "clip.mjpeg", args.seconds + WARMUP + 5, (WIDTH, HEIGHT), FPS
        )
        mkv = remux_to_mkv(raw, FPS)
        for sessions in (int(n) for n in args.sessions.split(",")):
            peer = None
            if reason is None:
                try:
                    with gst_rtsp_server(mkv, path="/clip") as gst:
                        served = Served(gst.pid, gst.port, gst.url)
                        peer = measure("gstreamer", served, sessions, args.seconds, folder)
                except GstPeerError as exc:
                    print(f"GStreamer peer failed: {exc}")
            runs = []
            for name, options in (("ours", ()), ("ours-pace-0.5", ("--pace", "0.5"))):
                with our_server(folder, sessions, "--loop", *options) as served:
                    runs.append(measure(name, served, sessions, args.seconds, folder))
            print(f"-- {sessions} sessions, {args.seconds:.0f} s window")
            if peer is not None:
                report(peer, None)
            for run in runs:
                report(run, peer)
        if reason is not None:
            print(f"GStreamer peer not run ({reason}): no ratio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
