"""Numbered functional tests, their texts taken from the report's message catalog.

A test's title, what was done and what was expected live in the catalog under
``ft.<key>.title``, ``ft.<key>.done`` and ``ft.<key>.expected``; the observation and
evidence come from what actually happened.
"""

from __future__ import annotations

from typing import Any

from workbench.report.i18n import Catalog
from workbench.report.model import FunctionalTest, Outcome


class TestBook:
    """Collects FunctionalTests, numbering them in the order they are added."""

    __test__ = False  # not a pytest class, despite the name

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.tests: list[FunctionalTest] = []

    def add(
        self,
        key: str,
        passed: bool | None,
        observed: str,
        evidence: list[str] | None = None,
        optional: bool = False,
        **values: Any,
    ) -> FunctionalTest:
        """Record test ``key``; ``passed`` None means it could not be run (``observed`` says why)."""
        outcome = (
            Outcome.NOT_RUN if passed is None else Outcome.PASSED if passed else Outcome.FAILED
        )
        t = self.catalog.t
        test = FunctionalTest(
            number=len(self.tests) + 1,
            title=t(f"ft.{key}.title", **values),
            done=t(f"ft.{key}.done", **values),
            expected=t(f"ft.{key}.expected", **values),
            observed=observed,
            outcome=outcome,
            evidence=list(evidence or []),
            optional=optional,
        )
        self.tests.append(test)
        return test

    def not_run(
        self, key: str, reason: str, optional: bool = False, **values: Any
    ) -> FunctionalTest:
        """Record test ``key`` as not run, saying why; ``optional`` when only an optional
        tool was missing, which does not fail the report."""
        return self.add(
            key, None, self.catalog.t("obs.not_run", reason=reason), optional=optional, **values
        )
