"""The benchmark's capture (bench.check_capture) is what it claims: a clean capture whose
sessions repeat one clip, or whose every frame is distinct, as a camera's are."""

from __future__ import annotations

from analysis.check import check_capture
from analysis.rules.registry import Outcome
from bench.check_capture import DISTINCT_FRAMES, FPS, write_capture

SESSIONS = 2
SECONDS = 1.0


def _frame_keys(result) -> set:
    return {f.content_key() for s in result.streams for f in s.frames}


def test_repeated_frames_are_the_clip_s_eight(tmp_path):
    path = tmp_path / "repeated.pcap"
    write_capture(path, SESSIONS, SECONDS)
    result = check_capture(path)
    assert result.verdict() == "passed"
    assert len(_frame_keys(result)) == DISTINCT_FRAMES


def test_distinct_frames_all_differ_and_all_decode(tmp_path):
    path = tmp_path / "distinct.pcap"
    write_capture(path, SESSIONS, SECONDS, distinct=True)
    result = check_capture(path)
    frames = SESSIONS * round(SECONDS * FPS)
    assert result.verdict() == "passed"
    assert len(_frame_keys(result)) == frames
    decoded = result.result("JPEG-DEC-1")
    assert decoded.outcome is Outcome.PASSED
    assert decoded.evidence == f"{frames} frame(s) decode with Pillow"
