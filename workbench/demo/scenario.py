"""The demo scenario: server, capture, client sessions, refused requests, checks, report.

Everything runs in this process: the server in its background thread, the capture in
its thread, the client sessions one after another so the capture and the ladder read
in order. Each step becomes a numbered functional test; a step that cannot run is
reported as not run, with the reason, and the demo then fails.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from analysis.capture.live import Capture, CaptureError
from analysis.expected import Expectation
from rtsp_common.mjpeg import open_media
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions
from workbench.demo.expected_findings import demo_expectations, write_demo_expectations
from workbench.demo.judge import (
    NumberedFrame,
    PlaybackJudge,
    judge_lab,
    judge_negative,
    judge_player,
    split_at_resume,
)
from workbench.demo.negative import NegativeOutcome, run_all
from workbench.demo.playback import (
    PlaybackOutcome,
    Timings,
    lab_script,
    run_script,
    standard_script,
)
from workbench.demo.player_shots import PlayerRun, record_player_session
from workbench.demo.wire import STEP_METHODS, session_steps
from workbench.report.build import (
    AnalysedCapture,
    CaptureStage,
    analyse_capture,
    build_report,
    judge_capture,
)
from workbench.report.functional import TestBook
from workbench.report.i18n import Catalog
from workbench.report.model import Outcome, PlayerScreenshot, Report
from workbench.report.render import RenderedReport, render_report
from workbench.report.screenshots import ReceivedFrame, make_screenshots
from workbench.sample import DEFAULT_PATH, ensure_sample
from workbench.wireshark import annotated_path

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
TICK_S = 0.2  # how often the progress display is refreshed while a session plays


@dataclass
class DemoConfig:
    """Where the demo reads and writes, and how long each phase lasts."""

    media: Path = DEFAULT_PATH
    pcaps: Path = Path("pcaps")
    reports: Path = Path("reports")
    interface: str = "lo"
    timings: Timings = field(default_factory=Timings)
    lab_seconds: float = 1.5
    language: str = "en"
    stamp: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S"))

    @property
    def capture_path(self) -> Path:
        return self.pcaps / f"demo-{self.stamp}.pcap"

    @property
    def report_dir(self) -> Path:
        return self.reports / f"demo-{self.stamp}"


class DemoProgress:
    """What the scenario tells its display; the base class shows nothing."""

    def step(self, text: str) -> None:
        """A new phase begins."""

    def tick(self, captured: int | None) -> None:
        """Time passes inside a phase; ``captured`` packets are in the pcap so far."""

    def note(self, text: str) -> None:
        """Something worth telling now (a warning)."""


@dataclass
class DemoResult:
    """What the demo made."""

    report: Report
    rendered: RenderedReport
    capture: Path | None
    wireshark_command: str | None

    @property
    def exit_code(self) -> int:
        return self.report.exit_code()


STEPS = 10  # phases announced through DemoProgress.step


def _sleeper(progress: DemoProgress, capture: Capture | None) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(TICK_S, left))
            progress.tick(capture.packets_written if capture is not None else None)

    return sleep


def _screenshot_picks(
    label: str, outcome: PlaybackOutcome, frames: list[NumberedFrame], catalog: Catalog
) -> list[tuple[str, ReceivedFrame]]:
    """First frame, the last before PAUSE, the first after resume, and the last."""
    if not frames:
        return []
    picks = [(catalog.t("shots.first", transport=label), frames[0].frame)]
    if outcome.reply("PAUSE") is not None and outcome.reply("RESUME") is not None:
        before, after = split_at_resume(frames, outcome)
        if before:
            picks.append((catalog.t("shots.before_pause", transport=label), before[-1].frame))
        if after:
            picks.append((catalog.t("shots.after_resume", transport=label), after[0].frame))
    picks.append((catalog.t("shots.last", transport=label), frames[-1].frame))
    return picks


def _start_capture(
    config: DemoConfig, port: int, output: Path, stage: CaptureStage
) -> Capture | None:
    try:
        return Capture(interface=config.interface, rtsp_port=port, output=output).start()
    except (CaptureError, PermissionError, OSError) as exc:
        stage.start_error = str(exc)
        return None


def _stop_capture(capture: Capture | None, stage: CaptureStage) -> None:
    if capture is None:
        return
    time.sleep(TICK_S)  # let the last packets of the TEARDOWNs reach the capture
    try:
        stage.summary = capture.stop()
    except CaptureError as exc:
        stage.stop_error = str(exc)


@dataclass
class Recorded:
    """What the live part of the demo recorded, before anything is judged."""

    url: str
    port: int
    outcomes: dict[str, PlaybackOutcome]
    negatives: list[NegativeOutcome]
    stage: CaptureStage
    player: PlayerRun
    player_shots: list[PlayerScreenshot] = field(default_factory=list)


def _record(config: DemoConfig, fps: float, book: TestBook, progress: DemoProgress) -> Recorded:
    """Serve, capture and play every session; adds the capture test (test 1)."""
    catalog = book.catalog
    path = config.media.name
    stage = CaptureStage(path=config.capture_path)
    progress.step(catalog.t("demo.server"))
    with RTSPServer(options=ServerOptions(port=0, media=config.media.parent, fps=fps)) as server:
        port = server.port
        url = f"rtsp://{LOOPBACK}:{port}/{path}"
        progress.step(catalog.t("demo.capture", interface=config.interface))
        capture = _start_capture(config, port, stage.path, stage)
        if capture is None:
            progress.note(catalog.t("obs.capture_refused", error=stage.start_error))
        sleep = _sleeper(progress, capture)
        capture_test = book.add(
            "capture",
            capture is not None,
            stage.describe(catalog) or catalog.t("obs.capture_started", interface=config.interface),
            port=port,
        )
        outcomes: dict[str, PlaybackOutcome] = {}
        for transport in ("udp", "tcp"):
            label = transport.upper()
            progress.step(catalog.t("demo.session", transport=label))
            outcomes[label] = run_script(
                LOOPBACK,
                port,
                path,
                standard_script(config.timings),
                transport=transport,
                sleep=sleep,
            )
        progress.step(catalog.t("demo.negative"))
        negatives = run_all(LOOPBACK, port, url)
        progress.step(catalog.t("demo.lab"))
        outcomes["lab"] = run_script(
            LOOPBACK, port, path, lab_script(config.lab_seconds), dialect="lab", sleep=sleep
        )
        _stop_capture(capture, stage)
        if stage.summary is not None:
            progress.tick(stage.summary.packets_written)  # the count the report gives
        # The player's own session comes after the capture: the capture holds the
        # scripted sessions only, and the player is judged by what its window shows.
        progress.step(catalog.t("demo.player"))
        player = record_player_session(url, config.report_dir)
    if stage.summary is not None or stage.stop_error:
        capture_test.observed = stage.describe(catalog) or capture_test.observed
    if stage.stop_error or (stage.summary is not None and not stage.summary.packets_written):
        capture_test.outcome = Outcome.FAILED  # a capture that kept nothing did not work
    return Recorded(url, port, outcomes, negatives, stage, player)


def _judge(
    recorded: Recorded,
    config: DemoConfig,
    fps: float,
    book: TestBook,
    analysis: AnalysedCapture | None,
    expectations: list[Expectation],
) -> dict[str, list[NumberedFrame]]:
    """Add the tests of every session, refusal and capture check, in scenario order."""
    check = analysis.check if analysis is not None else None
    judge = PlaybackJudge(book, fps, config.timings)
    frames: dict[str, list[NumberedFrame]] = {}
    for label in ("UDP", "TCP"):
        outcome = recorded.outcomes[label]
        wire = session_steps(check, outcome.session_id, list(STEP_METHODS)) if check else {}
        frames[label] = judge.judge(outcome, label, wire)
    judge_negative(book, recorded.negatives)
    lab = recorded.outcomes["lab"]
    lab_wire = session_steps(check, lab.session_id, ["SETUP", "PLAY", "TEARDOWN"]) if check else {}
    frames["lab"] = judge_lab(book, lab, config.lab_seconds, lab_wire)
    recorded.player_shots = judge_player(book, recorded.player)
    stage = recorded.stage
    judge_capture(
        book,
        stage if stage.summary is not None else None,
        analysis,
        expected_sessions=len(recorded.outcomes),
        expectations=expectations,
    )
    return frames


def run_demo(config: DemoConfig, progress: DemoProgress | None = None) -> DemoResult:
    """Run the whole scenario and write the report; never raises for a failed step."""
    progress = progress or DemoProgress()
    catalog = Catalog.load(config.language)
    book = TestBook(catalog)
    progress.step(catalog.t("demo.sample"))
    sample, made = ensure_sample(config.media)
    fps = sample.fps
    recorded = _record(config, fps, book, progress)
    progress.step(catalog.t("demo.check"))
    expectations = demo_expectations(
        catalog, recorded.outcomes["lab"].session_id, recorded.negatives
    )
    analysis = None
    expect_file = None
    if recorded.stage.summary is not None:
        expect_file = write_demo_expectations(recorded.stage.path, expectations)
        analysis = analyse_capture(
            recorded.stage.path,
            expectations=expectations,
            annotate_to=annotated_path(recorded.stage.path),
        )
    frames = _judge(recorded, config, fps, book, analysis, expectations)

    progress.step(catalog.t("demo.report"))
    folder = config.report_dir
    folder.mkdir(parents=True, exist_ok=True)
    shots = []
    with open_media(config.media) as source:
        for label in ("UDP", "TCP"):
            picks = _screenshot_picks(label, recorded.outcomes[label], frames[label], catalog)
            shots += make_screenshots(picks, source, folder, label.lower())
    notes = [
        catalog.t(
            "demo.note_sample",
            clip=sample.describe_in(catalog),
            made=catalog.t("demo.made" if made else "demo.found"),
        ),
        catalog.t("demo.note_server", url=recorded.url),
    ]
    if expect_file is not None:
        notes.append(catalog.t("demo.note_expected", file=expect_file, capture=recorded.stage.path))
    report = build_report(
        catalog,
        subject=catalog.t("demo.subject", url=recorded.url, stamp=config.stamp),
        tests=book.tests,
        analysis=analysis,
        folder=folder,
        screenshots=shots,
        notes=notes,
    )
    report.player_shots = recorded.player_shots
    rendered = render_report(report, folder, catalog)
    return DemoResult(report, rendered, report.capture, report.wireshark_command)
