"""Shared fixtures: the lab's movie and the artifacts folder; the import path of the helpers.

Tool requirements live in realtools.py (`from realtools import require_tool`); a module
named conftest is ambiguous once sub-folders have their own conftest.py.

pytest puts tests/ (this folder) and each test folder on sys.path; tests/peers holds no tests,
so it is added here: `from gst_peer import ...` works in every test folder. Helper modules
keep names unique across all these folders, since they share one import namespace.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from realtools import (  # noqa: F401
    LAB_MOVIE,
    PEERS,
    ROOT,
    missing,
    require_raw_socket,
    require_tool,
)

if str(PEERS) not in sys.path:
    sys.path.append(str(PEERS))


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
