"""Fixtures for the client's tests (pictures come from tests/media_samples.py)."""

from __future__ import annotations

import pytest
from media_samples import gradient_jpeg


@pytest.fixture
def small_jpegs() -> list[bytes]:
    """Five distinct 64x48 frames."""
    return [gradient_jpeg(seed=i) for i in range(5)]
