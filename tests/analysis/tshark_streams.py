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
    r"^\s*\S+\s+\S+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+(.+?)\s+(\d+)\s+(-?\d+) "
    r"\([^)]*\)\s+\S+\s+\S+\s+\S+\s+(\S+)\s+(\S+)\s+(\S+)"
)
JITTER_REL = 0.05  # the bound: within 5 % per stream
JITTER_ABS_MS = 0.002  # tshark prints three decimals: its own rounding


def tshark_rtp_streams(
    tshark: str,
    path: Path,
    rtp_ports: list[int] = (),
    rtsp_port: int | None = None,
    heuristic: bool = False,
) -> dict[tuple[int, str, str], dict]:
    """`tshark -q -z rtp,streams` as {(ssrc, src, dst): {packets, lost, payload, mean_jitter,
    max_jitter}} (jitter in ms, 0 where tshark does not know the clock).

    RTP is found through the RTSP SETUP in the capture (tshark knows RTSP on 554 and 8554
    only, so other ports are named), on the UDP ports given, or with ``heuristic`` by
    Wireshark's rtp_udp heuristic (for captures without the SETUP).
    """
    cmd = [tshark, "-q", "-z", "rtp,streams", "-r", str(path)]
    if heuristic:
        cmd += ["--enable-heuristic", "rtp_udp"]
    for port in rtp_ports:
        cmd += ["-d", f"udp.port=={port},rtp"]
    if rtsp_port is not None:
        cmd += ["-d", f"tcp.port=={rtsp_port},rtsp"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    streams = {}
    for line in out.splitlines():
        m = _ROW.match(line)
        if m:
            src, sport, dst, dport, ssrc, payload, packets, lost, _lo, mean, high = m.groups()
            streams[(int(ssrc, 16), f"{src}:{sport}", f"{dst}:{dport}")] = {
                "packets": int(packets),
                "lost": int(lost),
                "payload": payload,
                "mean_jitter": float(mean),
                "max_jitter": float(high),
            }
    return streams


def _spelt_as_tshark(endpoint) -> str:
    return f"{endpoint.ip}:{endpoint.port}"  # IPv6 unbracketed, as tshark prints it


def check_streams(result) -> dict[tuple[int, str, str], dict]:
    """The same figures from a CheckResult (A.3 loss, as tshark counts it)."""
    return {
        (s.ssrc, _spelt_as_tshark(s.src), _spelt_as_tshark(s.dst)): {
            "packets": s.stats.packets,
            "lost": s.stats.a3_lost,
            "mean_jitter": s.stats.mean_jitter_ms,
            "max_jitter": s.stats.max_jitter_ms,
        }
        for s in result.streams
    }


def counts(streams: dict) -> dict:
    """Packets and loss per stream, for exact comparison."""
    return {k: (v["packets"], v["lost"]) for k, v in streams.items()}


def media_rows(result, theirs: dict) -> dict:
    """tshark's rows less those `check` lists as non-media (keep-alives, strays): tshark
    calls any datagram on an RTP port a stream."""
    non_media = {(_spelt_as_tshark(n.src), _spelt_as_tshark(n.dst)) for n in result.non_media}
    return {k: v for k, v in theirs.items() if (k[1], k[2]) not in non_media}


def jitter_disagreements(ours: dict, theirs: dict) -> list[str]:
    """Streams whose mean or maximum jitter differ by more than 5 % from tshark's, where
    tshark computed one (it reports 0 for clocks it does not know)."""
    problems = []
    for key, row in theirs.items():
        mine = ours.get(key)
        if mine is None or not row["max_jitter"]:
            continue
        for name in ("mean_jitter", "max_jitter"):
            a, b = mine[name], row[name]
            if a is None or abs(a - b) > max(JITTER_REL * b, JITTER_ABS_MS):
                problems.append(f"{key}: {name} {a} ms here, {b} ms by tshark")
    return problems


@contextlib.contextmanager
def live_capture(
    tshark: str, path: Path, capture_filter: str, snaplen: int | None = None
) -> Iterator[Path]:
    """Capture loopback traffic matching a BPF filter into ``path`` while the body runs
    (each packet cut to ``snaplen`` bytes when given, as ``tcpdump -s`` does)."""
    snap = ["-s", str(snaplen)] if snaplen else []
    proc = subprocess.Popen(
        [tshark, "-i", "lo", *snap, "-w", str(path), "-f", capture_filter],
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


def tshark_rtp_packets(tshark: str, path: Path, rtsp_port: int | None = None) -> dict[tuple, dict]:
    """Per-stream packet count and A.3 loss computed from tshark's dissected sequence numbers,
    keyed like ``tshark_rtp_streams``.

    For RTP interleaved in RTSP over TCP, tshark 4.0's `-z rtp,streams` miscounts loss
    (e.g. 65524 lost for a gapless stream: several RTP packets share one TCP segment), while
    its dissection of each packet is right: this reads the dissection instead.
    """
    cmd = [
        tshark, "-r", str(path), "-Y", "rtp", "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport",
        "-e", "ip.dst", "-e", "tcp.dstport", "-e", "rtp.ssrc", "-e", "rtp.seq",
    ]  # fmt: skip
    if rtsp_port is not None:
        cmd += ["-d", f"tcp.port=={rtsp_port},rtsp"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    seqs: dict[tuple, list[int]] = {}
    for line in out.splitlines():
        src, sport, dst, dport, ssrcs, numbers = line.split("\t")
        for ssrc, seq in zip(ssrcs.split(","), numbers.split(","), strict=True):
            key = (int(ssrc, 16), f"{src}:{sport}", f"{dst}:{dport}")
            seqs.setdefault(key, []).append(int(seq))
    result = {}
    for key, numbers in seqs.items():
        ext, last = [numbers[0]], numbers[0]
        for seq in numbers[1:]:
            ext.append(ext[-1] + ((seq - last + 0x8000) % 0x10000 - 0x8000))
            last = seq
        result[key] = {"packets": len(numbers), "lost": max(ext) - min(ext) + 1 - len(numbers)}
    return result
