"""Shared fixtures: the lab-like movie and the artifacts folder; the import path of the helpers.

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
from media_samples import write_lab_movie
from realtools import (  # noqa: F401
    EXTRA_LAB_MOVIE,
    PEERS,
    ROOT,
    missing,
    require_raw_socket,
    require_tool,
)

if str(PEERS) not in sys.path:
    sys.path.append(str(PEERS))


@pytest.fixture(scope="session")
def lab_movie(tmp_path_factory) -> Path:
    """A movie.Mjpeg like the lab's (240 frames, 640x480 4:2:0), made for this test run."""
    return write_lab_movie(tmp_path_factory.mktemp("lab") / "movie.Mjpeg")


@pytest.fixture(
    scope="session", params=["generated"] + (["real"] if EXTRA_LAB_MOVIE else []), ids=str
)
def lab_movies(request, lab_movie) -> Path:
    """The generated lab-like movie, then a real lab movie.Mjpeg when RTSP_WORKBENCH_LAB_MOVIE
    names one: the tests about the lab's file format run on both."""
    if request.param == "generated":
        return lab_movie
    path = Path(EXTRA_LAB_MOVIE)
    if not path.is_file():
        missing(f"RTSP_WORKBENCH_LAB_MOVIE names no file: {path}")
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep artifacts worth looking at (screenshots, reports)."""
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def display():
    """One private Xvfb display for the whole run; DISPLAY points at it meanwhile.

    One per run, not per module: Tk keeps its connection to a display after its windows
    are gone, and Xlib ends the process when that display's server goes away."""
    import os

    from workbench.demo.xvfb import DisplayError, virtual_display

    require_tool("Xvfb")
    old = os.environ.get("DISPLAY")
    try:
        with virtual_display() as screen:
            os.environ["DISPLAY"] = screen.name
            yield screen.name
    except DisplayError as exc:
        missing(str(exc))
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
