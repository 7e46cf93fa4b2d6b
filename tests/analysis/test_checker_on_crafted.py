"""The checker on captures written by analysis.craft.session_builder.SessionBuilder (Scapy): two
independent writings of the same protocols must agree — clean sessions give no failure,
each crafted defect is named by its rule."""

from __future__ import annotations

import pytest

from analysis.check import check_capture
from analysis.craft.session_builder import Lower, SessionBuilder
from analysis.payloads.frames import PayloadFormat
from analysis.rules import Severity


def failures(result) -> list[tuple[str, str]]:
    return [(r.rule.id, r.evidence) for r in result.failures(Severity.WARNING)]


def session(lower: Lower = Lower.UDP, frames: int = 35, **frame_kwargs) -> SessionBuilder:
    b = SessionBuilder(lower=lower)
    b.start()
    b.sender_report()
    b.frames(frames, **frame_kwargs)
    b.sender_report()
    b.teardown()
    b.close()
    return b


@pytest.mark.parametrize("lower", [Lower.UDP, Lower.TCP])
def test_clean_crafted_sessions_pass(tmp_path, lower):
    result = check_capture(session(lower).write(tmp_path / "clean.pcap"))
    assert failures(result) == []
    (rtsp,) = result.sessions
    (stream,) = rtsp.streams
    assert stream.stats.frames == 35 and stream.stats.complete_frames == 35
    assert stream.transport == ("tcp" if lower is Lower.TCP else "udp")
    checked = ["JPEG-DEC-1", "RTSP-INFO-1", "RTCP-SR-1"]
    if lower is Lower.UDP:
        checked.append("RTP-SSRC-2")  # the UDP Transport reply announces the SSRC
    for rule_id in checked:
        assert result.result(rule_id).outcome.value == "passed", rule_id


def test_restart_markers_are_read(tmp_path):
    result = check_capture(session(restart_blocks=2).write(tmp_path / "rst.pcap"))
    assert failures(result) == []
    (stream,) = result.streams
    assert 64 <= stream.frames[0].jpeg_type <= 127 and stream.frames[0].dri > 0
    assert result.result("JPEG-DEC-1").outcome.value == "passed"


def test_in_band_tables_left_out_are_named(tmp_path):
    b = SessionBuilder()
    b.start()
    b.frames(10)
    b.frame(index=3, include_qtable=False)
    b.frames(10)
    b.teardown()
    result = check_capture(b.write(tmp_path / "noqt.pcap"))
    errors = {r.rule.id for r in result.failures()}
    assert errors == {"JPEG-QT-1"}


def test_loss_duplicate_and_reorder_through_builder_edits(tmp_path):
    b = SessionBuilder()
    b.start()
    frames = b.frames(20)
    b.teardown()
    b.drop(frames[5][0])
    b.duplicate(frames[8][-1])
    b.swap(frames[12][0], frames[13][0])  # one packet per frame at this size
    result = check_capture(b.write(tmp_path / "edits.pcap"))
    (stream,) = result.streams
    assert (stream.stats.missing, stream.stats.duplicates, stream.stats.reorders) == (1, 1, 1)
    assert {r.rule.id for r in result.failures()} == {"RTP-SEQ-1", "RTP-SEQ-2"}
    assert result.result("RTP-SEQ-3").failed


def test_lab_frames_from_the_builder(tmp_path):
    b = SessionBuilder()
    b.start()
    b.lab_frames(12)
    b.teardown()
    result = check_capture(b.write(tmp_path / "lab.pcap"))
    (stream,) = result.streams
    assert stream.format is PayloadFormat.WHOLE_JPEG and stream.ssrc == 0
    assert {"LAB-FMT-1", "LAB-SSRC-1", "LAB-MARK-1"} <= {
        r.rule.id for r in result.rules if r.failed
    }
