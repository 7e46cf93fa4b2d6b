"""The command that opens a capture in Wireshark with RTP decoded, checked with tshark.

Wireshark reads RTSP on TCP port 554 (and 8554) by itself; on any other port it must be
told (``-d tcp.port==N,rtsp``). Once it reads the SETUP exchanges it decodes RTP on the
negotiated ports and interleaved channels; its RTP-over-UDP heuristic (and ``-d`` per
UDP port) also decodes streams whose SETUP is not in the capture.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

RTP_HEURISTIC = "rtp_udp"  # Wireshark's name for its RTP-over-UDP heuristic dissector
TSHARK_TIMEOUT = 60.0  # seconds


def wireshark_options(
    udp_ports: list[int] | None = None, rtsp_ports: list[int] | None = None
) -> list[str]:
    """Options that make Wireshark (and tshark) decode the capture's RTSP and RTP."""
    options = ["--enable-heuristic", RTP_HEURISTIC]
    for port in sorted(set(rtsp_ports or [])):
        options += ["-d", f"tcp.port=={port},rtsp"]
    for port in sorted(set(udp_ports or [])):
        options += ["-d", f"udp.port=={port},rtp"]
    return options


def wireshark_command(
    capture: Path, udp_ports: list[int] | None = None, rtsp_ports: list[int] | None = None
) -> str:
    """The shell command line that opens ``capture`` in Wireshark with RTP decoded."""
    return shlex.join(["wireshark", "-r", str(capture), *wireshark_options(udp_ports, rtsp_ports)])


@dataclass(frozen=True)
class TsharkCheck:
    """What tshark made of the capture with the same options."""

    ran: bool
    accepted: bool
    rtp_packets: int
    message: str


def check_with_tshark(
    capture: Path, udp_ports: list[int] | None = None, rtsp_ports: list[int] | None = None
) -> TsharkCheck:
    """Run ``tshark -r capture <options> -Y rtp`` and count the RTP packets it decodes."""
    tshark = shutil.which("tshark")
    if tshark is None:
        return TsharkCheck(False, False, 0, "tshark is not installed")
    command = [
        tshark,
        "-r",
        str(capture),
        *wireshark_options(udp_ports, rtsp_ports),
        "-Y",
        "rtp",
        "-T",
        "fields",
        "-e",
        "frame.number",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TSHARK_TIMEOUT)
    except subprocess.TimeoutExpired:
        return TsharkCheck(True, False, 0, f"tshark took longer than {TSHARK_TIMEOUT:.0f} s")
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1:] or ["no message"]
        return TsharkCheck(True, False, 0, f"tshark refused the options: {reason[0]}")
    count = sum(1 for line in done.stdout.splitlines() if line.strip())
    return TsharkCheck(True, True, count, f"tshark decodes {count} RTP packets")
