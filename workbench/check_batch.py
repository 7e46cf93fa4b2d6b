"""Checking many captures at once: a folder or a list of files, in parallel worker processes.

A camera test lab or a class of students hands in captures by the dozen. Each capture is
checked alone, in its own worker process (``--jobs N``), so one huge or broken file costs
only its own worker's memory and time; with an output folder each gets its JSON and JUnit
XML, and ``summary.json`` lists every capture's verdict. The per-capture task is
:func:`check_one`, which takes and returns plain data: the same task runs unchanged on a
cluster engine (docs/scaling.md).
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

# What a folder is searched for (Wireshark's usual names, compressed ones too).
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")
COMPRESSED_SUFFIXES = ("", ".gz", ".zst", ".lz4")
SUMMARY_FILE = "summary.json"


@dataclass
class CaptureVerdict:
    """One capture's outcome: counts, failed rules, and where its files went."""

    capture: str
    verdict: str  # "passed", "failed", "damaged" (read in part), "nothing judged", "unreadable"
    packets: int = 0
    sessions: int = 0
    streams: int = 0
    errors: int = 0  # failed rules of that severity
    warnings: int = 0
    failed_rules: tuple[str, ...] = ()
    message: str = ""  # why it is damaged or unreadable
    json: str | None = None
    junit: str | None = None


def find_captures(arguments: list[str]) -> list[Path]:
    """The capture files named, and those found (recursively) in the folders named, in
    order and each once."""
    seen: dict[Path, None] = {}
    for argument in arguments:
        path = Path(argument)
        found = sorted(_captures_under(path)) if path.is_dir() else [path]
        seen.update(dict.fromkeys(found))
    return list(seen)


def _captures_under(folder: Path) -> Iterator[Path]:
    suffixes = tuple(c + z for c in CAPTURE_SUFFIXES for z in COMPRESSED_SUFFIXES)
    for path in folder.rglob("*"):
        if path.is_file() and path.name.lower().endswith(suffixes):
            yield path


def output_name(capture: Path, roots: list[str]) -> str:
    """A file name for the capture's results that no other capture of the batch shares:
    its path below the folder it was found in, with ``__`` for each separator."""
    for root in roots:
        base = Path(root)
        if base.is_dir() and capture.is_relative_to(base):
            return "__".join(capture.relative_to(base).parts)
    return "__".join(capture.parts[-2:]) if len(capture.parts) > 1 else capture.name


def check_one(
    capture: str,
    output: str | None,
    name: str,
    fail_on: str,
    rtp_ports: list[int] | None = None,
) -> CaptureVerdict:
    """Check one capture (in a worker process); with ``output``, write its JSON and JUnit
    XML there as ``name.json`` and ``name.junit.xml``. Never raises for a bad capture."""
    from analysis.check import check_capture, write_json, write_junit
    from analysis.errors import AnalysisError
    from analysis.rules import Severity

    try:
        result = check_capture(capture, rtp_ports)
    except AnalysisError as exc:
        return CaptureVerdict(capture, "unreadable", message=str(exc))
    except Exception as exc:  # a checker bug costs this capture, not the batch
        return CaptureVerdict(capture, "unreadable", message=f"{type(exc).__name__}: {exc}")
    threshold = Severity(fail_on)
    counts = result.failed_counts()
    verdict = CaptureVerdict(
        capture,
        result.verdict(threshold),
        packets=result.packets_read,
        sessions=len(result.sessions),
        streams=len(result.streams),
        errors=counts[Severity.ERROR],
        warnings=counts[Severity.WARNING],
        failed_rules=tuple(r.rule.id for r in result.failures(threshold)),
        message=str(result.error or "")
        or (result.nothing_judged_reason() if result.judged_nothing else ""),
    )
    if output is not None:
        folder = Path(output)
        verdict.json = str(folder / f"{name}.json")
        verdict.junit = str(folder / f"{name}.junit.xml")
        write_json(result, verdict.json)
        write_junit(result, verdict.junit)
    return verdict


def _share_cores(threads: int) -> None:
    """A worker's start: JPEG frames are decoded with its share of the cores."""
    from analysis.payloads.jpeg_decoding import limit_decode_threads

    limit_decode_threads(threads)


def check_many(
    captures: list[Path],
    roots: list[str],
    output: Path | None,
    jobs: int,
    fail_on: str,
    rtp_ports: list[int] | None = None,
) -> Iterator[CaptureVerdict]:
    """Each capture's verdict, in the order given, checked by ``jobs`` worker processes
    (1: in this process, one after another)."""
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
    folder = None if output is None else str(output)
    tasks = [(str(c), folder, output_name(c, roots), fail_on, rtp_ports) for c in captures]
    if jobs <= 1:
        for task in tasks:
            yield check_one(*task)
        return
    # forkserver: workers start from a clean process, not a fork of one that may hold threads.
    # The workers share the cores: each decodes JPEG frames with its share of them.
    from analysis.payloads.jpeg_decoding import usable_cores

    context = multiprocessing.get_context("forkserver")
    share = max(1, usable_cores() // jobs)
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_share_cores, initargs=(share,)
    ) as pool:
        yield from pool.map(check_one, *zip(*tasks, strict=True))


def write_summary(verdicts: list[CaptureVerdict], output: Path) -> Path:
    """``summary.json``: every capture's verdict, and the totals."""
    path = output / SUMMARY_FILE
    totals: dict[str, int] = {}
    for v in verdicts:
        totals[v.verdict] = totals.get(v.verdict, 0) + 1
    path.write_text(
        json.dumps({"captures": [asdict(v) for v in verdicts], "totals": totals}, indent=1)
    )
    return path
