"""`rtsp-workbench` as a command: what it loads to start, and how it reports bad captures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.craft.session_builder import SessionBuilder

# Each takes a tenth of a second or more to import; no command loads them before it needs them.
HEAVY = ("matplotlib", "jinja2", "scapy")

LOADED_AFTER = """
import json, sys
from workbench.cli import build_parser, main
build_parser()
code = main(sys.argv[1:]) if len(sys.argv) > 1 else None
heavy = {heavy!r}
print(json.dumps({{"code": code, "loaded": [m for m in heavy if m in sys.modules]}}))
"""


def _loaded_after(*argv: str) -> dict:
    """In a fresh interpreter: build the parser, run ``argv`` when given, and say which of
    the heavy packages were imported (the last line of stdout)."""
    done = subprocess.run(
        [sys.executable, "-c", LOADED_AFTER.format(heavy=HEAVY), *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _workbench(*argv: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "rtsp-workbench"
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [str(script), *argv], capture_output=True, text=True, timeout=120, env=env
    )


def test_building_the_parser_loads_no_heavy_package():
    assert _loaded_after() == {"code": None, "loaded": []}


def test_check_of_a_small_capture_loads_neither_matplotlib_nor_jinja2(tmp_path):
    b = SessionBuilder()
    b.handshake()
    b.options()
    b.describe()
    b.setup()
    b.play()
    b.frames(3)
    b.teardown()
    pcap = b.write(tmp_path / "small.pcap")
    result = _loaded_after("check", str(pcap))
    assert result["code"] in (0, 1)  # it ran the rules
    assert "matplotlib" not in result["loaded"]
    assert "jinja2" not in result["loaded"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "too short to be a capture file"),
        (b"this is not a capture, only some words" * 3, "not a pcap or pcapng file"),
    ],
    ids=["empty", "not-a-pcap"],
)
def test_report_on_an_unreadable_capture_is_one_plain_line(tmp_path, content, says):
    # A long folder name: a console wrapping at the terminal's width would cut the line.
    folder = tmp_path / ("captures-with-a-rather-long-folder-name-" * 2)
    folder.mkdir()
    pcap = folder / "broken.pcap"
    pcap.write_bytes(content)
    out = tmp_path / "report"
    done = _workbench("report", str(pcap), "-o", str(out), columns=60)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"rtsp-workbench report: error: cannot read {pcap}: {says}")
    assert "Error" not in lines[0]  # no exception class name
    assert not out.exists()  # nothing written for a capture that cannot be read


def test_report_on_a_missing_capture_is_one_plain_line(tmp_path):
    missing = tmp_path / ("no-such-folder-with-a-long-name-" * 3) / "x.pcap"
    done = _workbench("report", str(missing), "-o", str(tmp_path / "r"), columns=60)
    assert done.returncode == 2
    assert done.stderr == f"rtsp-workbench report: error: no such capture file: {missing}\n"
