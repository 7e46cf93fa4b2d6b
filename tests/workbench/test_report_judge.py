"""The scenario's judge: recorded outcomes in, numbered functional tests out.

Outcomes are built by hand here, so each failure the demo must report can be shown:
a gap across the pause, frames during the pause, a refused SETUP, a wrong status.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from rtsp_common.headers import Headers, Transport
from rtsp_common.rtsp import Request, Response
from rtsp_common.sdp import SessionDescription
from workbench.demo.judge import (
    PlaybackJudge,
    describe_run,
    judge_lab,
    judge_negative,
    number_frames,
)
from workbench.demo.negative import NegativeCase, NegativeOutcome
from workbench.demo.playback import PlaybackOutcome, StepReply, Timings
from workbench.rawrtsp import RawExchange
from workbench.report.functional import TestBook
from workbench.report.i18n import Catalog
from workbench.report.model import Outcome
from workbench.report.screenshots import ReceivedFrame
from workbench.sample import render_frame

FPS = 10.0
TIMINGS = Timings(play_s=1.0, pause_s=0.5, resume_s=1.0)
SIZE = (128, 96)


@pytest.fixture(scope="module")
def jpegs() -> dict[int, bytes]:
    frames = {}
    for n in range(40):
        buffer = io.BytesIO()
        render_frame(n, SIZE, FPS).save(buffer, format="JPEG", quality=85)
        frames[n] = buffer.getvalue()
    return frames


def _outcome(jpegs, numbers_before, numbers_after, transport="udp", during_pause=()):
    """A session that played ``numbers_before``, paused, then played ``numbers_after``."""
    t0 = 1000.0
    replies = {}
    at = t0
    for step in ("OPTIONS", "DESCRIBE", "SETUP"):
        replies[step] = StepReply(step, True, sent_at=at, replied_at=at + 0.001)
        at += 0.01
    replies["PLAY"] = StepReply("PLAY", True, sent_at=at, replied_at=at + 0.001)
    frames = []
    for i, n in enumerate(numbers_before):
        frames.append(ReceivedFrame(jpegs[n], at + 0.01 + i / FPS, len(frames)))
    pause_at = at + TIMINGS.play_s
    replies["PAUSE"] = StepReply("PAUSE", True, sent_at=pause_at, replied_at=pause_at + 0.001)
    for n in during_pause:
        frames.append(ReceivedFrame(jpegs[n], pause_at + 0.4, len(frames)))
    resume_at = pause_at + TIMINGS.pause_s
    replies["RESUME"] = StepReply("RESUME", True, sent_at=resume_at, replied_at=resume_at + 0.001)
    for i, n in enumerate(numbers_after):
        frames.append(ReceivedFrame(jpegs[n], resume_at + 0.01 + i / FPS, len(frames)))
    end = resume_at + TIMINGS.resume_s
    replies["TEARDOWN"] = StepReply("TEARDOWN", True, sent_at=end, replied_at=end + 0.001)
    sdp = SessionDescription(width=SIZE[0], height=SIZE[1]).to_text()
    tcp = transport == "tcp"
    return PlaybackOutcome(
        "rtsp://127.0.0.1:1/clip.Mjpeg",
        transport,
        replies,
        frames,
        public=["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN"],
        sdp_text=sdp,
        session_id="1234567890123456",
        transport_reply=Transport("RTP/AVP/TCP", interleaved=(0, 1))
        if tcp
        else Transport("RTP/AVP", client_port=(5000, 5001), server_port=(6000, 6001)),
    )


def _judge(outcome, label="UDP"):
    book = TestBook(Catalog.load("en"))
    PlaybackJudge(book, FPS, TIMINGS).judge(outcome, label)
    return {
        t.title.split(": ", 1)[1].split(" ")[0] + ("+" if "resume" in t.title else ""): t
        for t in book.tests
    }


def test_a_clean_session_passes_every_step(jpegs):
    tests = _judge(_outcome(jpegs, range(0, 10), range(10, 20)))
    assert [t.number for t in tests.values()] == list(range(1, 8))
    assert all(t.outcome is Outcome.PASSED for t in tests.values()), [
        (t.title, t.observed) for t in tests.values() if not t.passed
    ]
    assert "numbers 0 to 9" in tests["PLAY"].observed
    assert "last frame before the pause 9, first after it 10" in tests["PLAY+"].observed


def test_tcp_needs_interleaved_channels(jpegs):
    outcome = _outcome(jpegs, range(0, 10), range(10, 20), transport="tcp")
    assert _judge(outcome, "TCP")["SETUP"].passed
    outcome.transport_reply = Transport("RTP/AVP", client_port=(5000, 5001))
    assert not _judge(outcome, "TCP")["SETUP"].passed


def test_a_frame_lost_across_the_pause_fails_the_resume(jpegs):
    tests = _judge(_outcome(jpegs, range(0, 10), range(11, 20)))
    assert tests["PLAY"].passed
    assert tests["PLAY+"].outcome is Outcome.FAILED
    assert "first after it 11" in tests["PLAY+"].observed


def test_a_repeated_frame_after_resume_fails(jpegs):
    tests = _judge(_outcome(jpegs, range(0, 10), range(9, 19)))
    assert not tests["PLAY+"].passed
    assert "1 repeated" in tests["PLAY+"].observed


def test_frames_while_paused_fail_the_pause(jpegs):
    tests = _judge(_outcome(jpegs, range(0, 10), range(12, 20), during_pause=(10, 11)))
    assert tests["PAUSE"].outcome is Outcome.FAILED
    assert "2 frames arrived while paused" in tests["PAUSE"].observed


def test_play_must_start_at_frame_zero_and_deliver_enough_frames(jpegs):
    assert not _judge(_outcome(jpegs, range(3, 13), range(13, 23)))["PLAY"].passed
    assert not _judge(_outcome(jpegs, range(0, 2), range(2, 12)))["PLAY"].passed  # 2 of ~10


def test_a_refused_setup_leaves_the_rest_not_run(jpegs):
    outcome = _outcome(jpegs, [], [])
    for step in ("PLAY", "PAUSE", "RESUME", "TEARDOWN"):
        del outcome.replies[step]
    outcome.replies["SETUP"] = StepReply(
        "SETUP", False, error="SETUP failed: 461 Unsupported transport", status=461
    )
    outcome.aborted = "SETUP: SETUP failed: 461 Unsupported transport"
    tests = _judge(outcome)
    assert tests["SETUP"].outcome is Outcome.FAILED and "461" in tests["SETUP"].observed
    for step in ("PLAY", "PAUSE", "TEARDOWN"):
        assert tests[step].outcome is Outcome.NOT_RUN
        assert "461" in tests[step].observed


def test_options_without_pause_in_public_fails(jpegs):
    outcome = _outcome(jpegs, range(0, 10), range(10, 20))
    outcome.public = ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN"]
    options = _judge(outcome)["OPTIONS"]
    assert not options.passed and "PAUSE" in options.observed


def test_unreadable_frames_are_counted_not_guessed(jpegs):
    blank = io.BytesIO()
    Image.new("RGB", SIZE, "gray").save(blank, format="JPEG")
    frames = [
        ReceivedFrame(jpegs[0], 1.0, 0),
        ReceivedFrame(blank.getvalue(), 1.1, 1),
        ReceivedFrame(jpegs[2], 1.2, 2),
    ]
    run = describe_run(number_frames(frames))
    assert (run.count, run.unreadable, run.missing, run.consecutive) == (3, 1, 1, False)


def _exchange(status: int, method="PLAY") -> RawExchange:
    request = Request(method, "rtsp://127.0.0.1:1/clip.Mjpeg", Headers([("CSeq", "1")]))
    return RawExchange(request, Response.make(status, 1))


def test_negative_cases_pass_only_on_their_status():
    book = TestBook(Catalog.load("en"))
    judge_negative(
        book,
        [
            NegativeOutcome(NegativeCase.PLAY_BEFORE_SETUP, [_exchange(455)]),
            NegativeOutcome(NegativeCase.WRONG_SESSION, [_exchange(200, "SETUP"), _exchange(200)]),
            NegativeOutcome(NegativeCase.MISSING_FILE, [_exchange(404, "DESCRIBE")]),
            NegativeOutcome(NegativeCase.UNKNOWN_METHOD, error="RawRTSPError: no reply"),
        ],
    )
    assert [t.outcome for t in book.tests] == [
        Outcome.PASSED,
        Outcome.FAILED,
        Outcome.PASSED,
        Outcome.FAILED,
    ]
    assert book.tests[1].observed == "200 OK"
    assert "no reply" in book.tests[3].observed
    assert "454" in book.tests[1].expected and "501" in book.tests[3].expected


def test_play_before_setup_wants_455_from_our_server():
    # RFC 2326 Appendix A.2: PLAY in Init is 455; a 454 names only the missing id.
    assert NegativeOutcome(NegativeCase.PLAY_BEFORE_SETUP, [_exchange(455)]).passed
    assert not NegativeOutcome(NegativeCase.PLAY_BEFORE_SETUP, [_exchange(454)]).passed


def test_lab_session_judged_on_replies_and_frames(jpegs):
    book = TestBook(Catalog.load("pt"))
    replies = {s: StepReply(s, True) for s in ("SETUP", "PLAY", "TEARDOWN")}
    good = PlaybackOutcome(
        "x", "udp", dict(replies), [ReceivedFrame(jpegs[n], 1 + n / 10, n) for n in range(8)]
    )
    judge_lab(book, good, 1.0)
    replies["PLAY"] = StepReply("PLAY", False, error="PLAY: no reply")
    judge_lab(book, PlaybackOutcome("x", "udp", replies, []), 1.0)
    assert [t.outcome for t in book.tests] == [Outcome.PASSED, Outcome.FAILED]
    assert book.tests[0].title == "O dialeto do laboratório: SETUP, PLAY e TEARDOWN"


def test_the_captured_reply_is_the_evidence_and_must_be_2xx(jpegs):
    from workbench.demo.wire import WireExchange

    outcome = _outcome(jpegs, range(0, 10), range(10, 20))
    ok = WireExchange(
        "OPTIONS", "OPTIONS * RTSP/1.0\nCSeq: 1\n", "RTSP/1.0 200 OK\nCSeq: 1\n", 200, "OK"
    )
    odd = WireExchange(
        "PAUSE", "PAUSE x RTSP/1.0\nCSeq: 5\n", "RTSP/1.0 299 Odd\nCSeq: 5\n", 299, "Odd"
    )
    bad = WireExchange(
        "TEARDOWN",
        "TEARDOWN x RTSP/1.0\nCSeq: 7\n",
        "RTSP/1.0 500 Internal Server Error\nCSeq: 7\n",
        500,
        "Internal Server Error",
    )
    book = TestBook(Catalog.load("en"))
    PlaybackJudge(book, FPS, TIMINGS).judge(
        outcome, "UDP", {"OPTIONS": ok, "PAUSE": odd, "TEARDOWN": bad}
    )
    tests = {t.title.split(": ", 1)[1].split(" ")[0]: t for t in book.tests}
    assert tests["OPTIONS"].passed and tests["OPTIONS"].observed.startswith("200 OK")
    assert tests["OPTIONS"].evidence == [ok.evidence()]
    assert tests["PAUSE"].passed and tests["PAUSE"].observed.startswith("299 Odd")
    assert (
        not tests["TEARDOWN"].passed and tests["TEARDOWN"].observed == "500 Internal Server Error"
    )
    assert tests["DESCRIBE"].observed.startswith("accepted (2xx)")  # nothing captured for it


def test_a_frame_in_flight_at_pause_counts_in_the_play_test_and_the_screenshots(jpegs):
    """Frame 10 arrives just after PAUSE went out: every part of the report calls it the
    last frame before the pause (the PLAY test, the resume test and the screenshots)."""
    from workbench.demo.judge import number_frames, split_at_resume
    from workbench.demo.scenario import _screenshot_picks

    outcome = _outcome(jpegs, range(0, 10), range(11, 20))
    pause = outcome.reply("PAUSE")
    outcome.frames.insert(10, ReceivedFrame(jpegs[10], pause.sent_at + 0.02, 10))
    tests = _judge(outcome)
    assert tests["PLAY"].passed and tests["PAUSE"].passed and tests["PLAY+"].passed
    assert "numbers 0 to 10" in tests["PLAY"].observed
    assert "last frame before the pause 10, first after it 11" in tests["PLAY+"].observed
    frames = number_frames(outcome.frames)
    before, after = split_at_resume(frames, outcome)
    assert (before[-1].number, after[0].number) == (10, 11)
    picks = dict(_screenshot_picks("UDP", outcome, frames, Catalog.load("en")))
    assert picks["UDP: last frame before PAUSE"].jpeg == jpegs[10]
    assert picks["UDP: first frame after resuming"].jpeg == jpegs[11]
