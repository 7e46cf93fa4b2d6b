"""The rule framework: severities, outcomes, findings, the rule decorator and registry,
and the helpers rules share to pick their streams and write their verdicts.

A rule is a function of the analysed capture returning a :class:`Finding`; the decorator
:func:`rule` records it in :data:`RULES`. Facts are gathered once by the readers
(``analysis.sessions``, ``analysis.payloads``, ...); rules only judge them. The rule modules
import this module and nothing imports them back but ``analysis.rules`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from analysis.expected import Expectation, expected_reason
from analysis.payloads.frames import PayloadFormat
from analysis.sessions.attribution import Attribution, Scope
from analysis.sessions.rebuild import CaptureSessions
from analysis.streams.rtp import CapturedStream
from analysis.wire.flows import Traffic

MAX_PACKETS_LISTED = 10  # first offending packet numbers kept per result
# Offences kept per rule (in JSON, on the annotated copy): a rule that fires on every
# packet of a capture of millions keeps these first ones; counts and owners stay exact.
MAX_OFFENCES_LISTED = 1000


class Severity(Enum):
    """How bad a failure is; ordered ERROR > WARNING > INFO."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """2 for an error, 1 for a warning, 0 for information: larger is worse."""
        return {"error": 2, "warning": 1, "info": 0}[self.value]


class Outcome(Enum):
    """A rule's verdict on one capture."""

    PASSED = "passed"
    FAILED = "failed"
    EXPECTED = "expected"  # offences only where an expectation said they would be
    NOT_APPLICABLE = "not applicable"


@dataclass
class Finding:
    """What a rule found: outcome, how many offences, the first packets, evidence, and
    every offence as (packet number, text) in packet order."""

    outcome: Outcome
    count: int = 0
    packets: list[int] = field(default_factory=list)
    evidence: str = ""
    offences: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Offence:
    """One offence: its packet, what is wrong, whose it is, and why it was expected (or
    None when it was not)."""

    pktno: int
    text: str
    scope: Scope
    expected: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready values."""
        return {
            "packet": self.pktno,
            "text": self.text,
            "session": self.scope.session,
            "flow": self.scope.flow,
            "expected": self.expected,
        }


@dataclass(frozen=True)
class Rule:
    """A conformance rule and where it comes from."""

    id: str
    rfc: str
    section: str
    severity: Severity
    title: str
    check: Callable[[Context], Finding]


@dataclass
class RuleResult:
    """A rule's verdict on one capture.

    ``count``, ``packets`` and ``evidence`` describe the unexpected offences when there
    are any, else the expected ones; ``offences`` holds the first MAX_OFFENCES_LISTED of
    them, attributed, and ``expected_count``, ``owners`` and ``reasons`` count them all."""

    rule: Rule
    outcome: Outcome
    count: int
    packets: list[int]
    evidence: str
    offences: list[Offence] = field(default_factory=list)
    expected_count: int = 0  # offences an expectation covers
    owners: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)  # why offences were expected

    @property
    def failed(self) -> bool:
        """True when the rule found offences that no expectation covers."""
        return self.outcome is Outcome.FAILED

    def by_owner(self) -> dict[str, int]:
        """Offence counts per session (or per flow, for offences outside any session)."""
        return dict(self.owners)

    def to_dict(self) -> dict:
        """The result and its rule's description, as JSON-ready values."""
        return {
            "id": self.rule.id,
            "rfc": self.rule.rfc,
            "section": self.rule.section,
            "severity": self.rule.severity.value,
            "title": self.rule.title,
            "outcome": self.outcome.value,
            "count": self.count,
            "packets": self.packets,
            "evidence": self.evidence,
            "expected": self.expected_count,
            "by_owner": self.by_owner(),
            "offences": [o.to_dict() for o in self.offences],
        }


@dataclass
class Context:
    """Everything rules may look at."""

    traffic: Traffic
    capture: CaptureSessions
    memo: dict = field(default_factory=dict)  # facts several rules derive alike, computed once
    expectations: list[Expectation] = field(default_factory=list)


RULES: list[Rule] = []


def rule(
    rule_id: str, rfc: str, section: str, severity: Severity, title: str
) -> Callable[[Callable[[Context], Finding]], Callable[[Context], Finding]]:
    """Register a rule function under its id."""

    def register(func: Callable[[Context], Finding]) -> Callable[[Context], Finding]:
        if any(r.id == rule_id for r in RULES):
            raise ValueError(f"rule {rule_id} registered twice")
        RULES.append(Rule(rule_id, rfc, section, severity, title, func))
        return func

    return register


def passed(evidence: str = "") -> Finding:
    """No offence; ``evidence`` says what was checked."""
    return Finding(Outcome.PASSED, evidence=evidence)


