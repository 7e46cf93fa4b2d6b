"""Judge what a scripted session produced: one functional test per step, with evidence.

Pure functions of the recorded outcomes, so a failure can be shown with made-up outcomes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from rtsp_client.player_status import SEPARATOR as STATUS_SEPARATOR
from rtsp_client.player_status import PlayerState
from rtsp_common.errors import ParseError
from rtsp_common.sdp import SessionDescription
from rtsp_common.status import is_success
from workbench.demo.negative import NegativeCase, NegativeOutcome
from workbench.demo.playback import PlaybackOutcome, StepReply, Timings
from workbench.demo.player_shots import PlayerRun
from workbench.demo.wire import WireExchange
from workbench.report.functional import TestBook
from workbench.report.i18n import Catalog
from workbench.report.model import PlayerScreenshot
from workbench.report.screenshots import ReceivedFrame, decode_frame_number

log = logging.getLogger(__name__)

REQUIRED_METHODS = ("DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN")
JPEG_ENCODING = "JPEG"  # RFC 3551 §6: payload type 26, JPEG/90000
VIDEO_CLOCK_RATE = 90000
# Frames already in flight when PAUSE is answered may still arrive for a moment.
PAUSE_GRACE_S = 0.3
# A loaded machine may deliver fewer frames than fps * seconds; below this share of the
# nominal count the PLAY step is judged failed.
MIN_FRAME_SHARE = 0.5


@dataclass(frozen=True)
class NumberedFrame:
    """A received frame and the sample frame number read from its pixels (None: unreadable)."""

    frame: ReceivedFrame
    number: int | None


def number_frames(frames: list[ReceivedFrame]) -> list[NumberedFrame]:
    """Read the frame number of every received frame."""
    return [NumberedFrame(f, decode_frame_number(f.jpeg)) for f in frames]


@dataclass(frozen=True)
class Run:
    """Frame numbers of a stretch of frames: first, last, and what broke the count."""

    count: int
    first: int | None
    last: int | None
    missing: int
    repeated: int
    unreadable: int

    @property
    def consecutive(self) -> bool:
        return self.count > 0 and self.missing == 0 and self.repeated == 0 and self.unreadable == 0


def describe_run(frames: list[NumberedFrame]) -> Run:
    """Count gaps and repeats in the frame numbers (each should be the previous + 1)."""
    numbers = [f.number for f in frames if f.number is not None]
    missing = repeated = 0
    for a, b in zip(numbers, numbers[1:]):
        if b <= a:
            repeated += 1
        elif b > a + 1:
            missing += b - a - 1
    return Run(
        count=len(frames),
        first=numbers[0] if numbers else None,
        last=numbers[-1] if numbers else None,
        missing=missing,
        repeated=repeated,
        unreadable=len(frames) - len(numbers),
    )


def _between(frames: list[NumberedFrame], start: float, end: float) -> list[NumberedFrame]:
    return [f for f in frames if start <= f.frame.arrival < end]


def split_at_resume(
    frames: list[NumberedFrame], outcome: PlaybackOutcome
) -> tuple[list[NumberedFrame], list[NumberedFrame]]:
    """The frames of the first PLAY and those after the PLAY that resumes.

    The cut is when the resuming PLAY was sent: frames still in flight when PAUSE went out
    belong to the first PLAY. The PLAY and resume tests and the screenshots all cut here,
    so "the last frame before the pause" is the same frame in each."""
    resume = outcome.reply("RESUME")
    if resume is None:
        return list(frames), []
    cut = resume.sent_at
    return [f for f in frames if f.frame.arrival < cut], [
        f for f in frames if f.frame.arrival >= cut
    ]


class PlaybackJudge:
    """Turns one PlaybackOutcome into the seven tests of the script."""

    def __init__(self, book: TestBook, fps: float, timings: Timings) -> None:
        self._wire: dict[str, WireExchange] = {}
        self.book = book
        self.t = book.catalog.t
        self.fps = fps
        self.timings = timings

    def _status_text(self, reply: StepReply) -> str:
        if reply.error is not None:
            return self.t("obs.error", error=reply.error)
        wire = self._wire.get(reply.step)
        if wire is not None and wire.status is not None:
            return wire.status_line
        return self.t("obs.accepted")

    def _values(self, label: str) -> dict[str, Any]:
        return {
            "transport": label,
            "play_s": self.timings.play_s,
            "pause_s": self.timings.pause_s,
            "resume_s": self.timings.resume_s,
        }

    def _unrun(self, key: str, outcome: PlaybackOutcome, label: str) -> None:
        self.book.not_run(
            key, outcome.aborted or self.t("obs.earlier_step_failed"), **self._values(label)
        )

    def judge(
        self,
        outcome: PlaybackOutcome,
        label: str,
        wire: dict[str, WireExchange] | None = None,
    ) -> list[NumberedFrame]:
        """Add the tests; return the numbered frames (for screenshots).

        ``wire`` holds the captured exchange of each step: its status line is reported,
        its text is the evidence, and a non-2xx status on the wire fails the step."""
        self._wire = wire or {}
        frames = number_frames(outcome.frames)
        checks = [
            ("OPTIONS", "options", self._options),
            ("DESCRIBE", "describe", self._describe),
            ("SETUP", "setup", self._setup),
            ("PLAY", "play", self._play),
            ("PAUSE", "pause", self._pause),
            ("RESUME", "resume", self._resume),
            ("TEARDOWN", "teardown", self._teardown),
        ]
        for step, key, check in checks:
            reply = outcome.reply(step)
            if reply is None:
                self._unrun(key, outcome, label)
                continue
            passed, observed, evidence = check(reply, outcome, frames)
            captured = self._wire.get(step)
            if captured is not None:
                passed = passed and captured.status is not None and is_success(captured.status)
                evidence = [captured.evidence()]  # the wire says all the client saw, and more
            self.book.add(key, passed, observed, evidence, **self._values(label))
        return frames

    def _options(self, reply, outcome, frames):
        public = [m.strip().upper() for m in outcome.public]
        absent = [m for m in REQUIRED_METHODS if m not in public]
        passed = reply.ok and not absent
        observed = self._status_text(reply)
        if reply.ok:
            observed += "; Public: " + (", ".join(public) or "–")
            if absent:
                observed += "; " + self.t("obs.methods_missing", methods=", ".join(absent))
        return passed, observed, [reply.evidence()]

    def _describe(self, reply, outcome, frames):
        observed = self._status_text(reply)
        passed = False
        if reply.ok:
            try:
                sdp = SessionDescription.parse(outcome.sdp_text)
            except ParseError as exc:
                observed += "; " + self.t("obs.sdp_invalid", error=exc)
            else:
                passed = (
                    sdp.encoding.upper() == JPEG_ENCODING and sdp.clock_rate == VIDEO_CLOCK_RATE
                )
                observed += f"; SDP: {sdp.encoding}/{sdp.clock_rate}, PT {sdp.payload_type}"
                if sdp.width and sdp.height:
                    observed += f", {sdp.width}x{sdp.height}"
        return passed, observed, [reply.evidence()]

    def _setup(self, reply, outcome, frames):
        observed = self._status_text(reply)
        passed = False
        if reply.ok:
            session = outcome.session_id
            transport = outcome.transport_reply
            if transport is not None:
                wanted_tcp = outcome.transport == "tcp"
                has_ports = transport.interleaved if wanted_tcp else transport.server_port
                passed = bool(session) and transport.is_tcp == wanted_tcp and bool(has_ports)
            observed += f"; Session: {session or '–'}; Transport: {transport or '–'}"
        return passed, observed, [reply.evidence()]

    def _frames_text(self, run: Run) -> str:
        return frames_text(self.book.catalog, run)

    def _play(self, reply, outcome, frames):
        first, _ = split_at_resume(frames, outcome)
        run = describe_run([f for f in first if f.frame.arrival >= reply.sent_at])
        nominal = self.fps * self.timings.play_s
        passed = (
            reply.ok
            and run.consecutive
            and run.first == 0
            and run.count >= MIN_FRAME_SHARE * nominal
        )
        observed = self._status_text(reply)
        if reply.ok:
            observed += "; " + self._frames_text(run)
            observed += "; " + self.t("obs.nominal", nominal=round(nominal))
        return passed, observed, [reply.evidence()]

    def _pause(self, reply, outcome, frames):
        resume = outcome.reply("RESUME")
        quiet_end = (
            resume.sent_at if resume is not None else reply.replied_at + self.timings.pause_s
        )
        late = _between(frames, reply.replied_at + PAUSE_GRACE_S, quiet_end)
        passed = reply.ok and not late
        observed = self._status_text(reply)
        if reply.ok:
            observed += "; " + self.t(
                "obs.during_pause", count=len(late), grace_ms=round(PAUSE_GRACE_S * 1000)
            )
        return passed, observed, [reply.evidence()]

    def _resume(self, reply, outcome, frames):
        first, second = split_at_resume(frames, outcome)
        before = [f for f in first if f.number is not None]
        after = describe_run(second)
        last_before = before[-1].number if before else None
        whole = describe_run(frames)
        passed = (
            reply.ok
            and last_before is not None
            and after.first == last_before + 1
            and after.consecutive
            and whole.consecutive
        )
        observed = self._status_text(reply)
        if reply.ok:
            observed += "; " + self.t("obs.resume", before=_n(last_before), after=_n(after.first))
            observed += "; " + self._frames_text(after)
            observed += "; " + self.t("obs.whole", missing=whole.missing, repeated=whole.repeated)
        return passed, observed, [reply.evidence()]

    def _teardown(self, reply, outcome, frames):
        return reply.ok, self._status_text(reply), [reply.evidence()]


def frames_text(catalog: Catalog, run: Run) -> str:
    """What a run of received frames shows, in the report's language."""
    return catalog.t(
        "obs.frames",
        count=run.count,
        first=_n(run.first),
        last=_n(run.last),
        missing=run.missing,
        repeated=run.repeated,
        unreadable=run.unreadable,
    )


