"""Wall time and peak resident memory of one child process, taken from that child alone
(``os.wait4``), so that peers run as subprocesses are measured the same way.

Peak RSS counts the pages of a file the child maps (a capture read through mmap) as well as
its own memory; the peak of its anonymous memory alone (RssAnon in /proc/PID/status,
proc(5)) is sampled while it runs, to tell the two apart."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

KIB = 1024  # Linux reports ru_maxrss and /proc/PID/status sizes in kilobytes
SAMPLE_S = 0.01


def _anonymous(pid: int) -> int:
    """The process's resident anonymous memory in bytes (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * KIB
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class ChildUsage:
    """What one run cost: wall seconds, CPU seconds and peak RSS in bytes."""

    seconds: float
    cpu_seconds: float
    peak_rss: int
    peak_anonymous: int  # sampled every SAMPLE_S: a shorter peak may be missed
    returncode: int


def compiled_env(folder: Path, warm_up: list[str]) -> dict[str, str]:
    """An environment whose bytecode cache is private (in ``folder``) and filled by running
    ``warm_up`` once, so that measured runs start from compiled bytecode, as an installed
    package does: neither PYTHONDONTWRITEBYTECODE nor a stale cache makes them compile."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(folder / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(warm_up, env=env, stdout=subprocess.DEVNULL, check=True)
    return env


def run_measured(command: list[str], env: dict[str, str] | None = None) -> ChildUsage:
    """Run ``command`` (in ``env``) with its output discarded and measure it."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    anonymous = 0
    while True:
        anonymous = max(anonymous, _anonymous(proc.pid))
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(SAMPLE_S)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return ChildUsage(elapsed, cpu, usage.ru_maxrss * KIB, anonymous, proc.returncode)
