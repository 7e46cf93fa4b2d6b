"""Conformance rules: one module per protocol area, each rule registered with its id,
source (RFC and section), severity and title.

The framework (findings, outcomes, the registry) is ``analysis.rules.registry``; each rule
module imports it and registers its rules when imported here. Every offence is attributed
to its session and flow (``analysis.sessions.attribution``); offences that a known
expectation covers (a deliberate negative test, ``analysis.expected``) are kept and shown,
but make the rule's outcome EXPECTED rather than FAILED.

Each rule's docstring says what it judges and when it answers "not applicable".
"""

from __future__ import annotations

from analysis.rules import audio, auth, h26x, lab, rfc2435, rtcp, rtp, rtp_timing, rtsp
from analysis.rules.registry import (
    RULES,
    Context,
    Finding,
    Offence,
    Outcome,
    Rule,
    RuleResult,
    Severity,
    run_rules,
)

__all__ = [
    "Context",
    "Finding",
    "Offence",
    "Outcome",
    "Rule",
    "RuleResult",
    "Severity",
    "registered_rules",
    "run_all",
]


# Report order: RTP, RTP timing, RFC 2435, H.264/H.265, audio, RTCP, RTSP, access, the
# lab's; within a module, the order its rules are written in.
RULE_MODULES = (rtp, rtp_timing, rfc2435, h26x, audio, rtcp, rtsp, auth, lab)


def registered_rules() -> list[Rule]:
    """Every rule, in report order."""
    return [r for m in RULE_MODULES for r in RULES if r.check.__module__ == m.__name__]


def run_all(context: Context) -> list[RuleResult]:
    """Run every registered rule on the analysed capture (see ``registry.run_rules``)."""
    return run_rules(registered_rules(), context)
