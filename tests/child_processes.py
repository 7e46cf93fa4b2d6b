"""Stopping the processes tests and benchmarks start (servers, captures): politely, then firmly."""

from __future__ import annotations

import subprocess

STOP_TIMEOUT = 10.0  # s to exit after SIGTERM before SIGKILL


def stop_process(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM ``proc`` if it still runs, wait for it; SIGKILL it after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
