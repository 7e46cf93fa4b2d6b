"""RFC 2435 rules: JPEG headers, fragments, tables, restart markers, decodable frames.

Payload rules: they read the RFC 2435 headers and JPEG data inside each packet, so they
answer "not applicable" for streams whose payloads the capture's snap length cut.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future

from analysis.payloads.frames import PayloadFormat
from analysis.payloads.jpeg_decoding import FrameDecoder
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


@rule("JPEG-DEC-1", RFC, "4, Appendix B", Severity.ERROR, "each frame decodes to width x height")
def decodes(ctx: Context) -> Finding:
    """Each complete, well-formed frame decodes with Pillow to its header's size. Not
    applicable without such a frame in an RFC 2435 stream whose payloads are whole.

    Frames with the same bytes (one clip streamed to many clients) are decoded once; the
    distinct ones on every core (``analysis.payloads.jpeg_decoding``)."""
    streams, na = payload_streams(ctx, PayloadFormat.RFC2435)
    if na:
        return na
    judged = [(f, s) for s in streams for f in s.frames if f.structurally_sound]
    verdicts: list[Future[str] | None] = []
    with FrameDecoder() as decoder:
        for f, _ in judged:
            data = f.jpeg()
            verdicts.append(None if data is None else decoder.submit(data, f.width, f.height))
    offences = []
    for (f, s), decoded in zip(judged, verdicts, strict=True):
        problem = "frame could not be rebuilt" if decoded is None else decoded.result()
        if problem:
            offences.append((f.first_pktno, f"{problem} ({s.label})"))
    return verdict_if_judged(
        len(judged),
        offences,
        f"{len(judged)} frame(s) decode with Pillow",
        "no complete, well-formed frame to decode",
    )