def _n(value: int | None) -> str:
    return "–" if value is None else str(value)


def judge_negative(book: TestBook, outcomes: list[NegativeOutcome]) -> None:
    """One test per refused request: the status must be the one RFC 2326 names."""
    keys = {
        NegativeCase.PLAY_BEFORE_SETUP: "neg_play_before_setup",
        NegativeCase.WRONG_SESSION: "neg_wrong_session",
        NegativeCase.MISSING_FILE: "neg_missing_file",
        NegativeCase.UNKNOWN_METHOD: "neg_unknown_method",
    }
    for outcome in outcomes:
        decisive = outcome.decisive
        if outcome.error is not None:
            observed = book.catalog.t("obs.error", error=outcome.error)
        elif decisive is not None:
            observed = f"{decisive.response.status} {decisive.response.reason}"
        else:
            observed = "–"
        book.add(
            keys[outcome.case],
            outcome.passed,
            observed,
            outcome.evidence(),
            status=" / ".join(map(str, outcome.case.expected_statuses)),
        )


def judge_lab(
    book: TestBook,
    outcome: PlaybackOutcome,
    seconds: float,
    wire: dict[str, WireExchange] | None = None,
) -> list[NumberedFrame]:
    """The lab-dialect session: every request accepted and frames in order."""
    wire = wire or {}
    frames = number_frames(outcome.frames)
    run = describe_run(frames)
    steps = [outcome.reply(step) for step in ("SETUP", "PLAY", "TEARDOWN")]
    all_ok = all(reply is not None and reply.ok for reply in steps)

    def said(reply: StepReply) -> str:
        if not reply.ok:
            return book.catalog.t("obs.error", error=reply.error)
        captured = wire.get(reply.step)
        return captured.status_line if captured else book.catalog.t("obs.accepted")

    observed = "; ".join(f"{reply.step}: {said(reply)}" for reply in steps if reply is not None)
    if outcome.aborted and not steps[0]:
        observed = book.catalog.t("obs.error", error=outcome.aborted)
    observed += "; " + frames_text(book.catalog, run)
    wire_ok = all(w.status is not None and is_success(w.status) for w in wire.values())
    passed = all_ok and wire_ok and run.consecutive and run.first == 0
    evidence = [w.evidence() for w in wire.values()] or [
        r.evidence() for r in steps if r is not None
    ]
    book.add("lab", passed, observed, evidence, seconds=seconds)
    return frames


