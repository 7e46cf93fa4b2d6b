"""The printed Wireshark command decodes RTP: tshark accepts the same options and finds RTP."""

from __future__ import annotations

import shlex
import struct

import pytest
from realtools import require_tool
from scapy.all import IP, UDP, Raw, wrpcap

from workbench import wireshark
from workbench.report.build import tshark_reason
from workbench.report.i18n import Catalog
from workbench.wireshark import (
    TsharkStatus,
    check_with_tshark,
    tshark_timeout,
    wireshark_command,
    wireshark_options,
)

RTP_V2 = 0x80
PT_JPEG = 26


def _rtp_pcap(path, count=6, port=50000):
    packets = [
        IP(src="127.0.0.1", dst="127.0.0.1")
        / UDP(sport=40000, dport=port)
        / Raw(struct.pack("!BBHII", RTP_V2, PT_JPEG, 100 + i, 4500 * i, 0x11223344) + b"x" * 40)
        for i in range(count)
    ]
    wrpcap(str(path), packets)
    return path


def test_command_names_the_file_and_the_decoders(tmp_path):
    command = shlex.split(wireshark_command(tmp_path / "a b.pcap", [50000, 50000, 40000]))
    assert command[:3] == ["wireshark", "-r", str(tmp_path / "a b.pcap")]
    assert command[3:5] == ["--enable-heuristic", "rtp_udp"]
    assert command[5:] == ["-d", "udp.port==40000,rtp", "-d", "udp.port==50000,rtp"]


@pytest.mark.interop
@pytest.mark.parametrize("ports", [None, [50000]])
def test_tshark_decodes_rtp_with_the_printed_options(tmp_path, ports):
    require_tool("tshark")
    pcap = _rtp_pcap(tmp_path / "rtp.pcap")
    check = check_with_tshark(pcap, ports)
    assert check.ran and check.accepted, check.message
    assert check.rtp_packets == 6


@pytest.mark.interop
def test_tshark_without_options_sees_no_rtp_so_the_options_matter(tmp_path):
    import subprocess

    paths = require_tool("tshark")
    pcap = _rtp_pcap(tmp_path / "rtp.pcap")
    plain = subprocess.run(
        [paths["tshark"], "-r", str(pcap), "-Y", "rtp"], capture_output=True, text=True, timeout=60
    )
    assert plain.stdout.strip() == ""
    assert wireshark_options() == ["--enable-heuristic", "rtp_udp"]


@pytest.mark.interop
def test_corrupt_capture_is_reported_not_raised(tmp_path):
    require_tool("tshark")
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a pcap at all")
    check = check_with_tshark(bad)
    assert check.ran and not check.accepted
    assert check.rtp_packets == 0 and check.message


def test_tshark_gets_more_time_for_a_capture_of_many_gb(tmp_path):
    small = _rtp_pcap(tmp_path / "rtp.pcap")
    large = tmp_path / "large.pcap"
    with large.open("wb") as f:
        f.truncate(5 * 10**9)  # sparse: 5 GB long, no disk used
    assert tshark_timeout(small) == tshark_timeout(tmp_path / "missing.pcap") == 60
    assert tshark_timeout(large) == 150


@pytest.mark.interop
def test_tshark_out_of_time_is_reported_with_its_limit(tmp_path, monkeypatch):
    require_tool("tshark")
    monkeypatch.setattr(wireshark, "TSHARK_TIMEOUT", 0.001)
    check = check_with_tshark(_rtp_pcap(tmp_path / "rtp.pcap"), [50000])
    assert check.status is TsharkStatus.TIMEOUT and not check.accepted
    assert check.message == "tshark took longer than 0 s"
    reason = tshark_reason(check, Catalog.load("en"))
    assert reason == "tshark took longer than 0 s"
