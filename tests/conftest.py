"""Shared fixtures: the lab's movie and the artifacts folder.

Tool requirements live in realtools.py (`from realtools import require_tool`); a module
named conftest is ambiguous once sub-folders have their own conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from realtools import LAB_MOVIE, ROOT, missing, require_raw_socket, require_tool  # noqa: F401


@pytest.fixture(scope="session")
def lab_movie() -> Path:
    """The lab's own movie.Mjpeg from ../shared/lab (240 frames, 640x480)."""
    if not LAB_MOVIE.exists():
        missing(f"lab movie not found at {LAB_MOVIE}")
    return LAB_MOVIE


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep artifacts worth looking at (screenshots, reports)."""
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