def not_applicable(why: str) -> Finding:
    """Nothing in the capture this rule can judge, and why."""
    return Finding(Outcome.NOT_APPLICABLE, evidence=why)


def media_streams(
    ctx: Context, payload_format: PayloadFormat | None = None
) -> list[CapturedStream]:
    """The RTP streams that hold at least one packet (of ``payload_format``, when given)."""
    return [
        s
        for s in ctx.capture.streams
        if len(s) and (payload_format is None or s.format is payload_format)
    ]


def payload_streams(
    ctx: Context, payload_format: PayloadFormat
) -> tuple[list[CapturedStream], Finding | None]:
    """Streams of ``payload_format`` whose payloads the capture holds whole, and the
    "not applicable" finding to return when there are none."""
    streams = media_streams(ctx, payload_format)
    whole = [s for s in streams if not s.payload_cut]
    if whole:
        return whole, None
    if streams:
        cut = sum(s.stats.cut_packets for s in streams)
        return [], not_applicable(f"payload cut by snap length ({cut} packets)")
    return [], not_applicable(f"no {payload_format.value} stream")


def clocked_streams(
    streams: Iterable[CapturedStream], what: str = "RTP stream"
) -> tuple[list[CapturedStream], Finding | None]:
    """The streams whose clock rate is known, and the "not applicable" finding to return
    when none is (with the first stream's reason)."""
    streams = list(streams)
    known = [s for s in streams if s.clock_rate]
    if known:
        return known, None
    if streams:
        return [], not_applicable(f"{streams[0].fmt.unknown_clock_reason}")
    return [], not_applicable(f"no {what}")


def unclocked_note(streams: Iterable[CapturedStream]) -> str:
    """``; not judged: SSRC ... (clock rate unknown ...)`` for streams whose clock is
    unknown, to end a passing evidence with; "" when there are none."""
    unknown = [s for s in streams if not s.clock_rate]
    if not unknown:
        return ""
    return "; not judged: " + ", ".join(
        f"SSRC {s.ssrc:#010x} ({s.fmt.unknown_clock_reason})" for s in unknown
    )


def verdict(offences: Iterable[tuple[int, str]], ok_evidence: str = "") -> Finding:
    """Failed with the offences' packet numbers and the first one's text, else passed."""
    items = sorted(offences, key=lambda o: o[0])
    if not items:
        return passed(ok_evidence)
    return Finding(Outcome.FAILED, offences=items)


def verdict_if_judged(
    judged: object, offences: Iterable[tuple[int, str]], ok_evidence: str, nothing_judged: str
) -> Finding:
    """The verdict on the offences, or not applicable (``nothing_judged`` says why) when
    nothing was judged (``judged`` a count or collection that is empty)."""
    if not judged:
        return not_applicable(nothing_judged)
    return verdict(offences, ok_evidence)


def _summarize(offences: list[Offence]) -> tuple[int, list[int], str]:
    """Count, first packet numbers and the first offence's text (with its owner)."""
    first = offences[0]
    more = f" (and {len(offences) - 1} more)" if len(offences) > 1 else ""
    where = f" [session {first.scope.session}]" if first.scope.session else ""
    return (
        len(offences),
        [o.pktno for o in offences[:MAX_PACKETS_LISTED]],
        f"packet {first.pktno}: {first.text}{where}{more}",
    )


def run_rules(rules: Iterable[Rule], context: Context) -> list[RuleResult]:
    """Run the rules on the analysed capture; attribute each offence and mark those an
    expectation covers."""
    results = []
    attribution = Attribution(context.capture)
    for r in rules:
        finding = r.check(context)
        if finding.outcome is not Outcome.FAILED:
            results.append(
                RuleResult(r, finding.outcome, finding.count, finding.packets, finding.evidence)
            )
            continue
        offences = []
        owners: dict[str, int] = {}
        for pktno, text in finding.offences:
            scope = attribution.scope(pktno)
            reason = expected_reason(context.expectations, r.id, scope)
            offences.append(Offence(pktno, text, scope, reason))
            owner = scope.describe()
            owners[owner] = owners.get(owner, 0) + 1
        unexpected = [o for o in offences if o.expected is None]
        outcome = Outcome.FAILED if unexpected else Outcome.EXPECTED
        count, packets, evidence = _summarize(unexpected or offences)
        reasons = sorted({o.expected for o in offences if o.expected is not None})
        kept = offences[:MAX_OFFENCES_LISTED]
        expected = len(offences) - len(unexpected)
        results.append(
            RuleResult(r, outcome, count, packets, evidence, kept, expected, owners, reasons)
        )
    return results
