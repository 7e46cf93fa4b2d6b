"""The command that opens a capture in Wireshark with RTP decoded, checked with tshark.

Wireshark reads RTSP on TCP port 554 (and 8554) by itself; on any other port it must be
told (``-d tcp.port==N,rtsp``). Once it reads the SETUP exchanges it decodes RTP on the
negotiated ports and interleaved channels; its RTP-over-UDP heuristic (and ``-d`` per
UDP port) also decodes streams whose SETUP is not in the capture. A stream in the lab's
format (whole JPEGs, no RFC 2435 header) is left out: decoded as RTP, Wireshark would read
the start of each JPEG as an RFC 2435 header.
"""

from __future__ import annotations

import enum
import logging
import re
import shlex
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.check import CheckResult
    from analysis.pcap.annotated_writer import AnnotationSummary
    from analysis.streams.rtp import CapturedStream

log = logging.getLogger(__name__)

RTP_HEURISTIC = "rtp_udp"  # Wireshark's name for its RTP-over-UDP heuristic dissector
TSHARK_TIMEOUT = 60.0  # seconds, for captures of up to 2 GB
TSHARK_SECONDS_PER_GB = 30.0  # beyond: tshark reads a GB in seconds, a slow disk slower


def wireshark_options(
    udp_ports: list[int] | None = None,
    rtsp_ports: list[int] | None = None,
    heuristic: bool = True,
) -> list[str]:
    """Options that make Wireshark (and tshark) decode the capture's RTSP and RTP.

    ``heuristic`` False leaves out the RTP-over-UDP heuristic: it would also take the lab's
    whole-JPEG payloads for RTP and read them as RFC 2435."""
    options = ["--enable-heuristic", RTP_HEURISTIC] if heuristic else []
    for port in sorted(set(rtsp_ports or [])):
        options += ["-d", f"tcp.port=={port},rtsp"]
    for port in sorted(set(udp_ports or [])):
        options += ["-d", f"udp.port=={port},rtp"]
    return options


def wireshark_command(
    capture: Path,
    udp_ports: list[int] | None = None,
    rtsp_ports: list[int] | None = None,
    heuristic: bool = True,
    display_filter: str | None = None,
) -> str:
    """The shell command line that opens ``capture`` in Wireshark with RTP decoded (and
    showing only the packets ``display_filter`` matches, when given)."""
    options = wireshark_options(udp_ports, rtsp_ports, heuristic)
    shown = ["-Y", display_filter] if display_filter else []
    return shlex.join(["wireshark", "-r", str(capture), *options, *shown])


@dataclass(frozen=True)
class DecodeAs:
    """What Wireshark must be told to decode a checked capture's RTSP and RTP."""

    udp_ports: list[int]
    rtsp_ports: list[int]
    heuristic: bool  # False when a lab-format stream would be misread by the RTP heuristic
    not_decoded: list[CapturedStream]  # streams in the lab's format: whole JPEGs, not RFC 2435

    @classmethod
    def of(cls, result: CheckResult) -> DecodeAs:
        from analysis.payloads.frames import PayloadFormat

        lab = [s for s in result.streams if s.format is PayloadFormat.WHOLE_JPEG]
        decoded = [s for s in result.streams if s.format is not PayloadFormat.WHOLE_JPEG]
        return cls(
            udp_ports=sorted({s.dst.port for s in decoded if s.transport == "udp"}),
            rtsp_ports=sorted({c.server.port for c in result.connections}),
            heuristic=not lab,
            not_decoded=lab,
        )

    def command(self, capture: Path, display_filter: str | None = None) -> str:
        """The Wireshark command opening ``capture`` decoded so."""
        return wireshark_command(
            capture, self.udp_ports, self.rtsp_ports, self.heuristic, display_filter
        )


def failed_rules_filter(result: CheckResult) -> str | None:
    """The display filter showing the packets of an annotated capture that failed rules
    comment on (``frame.comment contains "RTP-SEQ-1" || ...``), or None when none failed."""
    failed = [r.rule.id for r in result.rules if r.failed]
    return " || ".join(f'frame.comment contains "{rule_id}"' for rule_id in failed) or None


def annotated_path(capture: Path, folder: Path | None = None) -> Path:
    """Where the annotated copy of ``capture`` goes: ``NAME.annotated.pcapng`` beside it (or
    in ``folder``)."""
    name = capture.name.removesuffix(".gz").removesuffix(".zst").removesuffix(".lz4")
    return (folder or capture.parent) / f"{Path(name).stem}.annotated.pcapng"


def annotate(result: CheckResult, destination: str | Path) -> AnnotationSummary:
    """Write ``result``'s capture to ``destination`` as pcapng, every finding a comment on
    its packet (raises OSError when it cannot be written, AnalysisError when the capture
    cannot be read)."""
    from analysis.finding_comments import finding_comments, section_comment
    from analysis.pcap.annotated_writer import annotate_capture

    return annotate_capture(
        result.path, destination, finding_comments(result), section_comment(result)
    )


