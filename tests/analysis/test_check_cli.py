"""`rtsp-workbench check` and `frames`: summary, exit status by --fail-on, JSON and JUnit
files, damaged captures (clear error with the offset, what came before still reported)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

from analysis_corpus import DEFECTS, clean_session, write_defect
from PIL import Image

from workbench.cli import main


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_clean_capture_exits_0_and_prints_streams_and_rules(tmp_path, capsys):
    path = clean_session().write(tmp_path / "clean.pcap")
    code, out = run(capsys, "check", str(path))
    assert code == 0
    assert "0x1234abcd" in out and "45/45" in out and "RTP-SEQ-1" in out
    assert "5EC0A1B2" in out and "failed: 0 error, 0 warning" in out


def test_error_exits_1_with_its_evidence(tmp_path, capsys):
    code, out = run(capsys, "check", str(write_defect("gap", tmp_path)))
    assert code == 1
    assert "sequence number(s) missing before this packet" in out


def test_fail_on_warning(tmp_path, capsys):
    path = write_defect("reorder", tmp_path)  # a warning only
    assert run(capsys, "check", str(path))[0] == 0
    assert run(capsys, "check", str(path), "--fail-on", "warning")[0] == 1


def test_json_and_junit_outputs(tmp_path, capsys):
    path = write_defect("missing marker", tmp_path)
    out_json, out_xml = tmp_path / "r.json", tmp_path / "r.xml"
    code, _ = run(capsys, "check", str(path), "--json", str(out_json), "--junit", str(out_xml))
    assert code == 1
    data = json.loads(out_json.read_text())
    rules = {r["id"]: r for r in data["rules"]}
    assert rules["RTP-MARK-1"]["outcome"] == "failed" and rules["RTP-MARK-1"]["packets"]
    assert rules["RTP-SEQ-1"]["outcome"] == "passed"
    (stream,) = data["streams"]
    assert (
        stream["ssrc"] == 0x1234ABCD and len(stream["series"]["seq"]) == stream["stats"]["packets"]
    )
    assert len(stream["frames"]["size"]) == stream["stats"]["frames"]
    suite = ET.parse(out_xml).getroot()
    assert int(suite.get("tests")) == len(rules)
    failures = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failures == ["RTP-MARK-1 marker bit on exactly the last packet of each frame"]


def test_truncated_capture_reports_offset_and_what_came_before(tmp_path, capsys):
    path = clean_session().write(tmp_path / "whole.pcap")
    data = path.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) * 2 // 3])
    out_json = tmp_path / "cut.json"
    code, out = run(capsys, "check", str(cut), "--json", str(out_json))
    assert code == 1
    assert "capture damaged" in out and "byte offset" in out
    report = json.loads(out_json.read_text())
    assert report["error"]["offset"] > 0 and report["packets_read"] > 50
    assert report["streams"][0]["stats"]["packets"] > 30


def test_unreadable_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"this is not a capture")
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rtsp-workbench check: error: ") and "not a pcap or pcapng file" in err
    assert main(["check", str(tmp_path / "absent.pcap")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_rtp_port_option(tmp_path, capsys):
    session = clean_session()
    session.messages.clear()  # no RTSP: only the UDP flows remain
    path = session.write(tmp_path / "norstsp.pcap")
    code, out = run(capsys, "check", str(path), "--rtp-port", str(session.client_rtp_port))
    assert code == 0 and "0x1234abcd" in out


def test_frames_command_writes_decodable_jpegs(tmp_path, capsys):
    path = clean_session().write(tmp_path / "clean.pcap")
    code, out = run(capsys, "frames", str(path), "-o", str(tmp_path / "frames"))
    assert code == 0 and "45 frame(s)" in out
    files = sorted((tmp_path / "frames").rglob("*.jpg"))
    assert len(files) == 45
    assert Image.open(files[0]).size == (64, 48)
    mjpeg = tmp_path / "all.mjpeg"
    code, _ = run(capsys, "frames", str(path), "--mjpeg", str(mjpeg))
    data = mjpeg.read_bytes()
    assert code == 0 and data.count(b"\xff\xd8\xff") == 45
    Image.open(io.BytesIO(data)).load()


def test_frames_skips_incomplete_frames_unless_asked(tmp_path, capsys):
    session = clean_session()
    DEFECTS["gap"][0](session)
    path = session.write(tmp_path / "gap.pcap")
    assert "44 frame(s)" in run(capsys, "frames", str(path), "-o", str(tmp_path / "a"))[1]
    out = run(capsys, "frames", str(path), "-o", str(tmp_path / "b"), "--incomplete")[1]
    assert "45 frame(s)" in out


def test_list_rules(capsys):
    code, out = run(capsys, "check", "--list-rules")
    assert code == 0
    for rule_id in ("RTP-SEQ-1", "JPEG-QT-1", "RTCP-SR-2", "RTSP-CSEQ-2", "LAB-FMT-1"):
        assert rule_id in out
    assert run(capsys, "check")[0] == 2  # neither a capture nor --list-rules
