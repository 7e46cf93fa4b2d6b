"""Waiting in tests for what another thread or process brings about, by polling.

Tests import it as ``polling`` (tests/ is on sys.path through tests/conftest.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_INTERVAL = 0.05  # s between looks


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    """Whether ``condition()`` came true within ``timeout`` seconds (looked at once more at
    the end, so a slow last step still counts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL_INTERVAL)
    return bool(condition())
