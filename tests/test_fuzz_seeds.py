"""The fuzz targets replay their committed seeds and every crash reproducer found so far.

Each input must end in the target's own error type or in nothing: a reproducer that raises
anything else again is a regression (the fuzzing itself runs with ``make fuzz``).
"""

from __future__ import annotations

import pytest

from fuzz.__main__ import SEEDS
from fuzz.targets import TARGETS, Target
from rtsp_common.errors import ParseError

CASES = sorted((target, path) for target in TARGETS for path in (SEEDS / target).glob("*"))


def test_every_target_has_seeds():
    assert {target for target, _ in CASES} == set(TARGETS)


@pytest.mark.parametrize(
    ("target", "path"), CASES, ids=[f"{t}/{p.name}" for t, p in CASES]
)  # fmt: skip
def test_seed_is_handled(target, path):
    TARGETS[target](path.read_bytes())


def test_only_the_parsers_own_error_is_a_clean_refusal():
    def parser(data: bytes) -> None:
        raise (ParseError if data == b"bad" else ValueError)("boom")

    target = Target("example", parser, (ParseError,), "a parser with a bug")
    target(b"bad")  # refused cleanly
    with pytest.raises(ValueError):
        target(b"bug")  # what the fuzzer reports
