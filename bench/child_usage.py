"""Wall time and peak resident memory of one child process, taken from that child alone
(``os.wait4``), so that peers run as subprocesses are measured the same way."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

KIB = 1024  # Linux reports ru_maxrss in kilobytes (getrusage(2))


@dataclass(frozen=True)
class ChildUsage:
    """What one run cost: wall seconds, CPU seconds and peak RSS in bytes."""

    seconds: float
    cpu_seconds: float
    peak_rss: int
    returncode: int


def run_measured(command: list[str]) -> ChildUsage:
    """Run ``command`` with its output discarded and measure it."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ChildUsage(
        elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * KIB, proc.returncode
    )
