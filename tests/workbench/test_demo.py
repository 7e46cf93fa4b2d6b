"""`rtsp-workbench demo` end to end, as a user runs it, in a fresh folder.

One run (module fixture) is examined from several sides: the exit code and what it
prints, the report's tests, the HTML in a real browser, the Markdown, the capture in
tshark with the printed options. A second run is `make demo` in Portuguese on a fresh
clone of the repository with no tshark on PATH: it must pass, the Wireshark check shown as
not run, and every part of its report read as Portuguese in the browser.
"""

from __future__ import annotations

import json
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
from language_checks import english_words_in
from realtools import ROOT, require_raw_socket, require_tool
from report_browser import PageMeasure, measure_report, screenshot_report

pytestmark = [pytest.mark.capture, pytest.mark.slow]

DEMO_TIMEOUT = 240  # seconds; the demo itself aims at under 30 s on a quiet machine
# capture, 7 per transport x 2, 4 refusals, lab dialect, the Tk player, 3 on the capture
EXPECTED_TESTS = 24
PLAYER_SHOTS = 4  # after SETUP, playing, paused, after TEARDOWN
WINDOW_WIDTHS = (1280, 720)  # a desktop and a narrow window: no table may break a word
ONLY_OPTIONAL_TOOL = "tshark"  # the fresh-clone run hides it; the demo must still pass


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
    assert f"All {EXPECTED_TESTS} functional tests passed." in out
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


