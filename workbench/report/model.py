"""The report's values: functional tests, screenshots, plots, statistics, conformance, ladder.

Text in these values is already in the report's language; the renderer only adds the
surrounding headings from the message catalog.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

MAX_EVIDENCE = 8  # packet numbers named in a conformance row


class Outcome(enum.Enum):
    """What happened to one functional test."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not_run"


@dataclass
class FunctionalTest:
    """One numbered functional test: what was done, expected, observed, and the evidence."""

    number: int
    title: str
    done: str
    expected: str
    observed: str
    outcome: Outcome
    evidence: list[str] = field(default_factory=list)
    # Not run for want of an optional tool (tshark): reported, but it fails nothing.
    optional: bool = False

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    @property
    def counts_against(self) -> bool:
        """True when this test keeps the report from passing."""
        return not self.passed and not (self.optional and self.outcome is Outcome.NOT_RUN)


@dataclass
class Screenshot:
    """A received frame beside the source frame with the same number (PNG files in the report)."""

    label: str
    received_image: str  # file name relative to the report folder
    source_image: str | None
    received_frame_number: int | None
    source_frame_number: int | None

    @property
    def matches(self) -> bool:
        return (
            self.received_frame_number is not None
            and self.received_frame_number == self.source_frame_number
        )


@dataclass
class PlayerScreenshot:
    """The Tk player's window at one step of its session (a PNG in the report folder)."""

    label: str
    image: str
    status: str  # what the window's status bar said
    frame: int | None  # the frame on screen


@dataclass
class Plot:
    """A figure written beside the report."""

    title: str
    image: str  # file name relative to the report folder
    caption: str = ""


@dataclass
class StatRow:
    """One stream's receive statistics (RFC 3550 A.3 loss, A.8 jitter)."""

    stream: str
    packets: int
    lost: int
    loss_percent: float
    jitter_ms: float | None
    bitrate_kbps: float | None
    fps: float | None  # frames per second of the time the stream was playing
    frames: int | None = None
    duration_s: float = 0.0  # first to last frame
    paused_s: float = 0.0  # of which paused (PAUSE to the next PLAY)
    overall_fps: float | None = None  # frames per second of the whole duration


@dataclass
class ConformanceRow:
    """One conformance rule's verdict with the RFC section it comes from."""

    rule_id: str
    rfc: str
    severity: str
    title: str
    passed: bool | None  # None: the rule did not apply to this capture
    count: int = 0
    evidence: str = ""  # the checker's words, then the first packets' numbers
    packets: list[int] = field(default_factory=list)  # Wireshark numbers of the first offences
    expected: str = ""  # why its findings were expected, when they all were

    @property
    def verdict(self) -> str:
        """ "passed", "failed", "expected" (findings only where expected) or "na"."""
        if self.passed is None:
            return "na"
        if self.expected:
            return "expected"
        return "passed" if self.passed else "failed"


@dataclass
class LadderMessage:
    """One RTSP message on the ladder diagram."""

    from_client: bool
    first_line: str
    text: str
    time: float | None = None  # seconds since the start of the capture
    status: int | None = None  # responses only


@dataclass
class LadderSession:
    """The RTSP messages of one TCP connection, in order."""

    title: str
    messages: list[LadderMessage] = field(default_factory=list)
    # A long connection (hours of keep-alives) is drawn by its head and its tail: this many
    # messages between them are left out, after the first ``left_out_after`` drawn.
    left_out: int = 0
    left_out_after: int = 0


@dataclass
class StreamSeries:
    """Per-packet and per-frame measurements of one RTP stream, for the plots.

    ``arrival`` is in seconds since the capture began; ``pauses`` are (start, end) times
    in the same clock during which the stream was paused. A long stream's per-packet lists
    are decimated (analysis.streams.decimate); ``interarrival_ms`` then holds, for each
    point after the first, the time since the packet just before it in the capture, which
    the decimated arrivals alone no longer give (empty: computed from ``arrival``).
    """

    label: str
    arrival: list[float] = field(default_factory=list)
    sequence: list[int] = field(default_factory=list)
    timestamp: list[int] = field(default_factory=list)
    jitter_ms: list[float] = field(default_factory=list)
    interarrival_ms: list[float] = field(default_factory=list)
    frame_arrival: list[float] = field(default_factory=list)
    frame_sizes: list[int] = field(default_factory=list)
    pauses: list[tuple[float, float]] = field(default_factory=list)
    clock_rate: int | None = None  # the media clock (Hz), None when unknown


@dataclass
class Report:
    """Everything the lab report shows."""

    title: str
    subject: str
    created: str
    functional_tests: list[FunctionalTest] = field(default_factory=list)
    screenshots: list[Screenshot] = field(default_factory=list)
    player_shots: list[PlayerScreenshot] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    stats: list[StatRow] = field(default_factory=list)
    conformance: list[ConformanceRow] = field(default_factory=list)
    ladder: list[LadderSession] = field(default_factory=list)
    ladder_left_out: int = 0  # RTSP connections of the capture not drawn on the ladder
    capture: Path | None = None
    wireshark_command: str | None = None
    annotated_capture: Path | None = None  # the capture with findings as packet comments
    annotated_wireshark_command: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when there is at least one test and every test passed, but for those not run
        for want of an optional tool."""
        return bool(self.functional_tests) and not any(
            t.counts_against for t in self.functional_tests
        )

    @property
    def counts(self) -> dict[Outcome, int]:
        result = {outcome: 0 for outcome in Outcome}
        for test in self.functional_tests:
            result[test.outcome] += 1
        return result

    def exit_code(self) -> int:
        """0 when every functional test passed, else 1."""
        return 0 if self.passed else 1
