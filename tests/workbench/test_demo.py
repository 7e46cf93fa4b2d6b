"""`rtsp-workbench demo` end to end, as a user runs it, in a fresh folder.

One run (module fixture) is examined from several sides: the exit code and what it
prints, the report's tests, the HTML in a real browser, the Markdown, the capture in
tshark with the printed options.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from realtools import require_raw_socket, require_tool

pytestmark = [pytest.mark.capture, pytest.mark.slow]

DEMO_TIMEOUT = 240  # seconds; the demo itself aims at under 30 s on a quiet machine
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
MAX_SCREENSHOT_HEIGHT = 16000  # pixels; Chromium refuses much taller windows
EXPECTED_TESTS = 23  # capture, 7 per transport x 2, 4 refusals, lab dialect, 3 on the capture


def _workbench() -> str:
    return shutil.which("rtsp-workbench") or str(Path(sys.executable).parent / "rtsp-workbench")


@dataclass
class DemoRun:
    folder: Path
    result: subprocess.CompletedProcess
    report_dir: Path
    capture: Path


class _Tests(HTMLParser):
    """Rows of the HTML summary table: (number, outcome)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-test" in a:
            self.rows.append((int(a["data-test"]), a["data-outcome"]))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoRun:
    require_raw_socket()
    require_tool("tshark")
    folder = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [_workbench(), "demo"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        env=dict(os.environ, COLUMNS="200"),
    )
    reports = sorted((folder / "reports").glob("demo-*"))
    captures = sorted((folder / "pcaps").glob("demo-*.pcap"))
    assert len(reports) == 1 and len(captures) == 1, result.stdout + result.stderr
    return DemoRun(folder, result, reports[0], captures[0])


def _failures(demo: DemoRun) -> str:
    """The sections of report.md for tests that did not pass: what a failure message needs."""
    md = (demo.report_dir / "report.md").read_text(encoding="utf-8")
    sections = re.split(r"\n(?=### )", md)
    return "\n".join(s for s in sections if re.match(r"### \d+\. .* — (failed|not run)", s))


def test_demo_makes_the_sample_and_passes_every_test(demo):
    out = demo.result.stdout
    assert demo.result.returncode == 0, _failures(demo) + demo.result.stderr
    assert (demo.folder / "media" / "movie.Mjpeg").is_file()
    assert f"all {EXPECTED_TESTS} tests passed" in out
    assert str(demo.report_dir.relative_to(demo.folder) / "index.html") in out
    assert str(demo.capture.relative_to(demo.folder)) in out
    assert out.startswith("made media/movie.Mjpeg: 500 frames, 384x288")
    assert "\x1b[" not in out  # not a terminal: no colour codes
    parser = _Tests()
    parser.feed((demo.report_dir / "index.html").read_text(encoding="utf-8"))
    assert [n for n, _ in parser.rows] == list(range(1, EXPECTED_TESTS + 1))
    assert {outcome for _, outcome in parser.rows} == {"passed"}


def test_printed_wireshark_command_decodes_rtp_in_tshark(demo):
    tshark = require_tool("tshark")["tshark"]
    line = next(
        ln.strip()
        for ln in demo.result.stdout.splitlines()
        if ln.strip().startswith("wireshark -r ")
    )
    words = shlex.split(line)
    assert words[:3] == ["wireshark", "-r", str(demo.capture.relative_to(demo.folder))]
    decoded = subprocess.run(
        [tshark, *words[1:], "-Y", "rtp", "-T", "fields", "-e", "rtp.ssrc"],
        cwd=demo.folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert decoded.returncode == 0, decoded.stderr
    ssrcs = {s for s in decoded.stdout.split() if s}
    assert len(ssrcs) >= 3  # the UDP, TCP and lab-dialect sessions


def test_markdown_names_the_same_tests(demo):
    html = (demo.report_dir / "index.html").read_text(encoding="utf-8")
    md = (demo.report_dir / "report.md").read_text(encoding="utf-8")
    titles = re.findall(r'<a href="#test-(\d+)">([^<]+)</a>', html)
    assert len(titles) == EXPECTED_TESTS
    for number, title in titles:
        title = title.replace("&#39;", "'").replace("&amp;", "&")
        assert f"### {number}. {title} — passed" in md
    # the evidence of a step is the exchange as captured
    options = md.split("### 2. UDP: OPTIONS")[1].split("### 3.")[0]
    assert "OPTIONS rtsp://127.0.0.1:" in options and "RTSP/1.0 200 OK" in options
    assert "Public: " in options
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (demo.report_dir / image).is_file(), image


@pytest.mark.interop
def test_report_opens_in_chromium_with_every_image(demo, tmp_path, artifacts_dir):
    paths = require_tool("chromium", "chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = paths["chromium"]
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_argument("--window-size=1280,1000")
    driver = webdriver.Chrome(service=Service(paths["chromedriver"]), options=options)
    try:
        driver.get((demo.report_dir / "index.html").as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete,"
            " i.naturalWidth, i.naturalHeight]);"
        )
        verdict = driver.execute_script("return document.getElementById('verdict').textContent;")
        ladder_rows = driver.execute_script(
            "return document.querySelectorAll('.ladder .ladder-row').length;"
        )
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
        )
        height = driver.execute_script("return document.documentElement.scrollHeight;")
        driver.set_window_size(1280, min(height, MAX_SCREENSHOT_HEIGHT))
        driver.save_screenshot(str(artifacts_dir / "demo-report.png"))
        ladder = driver.find_element("css selector", ".ladder")
        driver.execute_script("arguments[0].scrollIntoView();", ladder)
        ladder.screenshot(str(artifacts_dir / "demo-report-ladder.png"))
    finally:
        driver.quit()
    # 4 screenshot pairs per transport, 3 plots per stream for 3 streams
    assert len(images) == 2 * 4 * 2 + 3 * 3, images
    broken = [src for src, complete, width, height in images if not (complete and width > 0)]
    assert not broken, f"images that did not load: {broken}"
    assert f"All {EXPECTED_TESTS} functional tests passed" in verdict
    assert ladder_rows > 20  # every request and reply of the scenario's connections
    assert overflow <= 0, "the page is wider than the window"


def test_demo_report_in_portuguese_from_its_capture(demo, tmp_path):
    out = tmp_path / "relatorio"
    done = subprocess.run(
        [_workbench(), "report", str(demo.capture), "-o", str(out), "--lang", "pt"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    html = (out / "index.html").read_text(encoding="utf-8")
    for heading in (
        "Relatório",
        "Testes de funcionamento realizados",
        "Resultados obtidos",
        "Gráficos",
        "Troca de mensagens RTSP",
    ):
        assert heading in html
    # the refused requests show as exchanges answered with the right status
    assert "FROBNICATE" in html and "501 Not Implemented" in html
