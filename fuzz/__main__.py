"""``python -m fuzz``: run every fuzz target (or those named) for a set time, print a table.

Exit status 1 when a target found anything (its reproducer is kept in the findings folder),
2 when atheris is missing.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fuzz.targets import TARGETS

SEEDS = Path(__file__).resolve().parent / "seeds"
PER_INPUT_TIMEOUT = 10  # seconds: an input that takes longer is a finding (a hang)
RSS_LIMIT_MB = 2048  # a target that grows past this is a finding (unbounded memory)
DONE = re.compile(r"Done (\d+) runs in (\d+) second")
STATS = re.compile(r"^#(\d+)\s", re.MULTILINE)


@dataclass
class Campaign:
    """What one target's run did."""

    target: str
    seconds: float
    executions: int
    findings: list[str]
    message: str = ""


def run_target(name: str, seconds: int, findings_dir: Path, runs: int | None = None) -> Campaign:
    """Fuzz ``name`` for ``seconds`` (or until ``runs`` executions, when sooner); new inputs
    go to a scratch corpus, never the seeds."""
    seeds = SEEDS / name
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as scratch:
        command = [
            sys.executable,
            "-m",
            "fuzz.worker",
            name,
            f"-max_total_time={seconds}",
            *([f"-runs={runs}"] if runs else []),
            f"-timeout={PER_INPUT_TIMEOUT}",
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-artifact_prefix={findings_dir}/{name}-",
            "-print_final_stats=1",
            scratch,
            *([str(seeds)] if seeds.is_dir() else []),
        ]
        started = time.monotonic()
        done = subprocess.run(
            command, capture_output=True, text=True, errors="replace", timeout=seconds * 3 + 120
        )
        elapsed = time.monotonic() - started
    log = done.stderr
    match = DONE.search(log)
    executions = int(match.group(1)) if match else max(map(int, STATS.findall(log)), default=0)
    found = sorted(str(p) for p in findings_dir.glob(f"{name}-*"))
    message = ""
    if done.returncode != 0:
        lines = [line for line in log.splitlines() if line.strip()]
        message = next(
            (line for line in lines if "Uncaught" in line or "ERROR" in line), lines[-1:] or [""]
        )
        message = message if isinstance(message, str) else message[0]
        if not found:
            found = [f"exit status {done.returncode}"]
    return Campaign(name, round(elapsed, 1), executions, found, message.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    parser.add_argument(
        "targets", nargs="*", help=f"targets to run (default all: {', '.join(TARGETS)})"
    )
    parser.add_argument("--seconds", type=int, default=60, help="time per target (default 60)")
    parser.add_argument(
        "--runs", type=int, metavar="N", help="stop a target after N executions, if sooner"
    )
    parser.add_argument(
        "--findings", type=Path, default=Path("fuzz-findings"), help="where reproducers go"
    )
    parser.add_argument("--json", type=Path, help="also write the campaigns as JSON here")
    args = parser.parse_args(argv)
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s): {', '.join(unknown)}")
    try:
        import atheris  # noqa: F401
    except ImportError:
        print(
            "python -m fuzz: error: atheris is not installed (pip install atheris)", file=sys.stderr
        )
        return 2
    args.findings.mkdir(parents=True, exist_ok=True)
    campaigns = []
    print(f"{'target':<18} {'seconds':>8} {'executions':>12} {'exec/s':>8}  findings")
    for name in args.targets or list(TARGETS):
        c = run_target(name, args.seconds, args.findings, args.runs)
        campaigns.append(c)
        rate = c.executions / c.seconds if c.seconds else 0
        verdict = ", ".join(c.findings) if c.findings else "none"
        print(f"{name:<18} {c.seconds:>8.1f} {c.executions:>12,} {rate:>8,.0f}  {verdict}")
        if c.message:
            print(f"{'':<18} {c.message}")
    if args.json:
        args.json.write_text(json.dumps([asdict(c) for c in campaigns], indent=1))
    if not any(c.findings for c in campaigns):
        shutil.rmtree(args.findings, ignore_errors=True)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
