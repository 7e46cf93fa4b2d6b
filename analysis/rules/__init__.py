"""Conformance rules: one module per protocol area, each rule registered with its id,
source (RFC and section), severity and title.

A rule is a function of the analysed capture returning a :class:`Finding`; the
registry (:data:`RULES`) runs them all. Facts are gathered once by the readers
(``analysis.sessions``, ``analysis.frames``, ...); rules only judge them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from analysis.frames import PayloadFormat
from analysis.netdecode import Traffic
from analysis.rtp_stream import RtpStream
from analysis.sessions import CaptureSessions

MAX_PACKETS_LISTED = 10  # first offending packet numbers kept per result


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
    NOT_APPLICABLE = "not applicable"


@dataclass
class Finding:
    """What a rule found: outcome, how many offences, the first packets, evidence."""

    outcome: Outcome
    count: int = 0
    packets: list[int] = field(default_factory=list)
    evidence: str = ""


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
    """A rule's verdict on one capture."""

    rule: Rule
    outcome: Outcome
    count: int
    packets: list[int]
    evidence: str

    @property
    def failed(self) -> bool:
        """True when the rule found offences."""
        return self.outcome is Outcome.FAILED

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
        }


@dataclass
class Context:
    """Everything rules may look at."""

    traffic: Traffic
    capture: CaptureSessions
    decode_cache: dict = field(default_factory=dict)
    memo: dict = field(default_factory=dict)  # facts several rules derive alike, computed once


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


def media_streams(ctx: Context, payload_format: PayloadFormat | None = None) -> list[RtpStream]:
    """The RTP streams that hold at least one packet (of ``payload_format``, when given)."""
    return [
        s
        for s in ctx.capture.streams
        if len(s) and (payload_format is None or s.format is payload_format)
    ]


def verdict(offences: Iterable[tuple[int, str]], ok_evidence: str = "") -> Finding:
    """Failed with the offences' packet numbers and the first one's text, else passed."""
    items = sorted(offences, key=lambda o: o[0])
    if not items:
        return passed(ok_evidence)
    first = items[0][1]
    more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    return Finding(
        Outcome.FAILED,
        len(items),
        [p for p, _ in items[:MAX_PACKETS_LISTED]],
        f"packet {items[0][0]}: {first}{more}",
    )


def registered_rules() -> list[Rule]:
    """Every rule, in report order (importing the rule modules registers them)."""
    # Registration order is report order: RTP, RFC 2435, RTCP, RTSP, the lab's format.
    from analysis.rules import rtp  # noqa: F401, I001
    from analysis.rules import rfc2435, rtcp, rtsp  # noqa: F401
    from analysis.rules import lab  # noqa: F401

    return list(RULES)


def run_all(context: Context) -> list[RuleResult]:
    """Run every registered rule on the analysed capture."""
    results = []
    for r in registered_rules():
        finding = r.check(context)
        results.append(
            RuleResult(r, finding.outcome, finding.count, finding.packets, finding.evidence)
        )
    return results