def test_demo_writes_the_annotated_capture_beside_the_plain_one(demo):
    """Its findings, all expected (negative tests, the lab dialect), are comments on their
    packets, and the printed command opens the copy in tshark."""
    tshark = require_tool("tshark")["tshark"]
    annotated = demo.capture.with_name(demo.capture.stem + ".annotated.pcapng")
    lines = [ln.strip() for ln in demo.result.stdout.splitlines()]
    line = next(
        ln for ln in lines if ln.startswith(f"wireshark -r {annotated.relative_to(demo.folder)}")
    )
    assert "-Y" not in shlex.split(line)  # no rule failed: no filter to show
    rows = subprocess.run(
        [
            tshark,
            *shlex.split(line)[1:],
            "-Y",
            "frame.comment",
            "-T",
            "fields",
            "-e",
            "frame.comment",
        ],
        cwd=demo.folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rows.returncode == 0, rows.stderr
    comments = rows.stdout
    assert "LAB-FMT-1 error RFC 2435" in comments and "(expected: " in comments
    assert comments.count("info: RTSP session") >= 3  # UDP, TCP and the lab dialect
    count = subprocess.run(
        [tshark, "-r", str(annotated), "-T", "fields", "-e", "frame.number"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    plain = subprocess.run(
        [tshark, "-r", str(demo.capture), "-T", "fields", "-e", "frame.number"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert count.stdout == plain.stdout


def test_markdown_names_the_same_tests(demo):
    html = (demo.report_dir / "index.html").read_text(encoding="utf-8")
    md = (demo.report_dir / "report.md").read_text(encoding="utf-8")
    titles = re.findall(r'id="test-(\d+)">\s*<h3>\d+\. (.+?) — <span', html)
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


def check_headline_agrees_with_the_tables(page: PageMeasure) -> None:
    """The verdict's figures are the tables' figures, and its colour follows them."""
    data, outcomes = page.data["verdictData"], page.data["outcomes"]
    counts = {o: outcomes.count(o) for o in ("passed", "failed", "not_run")}
    assert int(data["tests"]) == len(outcomes) == EXPECTED_TESTS
    assert (int(data["passed"]), int(data["failed"]), int(data["notRun"])) == (
        counts["passed"], counts["failed"], counts["not_run"]
    )  # fmt: skip
    assert int(data["rulesFailed"]) == page.data["failedRules"]
    text, verdict = page.data["verdictText"], page.data["verdictClass"]
    # the sentence names the counts it summarises
    named = counts["passed"] if counts["not_run"] and not counts["failed"] else len(outcomes)
    assert str(named) in text
    if page.data["failedRules"]:
        assert str(page.data["failedRules"]) in text
    if counts["failed"]:
        assert "failed" in verdict.split()
    elif page.data["failedRules"]:
        assert "findings" in verdict.split()
    else:
        assert "passed" in verdict.split()


def check_every_word_whole_and_every_image_there(page: PageMeasure) -> None:
    assert page.data["broken"] == [], f"words broken in table cells at {page.width} px"
    assert page.data["unloaded"] == [], "images that did not load"
    assert len(page.data["player"]) == PLAYER_SHOTS, "player screenshots"
    assert all(loaded for _, loaded in page.data["player"]), page.data["player"]
    assert page.data["overflow"] <= 0, "the page is wider than the window"


@pytest.mark.interop
@pytest.mark.gui
def test_report_in_chromium_agrees_with_itself_breaks_no_word_and_shows_the_player(
    demo, tmp_path, artifacts_dir
):
    index = demo.report_dir / "index.html"
    pages = measure_report(index, tmp_path / "profile", WINDOW_WIDTHS)
    for page in pages:
        check_headline_agrees_with_the_tables(page)
        check_every_word_whole_and_every_image_there(page)
    wide = pages[0].data
    # 4 screenshot pairs per transport, the player's 4, 3 plots per stream for 3 streams
    assert wide["images"] == 2 * 4 * 2 + PLAYER_SHOTS + 3 * 3
    assert f"All {EXPECTED_TESTS} functional tests passed" in wide["verdictText"]
    screenshot_report(index, tmp_path / "shot-profile", artifacts_dir / "demo-report.png")


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


def _path_without(tool: str, folder: Path) -> str:
    """A PATH with every program of this one but ``tool``: links in ``folder``."""
    folder.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not Path(directory).is_dir():
            continue
        for program in Path(directory).iterdir():
            link = folder / program.name
            if program.name != tool and not link.exists() and os.access(program, os.X_OK):
                link.symlink_to(program)
    return str(folder)


@pytest.fixture(scope="module")
def fresh_demo(tmp_path_factory) -> DemoRun:
    """`make demo DEMO_ARGS="--lang pt"` in a fresh clone, tshark hidden from PATH.

    The clone is the repository's committed state (what CI checks out). Its code runs
    (PYTHONPATH), on the interpreter and packages of this checkout's venv, which make is
    told not to rebuild: a new venv would cost a minute of installing and the network.
    """
    require_raw_socket()
    tools = require_tool("git", "make", "Xvfb")
    base = tmp_path_factory.mktemp("fresh")
    clone = base / "clone"
    subprocess.run([tools["git"], "clone", "--quiet", str(ROOT), str(clone)], check=True)
    venv = Path(sys.prefix)
    env = dict(
        os.environ,
        PATH=_path_without(ONLY_OPTIONAL_TOOL, base / "bin"),
        PYTHONPATH=str(clone),
        COLUMNS="200",
    )
    assert shutil.which(ONLY_OPTIONAL_TOOL, path=env["PATH"]) is None
    result = subprocess.run(
        [tools["make"], "-o", str(venv / ".installed"), "demo", f"VENV={venv}",
         "DEMO_ARGS=--lang pt"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=DEMO_TIMEOUT,
    )  # fmt: skip
    reports = sorted((clone / "reports").glob("demo-*"))
    captures = sorted((clone / "pcaps").glob("demo-*.pcap"))
    assert len(reports) == 1 and len(captures) == 1, result.stdout + result.stderr
    return DemoRun(clone, result, reports[0], captures[0])


def test_make_demo_on_a_fresh_clone_without_tshark_passes_with_the_check_not_run(fresh_demo):
    result = fresh_demo.result
    assert result.returncode == 0, _failures(fresh_demo) + result.stdout[-2000:] + result.stderr
    assert (fresh_demo.folder / "media" / "movie.Mjpeg").is_file()  # made, not found
    parser = _Tests()
    parser.feed((fresh_demo.report_dir / "index.html").read_text(encoding="utf-8"))
    outcomes = dict(parser.rows)
    assert len(outcomes) == EXPECTED_TESTS
    assert outcomes.pop(EXPECTED_TESTS) == "not_run"  # opens in Wireshark: the last test
    assert set(outcomes.values()) == {"passed"}
    # the console says it in Portuguese, in the report's own words
    assert f"Todos os {EXPECTED_TESTS - 1} testes de funcionamento executados passaram" in (
        result.stdout
    )
    md = (fresh_demo.report_dir / "report.md").read_text(encoding="utf-8")
    wireshark = md.split(f"### {EXPECTED_TESTS}. ")[1]
    assert "não executado" in wireshark and "tshark não está instalado" in wireshark


@pytest.mark.interop
@pytest.mark.gui
def test_portuguese_report_in_chromium_has_no_english_left(fresh_demo, tmp_path):
    en = json.loads((ROOT / "workbench" / "locales" / "en.json").read_text(encoding="utf-8"))
    pages = measure_report(fresh_demo.report_dir / "index.html", tmp_path / "p", WINDOW_WIDTHS)
    for page in pages:
        check_headline_agrees_with_the_tables(page)
        check_every_word_whole_and_every_image_there(page)
    page = pages[0].data
    assert page["lang"] == "pt"
    prose = page["prose"]
    assert not english_words_in(prose), sorted(english_words_in(prose))
    # no sentence of the English catalog, between its placeholders, left as it was
    for key, text in en.items():
        for piece in re.split(r"\{[^}]*\}", text):
            if len(piece.split()) >= 4:
                assert piece.strip() not in prose, key
    # numbers the Portuguese way: the sample's size and a decimal comma
    assert "5.871.597 bytes" in prose and re.search(r"\d,\d s\b", prose)


class _Rules(HTMLParser):
    """Rows of the HTML conformance table: rule id -> verdict."""

    def __init__(self) -> None:
        super().__init__()
        self.verdicts: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-rule" in a:
            self.verdicts[a["data-rule"]] = a["data-verdict"]


def test_headline_conformance_table_and_check_tell_one_story(demo):
    """Our server's sessions pass every rule; the lab-dialect session's findings are shown
    as expected, attributed to it, in the headline, the table and `check --expect`."""
    from analysis.check import check_capture
    from analysis.expected import read_expectations
    from analysis.rules import Severity

    expect = demo.capture.with_suffix(".expect.json")
    expectations = read_expectations(expect)
    lab = next(e.session for e in expectations if e.session)
    assert sum(1 for e in expectations if e.client) == 4  # the four negative tests
    parser = _Rules()
    parser.feed((demo.report_dir / "index.html").read_text(encoding="utf-8"))
    expected_rules = sorted(r for r, v in parser.verdicts.items() if v == "expected")
    assert expected_rules and "failed" not in parser.verdicts.values()
    md = (demo.report_dir / "report.md").read_text(encoding="utf-8")
    headline = next(line for line in md.splitlines() if line.startswith("**All "))
    assert all(rule in headline for rule in expected_rules), headline
    checked = subprocess.run(
        [_workbench(), "check", str(demo.capture), "--expect", str(expect)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout[-2000:]
    bare = subprocess.run(
        [_workbench(), "check", str(demo.capture)], capture_output=True, text=True, timeout=120
    )
    assert bare.returncode == 1  # the same findings, unexpected without the file
    result = check_capture(demo.capture)
    owners = {o.scope.session for r in result.failures(Severity.WARNING) for o in r.offences}
    assert owners == {lab}
    assert sorted(r.rule.id for r in result.failures(Severity.WARNING)) == expected_rules
