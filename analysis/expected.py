"""Findings known in advance: a deliberate negative test, a session in a non-standard
dialect. Each expectation names a session (or an RTSP client connection) and why its
findings are expected; offences there are reported as expected, not as failures, and
every other offence still fails its rule.

Written as JSON, so a capture can carry its expectations beside it::

    {"expected": [{"session": "1234", "reason": "the lab's dialect (deliberate)"},
                  {"client": "127.0.0.1:40312", "reason": "negative test: PLAY before SETUP",
                   "rules": ["RTSP-STATE-1"]}]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from analysis.errors import AnalysisError
from analysis.sessions.attribution import Scope


class ExpectationsError(AnalysisError):
    """An expectations file that cannot be read or is not in the documented form."""


@dataclass(frozen=True)
class Expectation:
    """Offences in one session or connection that are expected, and why.

    ``rules``, when given, limits the expectation to those rule ids."""

    reason: str
    session: str | None = None
    client: str | None = None  # "ip:port" of the RTSP client of a connection
    rules: frozenset[str] = field(default_factory=frozenset)

    def covers(self, rule_id: str, scope: Scope) -> bool:
        """True when an offence of ``rule_id`` in ``scope`` is expected."""
        if self.rules and rule_id not in self.rules:
            return False
        if self.session is not None and scope.session == self.session:
            return True
        return self.client is not None and scope.client == self.client

    def to_dict(self) -> dict:
        """The JSON form."""
        out: dict = {"reason": self.reason}
        if self.session is not None:
            out["session"] = self.session
        if self.client is not None:
            out["client"] = self.client
        if self.rules:
            out["rules"] = sorted(self.rules)
        return out


def expected_reason(expectations: Iterable[Expectation], rule_id: str, scope: Scope) -> str | None:
    """The reason of the first expectation that covers the offence, or None."""
    for expectation in expectations:
        if expectation.covers(rule_id, scope):
            return expectation.reason
    return None


def write_expectations(path: str | Path, expectations: Iterable[Expectation]) -> None:
    """Write expectations as JSON."""
    data = {"expected": [e.to_dict() for e in expectations]}
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def read_expectations(path: str | Path) -> list[Expectation]:
    """Read an expectations file; raises ExpectationsError saying what is wrong."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ExpectationsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExpectationsError(f"{path} is not JSON: {exc}") from exc
    items = data.get("expected") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ExpectationsError(f'{path}: expected {{"expected": [...]}} at the top')
    out = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ExpectationsError(f"{path}: entry {n} is not an object")
        session, client, reason = item.get("session"), item.get("client"), item.get("reason")
        rules = item.get("rules", [])
        if not (isinstance(session, str) or isinstance(client, str)):
            raise ExpectationsError(f'{path}: entry {n} names neither "session" nor "client"')
        if not isinstance(reason, str) or not reason:
            raise ExpectationsError(f'{path}: entry {n} has no "reason"')
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise ExpectationsError(f'{path}: entry {n}: "rules" must be a list of rule ids')
        out.append(
            Expectation(
                reason,
                session if isinstance(session, str) else None,
                client if isinstance(client, str) else None,
                frozenset(rules),
            )
        )
    return out
