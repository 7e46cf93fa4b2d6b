"""Fixtures for the client's tests (helpers live in client_support.py)."""

from __future__ import annotations

import pytest
from client_support import make_jpeg


@pytest.fixture
def small_jpegs() -> list[bytes]:
    """Five distinct 64x48 frames."""
    return [make_jpeg(seed=i) for i in range(5)]
