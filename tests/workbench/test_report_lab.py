"""`rtsp-workbench report` on a capture of a lab-style server names the lab format's faults.

The capture is made here: the lab-format peer (tests/peers/lab_server.py: whole JPEG per
datagram, wall-clock timestamps, SSRC 0, no marker) played by our client in the lab's
dialect while analysis.capture.live records the loopback traffic.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from realtools import require_raw_socket

from analysis.capture.live import Capture
from rtsp_client import RTSPClient
from rtsp_client.options import ClientOptions, Dialect
from workbench.sample import make_sample

pytestmark = [pytest.mark.capture, pytest.mark.slow]

PEERS = Path(__file__).resolve().parents[1] / "peers"
PLAY_SECONDS = 1.2
LAB_RULES = ("LAB-FMT-1", "LAB-TS-1", "LAB-SSRC-1", "LAB-MARK-1")


def _lab_server_class():
    if str(PEERS) not in sys.path:
        sys.path.insert(0, str(PEERS))
    return importlib.import_module("lab_server").LabServer


def _workbench() -> str:
    return shutil.which("rtsp-workbench") or str(Path(sys.executable).parent / "rtsp-workbench")


@pytest.fixture(scope="module")
def lab_capture(tmp_path_factory) -> Path:
    require_raw_socket()
    folder = tmp_path_factory.mktemp("lab")
    clip = make_sample(folder / "movie.Mjpeg", size=(160, 120), frames=60, fps=20).path
    pcap = folder / "lab.pcap"
    with _lab_server_class()(clip) as server:
        capture = Capture(interface="lo", rtsp_port=server.port, output=pcap).start()
        try:
            client = RTSPClient(
                "127.0.0.1", server.port, 0, clip.name, ClientOptions(dialect=Dialect.LAB)
            )
            try:
                client.setup()
                client.play()
                time.sleep(PLAY_SECONDS)
                client.teardown()
            finally:
                client.close()
            time.sleep(0.2)  # the last datagrams reach the capture
        finally:
            summary = capture.stop()
    assert summary.packets_written > 10
    return pcap


def _report(capture: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_workbench(), "report", str(capture), "-o", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_lists_the_lab_format_non_conformances(lab_capture, tmp_path):
    done = _report(lab_capture, tmp_path, "--source", str(lab_capture.parent / "movie.Mjpeg"))
    assert done.returncode == 1, done.stdout + done.stderr  # the rules test fails
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    for rule in LAB_RULES:
        assert f'data-rule="{rule}" data-verdict="failed"' in html, rule
        assert f"`{rule}`" in md
    assert "SSRC 0" in html
    # one test per request the lab client sent (no scheme in the URI), the first answered 200
    for n, method in enumerate(("SETUP", "PLAY", "TEARDOWN"), start=1):
        assert f"| {n} | RTSP exchange {n}: {method} movie.Mjpeg RTSP/1.0 |" in md
    assert "### 1. RTSP exchange 1: SETUP movie.Mjpeg RTSP/1.0 — passed" in md
    reply_packets = _assert_each_request_paired_with_its_reply(md)
    # the replies' missing empty line is still a fault, named at each reply's packet
    syn = re.search(r"^\| `RTSP-SYN-1` .*\| failed \((\d+)\) \| (.*) \|$", md, re.M)
    assert syn and "header not ended by an empty line" in syn.group(2), md
    assert int(syn.group(1)) == len(reply_packets)
    assert syn.group(2).endswith(", ".join(f"#{p}" for p in reply_packets))
    assert "| 5 | Conformance rules | failed |" in md
    assert (tmp_path / "stream1-timing.png").is_file()
    # the whole JPEGs in the capture, beside the source frames of the same number
    assert "| Received — frame 0 | Source — frame 0 |" in md
    last = re.search(
        r"last frame received\n\n\| Received — frame (\d+) \| Source — frame (\d+) \|", md
    )
    assert last and last.group(1) == last.group(2) and int(last.group(1)) > 10


def _assert_each_request_paired_with_its_reply(md: str) -> list[int]:
    """Each lab request's section shows the reply with its CSeq; the replies' packet numbers."""
    reply_packets = []
    for n, method in enumerate(("SETUP", "PLAY", "TEARDOWN"), start=1):
        heading = f"### {n}. RTSP exchange {n}: {method} movie.Mjpeg RTSP/1.0 — passed"
        assert heading in md, method
        section = md.split(heading, 1)[1].split("\n### ", 1)[0]
        assert "**Observed:** 200 OK" in section, method
        request = re.search(rf"```\n#(\d+)\n{method} movie.Mjpeg RTSP/1.0\nCSeq: {n}\n", section)
        reply = re.search(rf"```\n#(\d+)\nRTSP/1.0 200 OK\nCSeq: {n}\nSession: \d+\n```", section)
        assert request and reply, section
        assert int(reply.group(1)) > int(request.group(1))
        reply_packets.append(int(reply.group(1)))
    return reply_packets


def test_report_in_portuguese(lab_capture, tmp_path):
    done = _report(lab_capture, tmp_path, "--lang", "pt")
    assert done.returncode == 1
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# Relatório")
    assert "## 1. Testes de funcionamento realizados" in md
    assert "Regras de conformidade — falhou" in md


def test_report_on_a_missing_or_corrupt_capture_says_so(tmp_path):
    missing = _report(tmp_path / "nope.pcap", tmp_path / "out")
    assert missing.returncode == 2 and "no such capture file" in missing.stderr
    corrupt = tmp_path / "corrupt.pcap"
    corrupt.write_bytes(b"\x00" * 10)
    done = _report(corrupt, tmp_path / "out2")
    assert done.returncode == 2 and "cannot read" in done.stderr
    assert "Traceback" not in done.stderr
