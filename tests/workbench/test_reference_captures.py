"""The reference captures shipped in pcaps/reference/: what the checker finds in each, rule
by rule, that their frames come out whole, and that tshark decodes their RTP."""

from __future__ import annotations

import subprocess

import pytest
from realtools import ROOT, require_tool

from analysis.check import check_capture
from analysis.payloads.frames import PayloadFormat
from workbench.reference_captures import REFERENCES
from workbench.wireshark import check_with_tshark, wireshark_options

FOLDER = ROOT / "pcaps" / "reference"
# Exactly these rules fail, and no other: a new false alarm fails as surely as a miss.
# Our server's sessions pass every rule: the resume after PAUSE starts a new segment.
FAILED_RULES = {
    "udp.pcap": [],
    "tcp.pcap": [],
    "lab-dialect.pcap": ["RTSP-CRLF-1", "RTSP-TRN-1", "LAB-FMT-1"],
}
MAX_BYTES = 100_000  # "small": each stays a quick download and a quick check


def test_every_reference_is_shipped_small_and_described():
    names = sorted(path.name for path in FOLDER.glob("*.pcap"))
    assert names == sorted(r.name for r in REFERENCES) == sorted(FAILED_RULES)
    assert all((FOLDER / name).stat().st_size < MAX_BYTES for name in names)
    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in names) and "MIT" in readme


@pytest.mark.parametrize("name", sorted(FAILED_RULES))
def test_the_checker_finds_exactly_the_known_rules(name):
    result = check_capture(FOLDER / name)
    assert result.error is None
    assert [r.rule.id for r in result.rules if r.failed] == FAILED_RULES[name]
    (stream,) = result.streams
    assert stream.stats.lost == 0 and stream.stats.complete_frames == stream.stats.frames > 10
    lab = name.startswith("lab")
    assert stream.format is (PayloadFormat.WHOLE_JPEG if lab else PayloadFormat.RFC2435)
    assert stream.transport == ("tcp" if name == "tcp.pcap" else "udp")


@pytest.mark.interop
@pytest.mark.parametrize("name", ["udp.pcap", "tcp.pcap"])
def test_tshark_decodes_every_rtp_packet(name):
    require_tool("tshark")
    result = check_capture(FOLDER / name)
    (stream,) = result.streams
    rtsp_ports = [c.server.port for c in result.connections]
    udp_ports = [stream.dst.port] if stream.transport == "udp" else []
    decoded = check_with_tshark(FOLDER / name, udp_ports, rtsp_ports)
    assert decoded.accepted, decoded.message
    assert decoded.by_ssrc == {stream.ssrc: stream.stats.packets}


@pytest.mark.interop
def test_tshark_counts_the_tcp_segments_that_carry_interleaved_rtp():
    """Several interleaved RTP packets travel in one TCP segment: the frames tshark shows
    for the stream are the rows of its packet list that hold an RTP header of it."""
    tools = require_tool("tshark")
    result = check_capture(FOLDER / "tcp.pcap")
    (stream,) = result.streams
    rtsp_ports = [c.server.port for c in result.connections]
    decoded = check_with_tshark(FOLDER / "tcp.pcap", [], rtsp_ports, tcp_ssrcs=[stream.ssrc])
    listed = subprocess.run(
        [tools["tshark"], "-r", str(FOLDER / "tcp.pcap"), *wireshark_options([], rtsp_ports)]
        + ["-Y", "rtp", "-T", "fields", "-e", "rtp.ssrc"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert decoded.frames_by_ssrc == {stream.ssrc: len(listed)}
    assert len(listed) < decoded.by_ssrc[stream.ssrc] == stream.stats.packets


def test_frames_come_out_as_jpegs(tmp_path):
    from workbench.cli import main

    assert main(["frames", str(FOLDER / "lab-dialect.pcap"), "-o", str(tmp_path)]) == 0
    jpegs = sorted(tmp_path.rglob("*.jpg"))
    assert len(jpegs) > 10 and all(p.read_bytes()[:2] == b"\xff\xd8" for p in jpegs)
