"""Trust in the checker: each crafted defect is named by its rule and by no other error
rule; the clean crafted session gives no failure at all."""

from __future__ import annotations

import pytest
from analysis_corpus import DEFECTS, clean_session, write_defect
from test_audio_rules import CRAFTED_RULES as AUDIO_CRAFTED
from test_h26x_crafted import CRAFTED_RULES as H26X_CRAFTED

from analysis.check import check_capture
from analysis.rules import Outcome, Severity, registered_rules


def errors(result) -> set[str]:
    return {r.rule.id for r in result.failures(Severity.ERROR)}


def test_clean_crafted_session_passes_every_rule(tmp_path):
    result = check_capture(clean_session().write(tmp_path / "clean.pcap"))
    assert result.error is None
    assert [r.rule.id for r in result.rules if r.failed] == []
    applicable = {r.rule.id for r in result.rules if r.outcome is Outcome.PASSED}
    # The clean session exercises the RTP, RFC 2435, RTCP and RTSP rules, not just a few.
    assert {"RTP-SEQ-1", "JPEG-DEC-1", "RTCP-SR-2", "RTSP-INFO-1", "RTSP-PLAY-1"} <= applicable
    (stream,) = result.streams
    assert stream.stats.packets == stream.stats.expected and stream.stats.frames == 45
    assert stream.session_id == "5EC0A1B2"


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_each_defect_is_named_by_its_rule_and_no_other_error_rule(tmp_path, name):
    rule_id = DEFECTS[name][1]
    result = check_capture(write_defect(name, tmp_path))
    named = result.result(rule_id)
    assert named.failed, f"{rule_id} missed {name}: {named.evidence}"
    assert named.count >= 1 and named.packets and named.evidence
    assert errors(result) - {rule_id} == set(), [
        (r.rule.id, r.evidence) for r in result.failures() if r.rule.id != rule_id
    ]


def test_every_rule_has_id_source_severity_and_title():
    ids = [r.id for r in registered_rules()]
    assert len(ids) == len(set(ids)) >= 40
    for r in registered_rules():
        assert r.rfc.startswith("RFC") and r.section and r.title
        assert isinstance(r.severity, Severity)


def test_every_rule_says_when_it_cannot_judge():
    """Its docstring names what it judges and when it answers "not applicable"."""
    for r in registered_rules():
        doc = " ".join((r.check.__doc__ or "").split())
        assert "not applicable" in doc.lower(), r.id


def test_gap_reports_the_packet_after_the_loss(tmp_path):
    session = clean_session()
    dropped = session.frame_packets(10)[1]
    after = session.rtp[session.rtp.index(dropped) + 1]
    DEFECTS["gap"][0](session)
    result = check_capture(session.write(tmp_path / "gap.pcap"))
    seq = result.result("RTP-SEQ-1")
    (stream,) = result.streams
    assert stream.stats.lost == 1 and stream.stats.missing == 1
    pktno = next(p[0] for p in stream.packets if p[2] == after.seq)
    assert seq.packets == [pktno]
    assert stream.stats.complete_frames == stream.stats.frames - 1


def test_duplicate_and_reorder_counts(tmp_path):
    result = check_capture(write_defect("duplicate", tmp_path))
    (stream,) = result.streams
    assert stream.stats.duplicates == 1 and stream.stats.a3_lost == -1  # RFC 3550 A.3
    assert stream.stats.lost == 0  # what the user is told: nothing lost, never "-1 lost"
    result = check_capture(write_defect("reorder", tmp_path))
    (stream,) = result.streams
    assert stream.stats.reorders == 1 and stream.stats.missing == 0
    assert stream.stats.complete_frames == stream.stats.frames  # reassembled in sequence order


def lab_server_habits(s):
    """Everything the lab's server does at once: whole JPEGs, wall-clock seconds, SSRC 0,
    no marker."""
    DEFECTS["the lab's format"][0](s)
    for k, p in enumerate(s.rtp):
        p.ssrc, p.marker, p.ts = 0, False, 1_700_000_000 + k // 20


def test_lab_habits_are_each_named(tmp_path):
    session = clean_session()
    lab_server_habits(session)
    result = check_capture(session.write(tmp_path / "lab.pcap"))
    failed = {r.rule.id for r in result.rules if r.failed}
    assert {"LAB-FMT-1", "LAB-TS-1", "LAB-SSRC-1", "LAB-MARK-1"} <= failed
    assert "wall-clock" in result.result("LAB-TS-1").evidence
    (stream,) = result.streams
    assert len(stream.frames) == 45 and all(f.jpeg().startswith(b"\xff\xd8") for f in stream.frames)


def test_every_rule_is_shown_failing_by_a_crafted_capture():
    targets = {rule_id for _, rule_id in DEFECTS.values()}
    targets |= {"LAB-TS-1", "LAB-SSRC-1", "LAB-MARK-1"}  # test_lab_habits_are_each_named
    targets |= H26X_CRAFTED | AUDIO_CRAFTED  # test_h26x_crafted.py, test_audio_rules.py
    assert {r.id for r in registered_rules()} - targets == set()


def test_rtp_info_ssrc_is_checked(tmp_path):
    session = clean_session()
    play_reply = next(m for m in session.messages if b"RTP-Info" in m.data)
    play_reply.data = play_reply.data.replace(b";rtptime=", b";ssrc=0BADF00D;rtptime=")
    result = check_capture(session.write(tmp_path / "info-ssrc.pcap"))
    assert {r.rule.id for r in result.failures()} == {"RTP-SSRC-2"}
    assert "0x0badf00d" in result.result("RTP-SSRC-2").evidence
