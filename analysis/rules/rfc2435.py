"""RFC 2435 rules: JPEG headers, fragments, tables, restart markers, decodable frames.

Payload rules: they read the RFC 2435 headers and JPEG data inside each packet, so they
answer "not applicable" for streams whose payloads the capture's snap length cut.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from analysis.payloads.frames import Frame, PayloadFormat
from analysis.rules.registry import (
    Context,
    Finding,
    Severity,
    payload_streams,
    rule,
    verdict,
    verdict_if_judged,
)

log = logging.getLogger(__name__)

RFC = "RFC 2435"
DECODE_SCALE = 8  # decode at 1/8 scale: every coefficient is still entropy-decoded


def _frame_rule(ctx: Context, attribute: str) -> Finding:
    streams, na = payload_streams(ctx, PayloadFormat.RFC2435)
    if na:
        return na
    return verdict(
        (p, f"{text} in {s.label}")
        for s in streams
        for f in s.frames
        for p, text in getattr(f, attribute)
    )


@rule(
    "JPEG-HDR-1",
    RFC,
    "3.1.3-3.1.6",
    Severity.ERROR,
    "type, Q, width and height valid and constant within a frame",
)
def header(ctx: Context) -> Finding:
    """Type, Q, width and height are valid and constant within a frame. Not applicable
    without an RFC 2435 stream whose payloads the capture holds whole."""
    return _frame_rule(ctx, "header_problems")


@rule(
    "JPEG-FRAG-1",
    RFC,
    "3.1.2",
    Severity.ERROR,
    "fragment offsets start at 0, contiguous, non-overlapping",
)
def fragments(ctx: Context) -> Finding:
    """Fragment offsets start at 0 and run on without gap or overlap (lost packets aside).
    Not applicable without an RFC 2435 stream whose payloads the capture holds whole."""
    return _frame_rule(ctx, "fragment_problems")


@rule(
    "JPEG-QT-1",
    RFC,
    "3.1.8, 4.2",
    Severity.ERROR,
    "Quantization Table header on offset 0 when Q >= 128, with a length that fits",
)
def tables(ctx: Context) -> Finding:
    """Q >= 128 brings a Quantization Table header on offset 0 whose length fits. Not
    applicable without an RFC 2435 stream whose payloads the capture holds whole."""
    return _frame_rule(ctx, "table_problems")


@rule(
    "JPEG-RST-1",
    RFC,
    "3.1.7",
    Severity.ERROR,
    "Restart Marker header present and consistent for types 64-127",
)
def restart(ctx: Context) -> Finding:
    """Types 64-127 carry a consistent Restart Marker header. Not applicable without an
    RFC 2435 stream whose payloads the capture holds whole."""
    return _frame_rule(ctx, "restart_problems")


def decode_problem(frame: Frame) -> str:
    """Why the frame does not decode to width x height, or "" when it does."""
    data = frame.jpeg()
    if data is None:
        return "frame could not be rebuilt"
    try:
        image = Image.open(io.BytesIO(data))
        size = image.size
        image.draft("RGB", (max(size[0] // DECODE_SCALE, 1), max(size[1] // DECODE_SCALE, 1)))
        image.load()
    except Exception as exc:  # Pillow raises many types for broken JPEG data
        return f"Pillow cannot decode it: {exc}"
    if frame.width and size != (frame.width, frame.height):
        return f"decodes to {size[0]}x{size[1]}, header says {frame.width}x{frame.height}"
    return ""


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_thread_limit: int | None = None  # set in worker processes checking side by side


def limit_decode_threads(count: int | None) -> None:
    """Decode with at most ``count`` threads (None: no limit): for a worker process of
    several checking captures at once (``check --jobs``), which share the cores."""
    global _thread_limit
    _thread_limit = None if count is None else max(1, count)


def decode_workers() -> int:
    """Threads to decode with: one per usable core, unless limited (Pillow lets go of the
    GIL while it decodes, so a camera capture's thousands of distinct frames decode on
    every core)."""
    return min(usable_cores(), _thread_limit or usable_cores())


@rule("JPEG-DEC-1", RFC, "4, Appendix B", Severity.ERROR, "each frame decodes to width x height")
def decodes(ctx: Context) -> Finding:
    """Each complete, well-formed frame decodes with Pillow to its header's size. Not
    applicable without such a frame in an RFC 2435 stream whose payloads are whole.

    Frames with the same headers and scan data (one clip streamed to many clients) are
    decoded once; the distinct ones are decoded across ``decode_workers()`` threads."""
    streams, na = payload_streams(ctx, PayloadFormat.RFC2435)
    if na:
        return na
    judged = [(f, s) for s in streams for f in s.frames if f.structurally_sound]
    keys = [(f.content_key(), f.width, f.height) for f, _ in judged]
    distinct: dict[tuple, Frame] = {}
    for key, (f, _) in zip(keys, judged, strict=True):
        distinct.setdefault(key, f)
    # Pillow lets go of the GIL while it decodes. Its warnings on odd data are silenced
    # once, here: the filters are shared by all threads.
    with ThreadPoolExecutor(decode_workers()) as pool, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problems = dict(zip(distinct, pool.map(decode_problem, distinct.values())))
    offences = [
        (f.first_pktno, f"{problems[key]} ({s.label})")
        for (f, s), key in zip(judged, keys, strict=True)
        if problems[key]
    ]
    return verdict_if_judged(
        len(judged),
        offences,
        f"{len(judged)} frame(s) decode with Pillow",
        "no complete, well-formed frame to decode",
    )