def _state_shown(status: str) -> PlayerState | None:
    """The state a player's status bar names first, or None."""
    head = status.split(STATUS_SEPARATOR)[0]
    return next((state for state in PlayerState if head.startswith(state.value)), None)


def judge_player(book: TestBook, run: PlayerRun) -> list[PlayerScreenshot]:
    """The Tk player's test: each button led to its state, frames showed while playing.

    Returns the screenshots for the report; a run without a display is not run, and
    fails nothing (Xvfb, like tshark, is an optional tool)."""
    t = book.catalog.t
    if run.unavailable:
        book.not_run("player", t("obs.no_display"), optional=True)
        return []
    wanted = {
        "setup": PlayerState.READY,
        "playing": PlayerState.PLAYING,
        "paused": PlayerState.PAUSED,
        "torn_down": PlayerState.TORN_DOWN,
    }
    parts = []
    right = 0
    for shot in run.shots:
        state = _state_shown(shot.status)
        right += state is wanted.get(shot.step)
        shown = t(f"player.state.{state.name.lower()}") if state else shot.status
        if shot.frame is not None:
            shown += ", " + t("player.frame", frame=shot.frame)
        parts.append(f"{t(f'player.{shot.step}')}: {shown}")
    playing = next((s for s in run.shots if s.step == "playing"), None)
    passed = (
        run.complete and right == len(wanted) and playing is not None and playing.frame is not None
    )
    observed = "; ".join(parts)
    if run.error:
        observed += ("; " if observed else "") + t("obs.error", error=run.error)
    book.add("player", passed, observed)
    return [
        PlayerScreenshot(t(f"player.{shot.step}"), shot.image, shot.status, shot.frame)
        for shot in run.shots
    ]
