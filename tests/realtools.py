"""Real-tool requirements shared by the tests: import with `from realtools import ...`.

Locally a missing tool skips the test with its reason; under CI=true it fails,
so nothing is silently skipped in CI.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A real lab movie.Mjpeg, when one is at hand, is an extra input beside the generated one
# (scripts/run-tests.sh names the shared copy when it exists); the tests never need it.
EXTRA_LAB_MOVIE = os.environ.get("RTSP_WORKBENCH_LAB_MOVIE")
PEERS = ROOT / "tests" / "peers"  # peer servers and clients run against ours
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip locally, fail under CI=true."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_tool(*names: str) -> dict[str, str]:
    """Return the paths of the named executables, or skip/fail when one is absent."""
    paths = {}
    for name in names:
        path = shutil.which(name)
        if path is None:
            missing(f"{name} not found on PATH")
        paths[name] = path
    return paths


def require_raw_socket() -> None:
    """Skip/fail unless we may open an AF_PACKET socket (root or CAP_NET_RAW)."""
    import socket

    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    except (PermissionError, AttributeError, OSError) as exc:
        missing(f"raw capture not permitted ({exc}): needs root or CAP_NET_RAW")
    else:
        s.close()


def only_pause_after_eos(stderr: str) -> bool:
    """rtspsrc's own race: after end-of-stream it may send PAUSE on a connection its TEARDOWN
    already closed. The error names only that PAUSE; any other error fails the test."""
    sources = re.findall(r"gstrtspsrc\.c\(\d+\): (\w+) \(\)", stderr)
    return bool(sources) and set(sources) <= {"gst_rtspsrc_try_send", "gst_rtspsrc_pause"}