class TsharkStatus(enum.Enum):
    """How the tshark run went."""

    MISSING = "missing"  # tshark is not installed
    TIMEOUT = "timeout"
    REFUSED = "refused"  # tshark exited non-zero (options or file); ``detail`` says why
    DECODED = "decoded"


@dataclass(frozen=True)
class TsharkCheck:
    """What tshark made of the capture with the same options: RTP packets per SSRC.

    A TCP segment may carry several interleaved RTP packets, so packets are counted by
    the RTP headers tshark decodes, not by the capture's frames."""

    status: TsharkStatus
    by_ssrc: dict[int, int] = field(default_factory=dict)  # RTP packets
    frames_by_ssrc: dict[int, int] = field(default_factory=dict)  # captured frames holding them
    detail: str = ""

    @property
    def ran(self) -> bool:
        return self.status is not TsharkStatus.MISSING

    @property
    def accepted(self) -> bool:
        return self.status is TsharkStatus.DECODED

    @property
    def rtp_packets(self) -> int:
        return sum(self.by_ssrc.values())

    @property
    def message(self) -> str:
        """What happened, in a line (the report words it in its own language)."""
        if self.status is TsharkStatus.MISSING:
            return "tshark is not installed"
        if self.status is TsharkStatus.TIMEOUT:
            return f"tshark took longer than {self.detail} s"
        if self.status is TsharkStatus.REFUSED:
            return f"tshark refused the options: {self.detail}"
        return f"tshark decodes {self.rtp_packets} RTP packets"


def check_with_tshark(
    capture: Path,
    udp_ports: list[int] | None = None,
    rtsp_ports: list[int] | None = None,
    heuristic: bool = True,
    tcp_ssrcs: list[int] | None = None,
) -> TsharkCheck:
    """Run tshark on ``capture`` with the Wireshark command's options and count the RTP
    packets it decodes, per SSRC; for the SSRCs of ``tcp_ssrcs`` (interleaved on TCP),
    also the captured frames that hold them.

    tshark's RTP streams statistics count the packets: a pass without a display filter,
    four times quicker than listing every RTP header (-Y rtp -T fields) on a large
    capture. Its IO statistics count the frames that hold a given SSRC."""
    tshark = shutil.which("tshark")
    if tshark is None:
        return TsharkCheck(TsharkStatus.MISSING)
    ssrcs = sorted(set(tcp_ssrcs or []))
    frames_by = ",".join(f"rtp.ssrc=={ssrc:#x}" for ssrc in ssrcs)
    command = [
        tshark,
        "-r",
        str(capture),
        *wireshark_options(udp_ports, rtsp_ports, heuristic),
        "-q",
        "-z",
        "rtp,streams",
        *(["-z", f"io,stat,0,{frames_by}"] if ssrcs else []),
    ]
    timeout = tshark_timeout(capture)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return TsharkCheck(TsharkStatus.TIMEOUT, detail=f"{timeout:.0f}")
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1:] or ["no message"]
        return TsharkCheck(TsharkStatus.REFUSED, detail=reason[0])
    frames = dict(zip(ssrcs, _io_stat_frames(done.stdout), strict=False))
    return TsharkCheck(TsharkStatus.DECODED, _rtp_stream_packets(done.stdout), frames)


def tshark_timeout(capture: Path) -> float:
    """Seconds tshark may take to read ``capture``: a minute, more for captures of GB."""
    try:
        size = capture.stat().st_size
    except OSError:
        size = 0  # tshark says what is wrong with it
    return max(TSHARK_TIMEOUT, size / 1e9 * TSHARK_SECONDS_PER_GB)


# A row of tshark's RTP streams table: times, source, port, destination, port, SSRC, payload
# (which may hold spaces), packets, lost (negative with duplicates) and its percentage, ...
_RTP_STREAM_ROW = re.compile(
    r"^\s*[\d.]+\s+[\d.]+\s+\S+\s+\d+\s+\S+\s+\d+\s+(0x[0-9A-Fa-f]+)\s+.*?\s(\d+)\s+-?\d+ \("
)


def _rtp_stream_packets(report: str) -> dict[int, int]:
    """RTP packets per SSRC in tshark's RTP streams table (a source on several flows, or
    sent by several, is summed)."""
    packets: Counter[int] = Counter()
    for line in report.splitlines():
        row = _RTP_STREAM_ROW.match(line)
        if row:
            packets[int(row[1], 16)] += int(row[2])
        elif "0x" in line:  # a row, in a layout this version of tshark changed
            log.debug("tshark RTP streams row not read: %r", line)
    return dict(packets)


def _io_stat_frames(report: str) -> list[int]:
    """The frame count of each column of tshark's one-interval IO statistics, in order."""
    for line in report.splitlines():
        if "<>" in line:  # the interval's row: | start <> end | frames | bytes | ...
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            return [int(cell) for cell in cells[1::2]]
    return []
