"""`rtsp-workbench check` on many captures: folders searched, each capture checked in its own
worker process, a JSON and JUnit XML per capture, summary.json, one exit status."""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from analysis_corpus import clean_session, write_defect

from workbench.check_batch import find_captures, output_name
from workbench.cli import main


def lab(tmp_path: Path) -> Path:
    """A folder of captures as a lab hands them in: clean, faulty, compressed, broken, and a
    file that is no capture by name."""
    root = tmp_path / "captures"
    (root / "cam1").mkdir(parents=True)
    (root / "cam2").mkdir()
    clean_session().write(root / "cam1" / "clean.pcap")
    write_defect("gap", root / "cam2")
    zipped = root / "cam2" / "clean.pcap.gz"
    zipped.write_bytes(gzip.compress(clean_session().write(tmp_path / "c.pcap").read_bytes()))
    (root / "cam2" / "broken.pcapng").write_bytes(b"no capture")
    (root / "notes.txt").write_text("not a capture")
    return root


def test_a_folder_is_checked_capture_by_capture_in_workers(tmp_path, capsys):
    root = lab(tmp_path)
    out = tmp_path / "results"
    code = main(["check", str(root), "--jobs", "2", "-o", str(out)])
    printed = capsys.readouterr().out
    assert code == 2  # one capture could not be read at all
    summary = json.loads((out / "summary.json").read_text())
    verdicts = {Path(c["capture"]).relative_to(root).as_posix(): c for c in summary["captures"]}
    assert {k: v["verdict"] for k, v in verdicts.items()} == {
        "cam1/clean.pcap": "passed",
        "cam2/broken.pcapng": "unreadable",
        "cam2/clean.pcap.gz": "passed",
        "cam2/gap.pcap": "failed",
    }
    assert summary["totals"] == {"passed": 2, "unreadable": 1, "failed": 1}
    assert verdicts["cam2/gap.pcap"]["failed_rules"] == ["RTP-SEQ-1"]
    assert "not a pcap or pcapng file" in verdicts["cam2/broken.pcapng"]["message"]
    assert "2 passed, 1 failed, 0 damaged, 1 unreadable" in printed
    # Each capture's JSON is what `check --json` writes for it alone.
    alone = tmp_path / "gap.json"
    assert main(["check", str(root / "cam2" / "gap.pcap"), "--json", str(alone)]) == 1
    capsys.readouterr()
    batch = json.loads((out / "cam2__gap.pcap.json").read_text())
    assert batch["rules"] == json.loads(alone.read_text())["rules"]
    junit = ET.parse(out / "cam2__gap.pcap.junit.xml").getroot()
    assert junit.get("failures") == "1"


def test_workers_and_one_process_give_the_same_verdicts(tmp_path, capsys):
    root = lab(tmp_path)
    (root / "cam2" / "broken.pcapng").unlink()
    for jobs in ("1", "3"):
        assert main(["check", str(root), "--jobs", jobs, "-o", str(tmp_path / jobs)]) == 1
    capsys.readouterr()
    one, three = (json.loads((tmp_path / j / "summary.json").read_text()) for j in ("1", "3"))
    assert one["captures"] == [
        {**c, "json": c["json"].replace("/3/", "/1/"), "junit": c["junit"].replace("/3/", "/1/")}
        for c in three["captures"]
    ]


def test_clean_files_named_one_by_one_exit_0_without_an_output_folder(tmp_path, capsys):
    first = clean_session().write(tmp_path / "a.pcap")
    second = clean_session().write(tmp_path / "b.pcap")
    assert main(["check", str(first), str(second)]) == 0
    printed = capsys.readouterr().out
    assert "2 passed, 0 failed" in printed and not (tmp_path / "summary.json").exists()


def test_single_capture_options_are_refused_with_several(tmp_path, capsys):
    root = lab(tmp_path)
    code = main(["check", str(root), "--json", str(tmp_path / "x.json")])
    assert code == 2
    assert "--json take one capture" in capsys.readouterr().err
    one = root / "cam1" / "clean.pcap"
    assert main(["check", str(one), "-o", str(tmp_path / "r")]) == 2
    assert "-o DIR is for several captures" in capsys.readouterr().err


def test_an_empty_folder_says_so(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["check", str(tmp_path / "empty")]) == 2
    assert "no capture files in" in capsys.readouterr().err


def test_result_names_stay_apart_for_same_named_captures(tmp_path):
    root = lab(tmp_path)
    found = find_captures([str(root), str(root / "cam1" / "clean.pcap")])
    assert len(found) == 4  # named twice, listed once; notes.txt is no capture
    names = {output_name(c, [str(root)]) for c in found}
    assert names == {
        "cam1__clean.pcap",
        "cam2__gap.pcap",
        "cam2__clean.pcap.gz",
        "cam2__broken.pcapng",
    }
