"""Pacing as the network sees it: our server (unpaced and --pace 0.5) against GStreamer's.

For 20 and 60 UDP sessions of a 640x480, 30 fps MJPEG clip, the loopback traffic to the
sessions' ports is captured with tshark (dumpcap) during the window, and per server this
prints the RFC 3550 interarrival jitter per stream as `tshark -q -z rtp,streams` computes it
(the median over streams of each stream's maximum, and the worst), and the largest gap
between two frames' last packets in any stream (read from the same capture); then the ratios
ours/GStreamer. The goal: jitter and largest gap no larger than GStreamer's.

The servers take turns, ROUNDS times (a shared machine is noisy, and one run's worst stream
is one moment's luck); each figure's median over the rounds decides.

    python -m bench.bench_pacing [--sessions 20,60] [--seconds 8] [--rounds 3]
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


@dataclass(frozen=True)
class Pacing:
    """One server's pacing in one run (or the medians of several)."""

    name: str
    streams: int
    median_max: float  # ms: the median over streams of tshark's maximum jitter per stream
    worst: float  # ms: the largest of those maxima
    largest_gap_ms: float


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
    assert jitters, f"tshark found no RTP stream in {capture}"
    gaps = []
    for stream in check_capture(capture, ports).streams:
        ends = [f.time for f in stream.frames]
        gaps += [b - a for a, b in zip(ends, ends[1:], strict=False)]
    largest_gap = 1000 * max(gaps, default=0.0)
    return Pacing(name, len(jitters), statistics.median(jitters), max(jitters), largest_gap)


def report(run: Pacing, peer: Pacing | None) -> None:
    ratio = ""
    if peer is not None:
        ratio = (
            f"  vs gstreamer: median {run.median_max / peer.median_max:.2f}x, worst "
            f"{run.worst / peer.worst:.2f}x, gap {run.largest_gap_ms / peer.largest_gap_ms:.2f}x"
        )
    print(
        f"{run.name:<14} streams={run.streams:<3} jitter max per stream: median "
        f"{run.median_max:.3f} ms, worst {run.worst:.3f} ms; largest frame gap "
        f"{run.largest_gap_ms:.1f} ms{ratio}",
        flush=True,
    )


def medians(name: str, runs: list[Pacing]) -> Pacing:
    """Each figure's median over ``runs``."""
    return Pacing(
        f"{name} (median)",
        runs[0].streams,
        statistics.median(r.median_max for r in runs),
        statistics.median(r.worst for r in runs),
        statistics.median(r.largest_gap_ms for r in runs),
    )


def verdict(ours: Pacing, peer: Pacing) -> str:
    """Whether the medians meet the goal: every figure no larger than GStreamer's."""
    met = (
        ours.median_max <= peer.median_max
        and ours.worst <= peer.worst
        and ours.largest_gap_ms <= peer.largest_gap_ms
    )
    return f"{'meets' if met else 'misses'} the goal: jitter and largest gap <= GStreamer's"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="20,60")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3, help="turns each server takes")
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
            print(f"-- {sessions} sessions, {args.seconds:.0f} s window", flush=True)
            runs: dict[str, list[Pacing]] = {}
            for _ in range(args.rounds):
                peer = None
                if reason is None:
                    try:
                        with gst_rtsp_server(mkv, path="/clip") as gst:
                            served = Served(gst.pid, gst.port, gst.url)
                            peer = measure("gstreamer", served, sessions, args.seconds, folder)
                    except GstPeerError as exc:
                        print(f"GStreamer peer failed: {exc}")
                    else:
                        runs.setdefault(peer.name, []).append(peer)
                        report(peer, None)
                for name, options in (("ours", ()), ("ours-pace-0.5", ("--pace", "0.5"))):
                    with our_server(folder, sessions, "--loop", *options) as served:
                        run = measure(name, served, sessions, args.seconds, folder)
                    runs.setdefault(name, []).append(run)
                    report(run, peer)
            summary = {name: medians(name, own) for name, own in runs.items()}
            peer_medians = summary.pop("gstreamer", None)
            print(f"medians over {args.rounds} round(s), {sessions} sessions:")
            if peer_medians is not None:
                report(peer_medians, None)
            for run in summary.values():
                report(run, peer_medians)
            if peer_medians is not None:
                print(f"ours, {sessions} sessions: {verdict(summary['ours'], peer_medians)}")
        if reason is not None:
            print(f"GStreamer peer not run ({reason}): no ratio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
