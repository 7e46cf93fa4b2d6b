"""The project's rtsp-server as a user runs it (``python -m rtsp_server``), in its own process
on a free port of 127.0.0.1: for tests and benchmarks that want it outside their own process.

Tests and benchmarks import it as ``server_process`` (tests/conftest.py and bench/__init__.py
put tests/ on sys.path).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from child_processes import stop_process

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 20.0  # s until the server logs where it serves
# The server's start-up log line: "serving <media> on rtsp://127.0.0.1:<port>/ ...".
SERVING = re.compile(r" on rtsp://127\.0\.0\.1:(\d+)/")


@dataclass(frozen=True)
class ServerProcess:
    """A running rtsp-server: its port, process id, process and log file (stdout+stderr)."""

    port: int
    pid: int
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    def log(self) -> str:
        """What it has logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def url(self, name: str) -> str:
        """The URL of the media file ``name`` it serves."""
        return f"rtsp://{LOOPBACK}:{self.port}/{name}"


def _wait_serving(proc: subprocess.Popen, log_path: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        text = log_path.read_text(errors="replace")
        match = SERVING.search(text)
        if match:
            return int(match.group(1))
        if proc.poll() is not None:
            raise RuntimeError(f"rtsp-server exited with {proc.returncode}: {text[-500:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"rtsp-server did not start within {timeout} s: {text[-500:]}")
        time.sleep(0.05)


@contextmanager
def rtsp_server_process(
    media: Path, *options: str, start_timeout: float = START_TIMEOUT
) -> Iterator[ServerProcess]:
    """Run ``python -m rtsp_server --port 0 --media MEDIA OPTIONS...``; stop it on exit.

    Its log goes to a file (a pipe nobody reads would block it once full); RuntimeError,
    with the log's end, when it exits or stays silent before serving.
    """
    command = [sys.executable, "-m", "rtsp_server", "--host", LOOPBACK, "--port", "0",
               "--media", str(media), *options]  # fmt: skip
    fd, name = tempfile.mkstemp(prefix="rtsp-server-", suffix=".log")
    log_path = Path(name)
    try:
        with os.fdopen(fd, "w") as log_file:
            proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            port = _wait_serving(proc, log_path, start_timeout)
            log.debug("rtsp-server pid %d on port %d", proc.pid, port)
            yield ServerProcess(port, proc.pid, proc, log_path)
        finally:
            stop_process(proc)
    finally:
        log_path.unlink(missing_ok=True)
