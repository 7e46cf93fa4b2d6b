"""tshark as the reference reader of our captures, and live loopback capture with it."""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from child_processes import stop_process

_ROW = re.compile(
    r"^\s*\S+\s+\S+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+.+?\s+(\d+)\s+(-?\d+) \("
)


def tshark_rtp_streams(
    tshark: str, path: Path, rtp_ports: list[int] = (), rtsp_port: int | None = None
) -> dict[int, dict]:
    """`tshark -q -z rtp,streams` as {ssrc: {src, dst, packets, lost}}.

    RTP is found through the RTSP SETUP in the capture (tshark knows RTSP on 554 and 8554
    only, so other ports are named), or on the UDP ports given.
    """
    cmd = [tshark, "-q", "-z", "rtp,streams", "-r", str(path)]
    for port in rtp_ports:
        cmd += ["-d", f"udp.port=={port},rtp"]
    if rtsp_port is not None:
        cmd += ["-d", f"tcp.port=={rtsp_port},rtsp"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    streams = {}
    for line in out.splitlines():
        m = _ROW.match(line)
        if m:
            src, sport, dst, dport, ssrc, packets, lost = m.groups()
            streams[int(ssrc, 16)] = {
                "src": f"{src}:{sport}",
                "dst": f"{dst}:{dport}",
                "packets": int(packets),
                "lost": int(lost),
            }
    return streams


def check_streams(result) -> dict[int, dict]:
    """The same figures from a CheckResult."""
    return {
        s.ssrc: {
            "src": str(s.src),
            "dst": str(s.dst),
            "packets": s.stats.packets,
            "lost": s.stats.lost,
        }
        for s in result.streams
    }


@contextlib.contextmanager
def live_capture(tshark: str, path: Path, capture_filter: str) -> Iterator[Path]:
    """Capture loopback traffic matching a BPF filter into ``path`` while the body runs."""
    proc = subprocess.Popen(
        [tshark, "-i", "lo", "-w", str(path), "-f", capture_filter],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        seen = ""
        while "Capturing on" not in seen:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError(f"tshark could not capture: {seen}")
            seen += line
            if time.monotonic() > deadline:
                raise RuntimeError(f"tshark did not start capturing: {seen}")
        time.sleep(1.0)  # dumpcap reports before its filter is live: give it a moment
        yield path
        time.sleep(0.5)  # let the last packets reach the file
    finally:
        stop_process(proc)


def tshark_rtp_packets(tshark: str, path: Path, rtsp_port: int | None = None) -> dict[int, dict]:
    """Per-SSRC packet count and A.3 loss computed from tshark's dissected sequence numbers.

    For RTP interleaved in RTSP over TCP, tshark 4.0's `-z rtp,streams` miscounts loss
    (e.g. 65524 lost for a gapless stream: several RTP packets share one TCP segment), while
    its dissection of each packet is right: this reads the dissection instead.
    """
    cmd = [tshark, "-r", str(path), "-Y", "rtp", "-T", "fields", "-e", "rtp.ssrc", "-e", "rtp.seq"]
    if rtsp_port is not None:
        cmd += ["-d", f"tcp.port=={rtsp_port},rtsp"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    seqs: dict[int, list[int]] = {}
    for line in out.splitlines():
        ssrcs, _, numbers = line.partition("\t")
        for ssrc, seq in zip(ssrcs.split(","), numbers.split(","), strict=True):
            seqs.setdefault(int(ssrc, 16), []).append(int(seq))
    result = {}
    for ssrc, numbers in seqs.items():
        ext, last = [numbers[0]], numbers[0]
        for seq in numbers[1:]:
            ext.append(ext[-1] + ((seq - last + 0x8000) % 0x10000 - 0x8000))
            last = seq
        result[ssrc] = {"packets": len(numbers), "lost": max(ext) - min(ext) + 1 - len(numbers)}
    return result
