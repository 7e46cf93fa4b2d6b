"""A rule that fires on every packet of a long capture keeps an exact count, exact owners
and expected counts, and only its first offences (with their packet numbers) in memory,
in JSON and on the annotated copy."""

from __future__ import annotations

from analysis_corpus import clean_session

from analysis.check import check_capture
from analysis.expected import Expectation
from analysis.finding_comments import finding_comments
from analysis.rules import Context, Outcome, Severity
from analysis.rules.registry import MAX_OFFENCES_LISTED, Finding, Rule, run_rules

OFFENCES = 3 * MAX_OFFENCES_LISTED + 7


def _every_packet_rule(ctx: Context) -> Finding:
    """Fires OFFENCES times, cycling over the capture's RTP packets."""
    pktnos = [int(p) for s in ctx.capture.streams for p in s.pktno]
    offences = [(pktnos[i % len(pktnos)], f"offence {i}") for i in range(OFFENCES)]
    return Finding(Outcome.FAILED, len(offences), [p for p, _ in offences[:10]], "", offences)


RULE = Rule("TEST-EVERY-1", "RFC 3550", "5.1", Severity.ERROR, "test", _every_packet_rule)


def test_every_packet_offences_are_counted_exactly_and_the_first_kept(tmp_path):
    session = clean_session()
    capture = session.write(tmp_path / "clean.pcap")
    checked = check_capture(capture)
    context = Context(checked.traffic, checked.capture)
    (result,) = run_rules([RULE], context)
    assert result.failed and result.count == OFFENCES
    assert len(result.offences) == MAX_OFFENCES_LISTED
    assert [o.text for o in result.offences[:2]] == ["offence 0", "offence 1"]
    assert sum(result.by_owner().values()) == OFFENCES
    assert result.by_owner() == {f"session {session.session_id}": OFFENCES}
    data = result.to_dict()
    assert data["count"] == OFFENCES and len(data["offences"]) == MAX_OFFENCES_LISTED
    checked.rules = [result]
    comments = finding_comments(checked)
    commented = sum(1 for texts in comments.values() for t in texts if t.startswith(RULE.id))
    assert commented == MAX_OFFENCES_LISTED  # the kept ones, each on its packet


def test_expected_offences_are_counted_all_when_only_the_first_are_kept(tmp_path):
    session = clean_session()
    checked = check_capture(session.write(tmp_path / "clean.pcap"))
    expectation = Expectation("the test says so", session=session.session_id)
    context = Context(checked.traffic, checked.capture, expectations=[expectation])
    (result,) = run_rules([RULE], context)
    assert result.outcome is Outcome.EXPECTED
    assert result.expected_count == OFFENCES
    assert result.reasons == ["the test says so"]
