"""A check that checked nothing says so and exits 3: a capture with no RTSP, RTP or RTCP in
it, or in a link type the checker cannot read, is not a clean capture."""

from __future__ import annotations

import json
import struct

from analysis_corpus import clean_session

from analysis.craft.synth import PcapSynth
from analysis.pcap.reader import PCAP_MAGIC_US
from workbench.cli import main

NOTHING_JUDGED = 3
LINKTYPE_USER0 = 147  # pcap-linktype(7): private use, nobody's protocol


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def dns_only(path):
    synth = PcapSynth()
    for i in range(5):
        synth.udp(1.0 + i, ("10.0.0.2", 40000 + i), ("10.0.0.53", 53), b"\x12\x34\x01\x00" * 8)
    return synth.write(path)


def test_traffic_without_rtsp_or_rtp_exits_3_and_says_why(tmp_path, capsys):
    path = dns_only(tmp_path / "dns.pcap")
    for fail_on in ("error", "warning"):
        code, out = run(capsys, "check", str(path), "--fail-on", fail_on)
        assert code == NOTHING_JUDGED
        assert "nothing judged: 5 packets read; no RTSP on TCP, no RTP or RTCP found" in out
        assert "--rtp-port" in out
    data_file = tmp_path / "r.json"
    run(capsys, "check", str(path), "--json", str(data_file))
    assert json.loads(data_file.read_text())["judged_nothing"] is True


def test_a_link_type_it_cannot_read_is_named(tmp_path, capsys):
    path = tmp_path / "user0.pcap"
    header = struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, 65535, LINKTYPE_USER0)
    record = struct.pack("<IIII", 1, 0, 8, 8) + b"\x01" * 8
    path.write_bytes(header + record * 3)
    code, out = run(capsys, "check", str(path))
    assert code == NOTHING_JUDGED
    assert "3 packets read; link type(s) 147 not read" in out


def test_an_empty_capture_judges_nothing(tmp_path, capsys):
    path = PcapSynth().write(tmp_path / "empty.pcap")
    code, out = run(capsys, "check", str(path))
    assert code == NOTHING_JUDGED and "0 packets read" in out


def test_a_batch_with_a_capture_that_judged_nothing_exits_3(tmp_path, capsys):
    folder = tmp_path / "captures"
    folder.mkdir()
    clean_session().write(folder / "clean.pcap")
    dns_only(folder / "dns.pcap")
    code, out = run(capsys, "check", str(folder))
    assert code == NOTHING_JUDGED
    assert "1 passed, 0 failed, 0 damaged, 0 unreadable, 1 nothing judged" in out
