"""Which of the demo's findings are deliberate: the lab-dialect session (the lab's format on
purpose) and the negative tests (requests a server must refuse). The demo knows their
session ids and client connections; it writes them beside the capture, so that the
report, `check --expect` and its exit code all tell the same story.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from analysis.expected import Expectation, write_expectations
from workbench.demo.negative import NegativeOutcome
from workbench.report.i18n import Catalog

EXPECT_SUFFIX = ".expect.json"


def expectations_path(capture: Path) -> Path:
    """Where a capture's expectations are written: ``demo-X.pcap`` -> ``demo-X.expect.json``."""
    return capture.with_suffix(EXPECT_SUFFIX)


def demo_expectations(
    catalog: Catalog, lab_session: str | None, negatives: Iterable[NegativeOutcome]
) -> list[Expectation]:
    """The lab-dialect session and every negative test's connection, each with its reason."""
    expected = []
    if lab_session:
        reason = catalog.t("expect.lab", session=lab_session)
        expected.append(Expectation(reason, session=lab_session))
    for outcome in negatives:
        if outcome.client:
            case = catalog.t(f"ft.neg_{outcome.case.name.lower()}.title")
            reason = catalog.t("expect.negative", case=case)
            expected.append(Expectation(reason, client=outcome.client))
    return expected


def write_demo_expectations(capture: Path, expectations: list[Expectation]) -> Path:
    """Write the expectations beside the capture; returns their path."""
    path = expectations_path(capture)
    write_expectations(path, expectations)
    return path
