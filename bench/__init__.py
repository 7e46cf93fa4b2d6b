"""Benchmarks against peer implementations, measured side by side in one run.

Each module ``bench/bench_*.py`` has a ``main()`` that prints its figures and the ratio
ours/peer. ``python -m bench`` runs them all; ``python -m bench.bench_NAME`` runs one.
"""

import sys
from pathlib import Path

# The helpers shared with the tests (tests/*.py, tests/peers/*.py) import one another by
# module name, as under pytest, where tests/conftest.py puts these folders on sys.path.
_TESTS = Path(__file__).resolve().parent.parent / "tests"
for _folder in (_TESTS, _TESTS / "peers", _TESTS / "analysis"):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))
