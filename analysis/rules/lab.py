"""The lab's own format, named as such: whole JPEGs as RTP payloads, wall-clock-second
timestamps, SSRC 0, no marker bits (the "Video Streaming with RTSP and RTP" lab)."""

from __future__ import annotations

import statistics

from analysis.payloads.frames import PayloadFormat
from analysis.rules.registry import (
    Context,
    Finding,
    Severity,
    media_streams,
    not_applicable,
    rule,
    verdict,
)
from analysis.streams.rtp import TS_MODULUS

WALL_CLOCK_STEPS = (0, 1)  # a timestamp in seconds moves by 0 or 1 between frames


@rule(
    "LAB-FMT-1",
    "RFC 2435",
    "3",
    Severity.ERROR,
    "payload carries an RFC 2435 header, not a whole JPEG (the lab's format)",
)
def whole_jpeg(ctx: Context) -> Finding:
    """Payloads do not begin with a JPEG SOI in place of the RFC 2435 header (the lab's
    whole-JPEG format). Seen in the first payload bytes, so even a cut capture shows it.
    Not applicable without an RTP media stream."""
    if not media_streams(ctx):
        return not_applicable("no RTP stream")
    return verdict(
        (
            s.first_pktno,
            f"payloads begin with the JPEG SOI (FF D8) and carry no RFC 2435 header: the lab's "
            f"format, not RFC 2435; {len(s.frames)} frame(s) extracted ({s.label})",
        )
        for s in media_streams(ctx, PayloadFormat.WHOLE_JPEG)
    )


@rule(
    "LAB-TS-1",
    "RFC 3551",
    "5",
    Severity.WARNING,
    "timestamps run on the 90 kHz clock, not in wall-clock seconds",
)
def wall_clock(ctx: Context) -> Finding:
    """Video timestamps are not wall-clock seconds (stepping by 0 or 1 between frames).
    Not applicable without a video stream of three frames."""
    streams = [s for s in media_streams(ctx) if s.has_frames and len(s.frames) > 2]
    if not streams:
        return not_applicable("no stream with three frames")
    offences = []
    for s in streams:
        steps = [(b.timestamp - a.timestamp) % TS_MODULUS for a, b in zip(s.frames, s.frames[1:])]
        if statistics.median(steps) in WALL_CLOCK_STEPS:
            offences.append(
                (
                    s.frames[0].first_pktno,
                    f"timestamps step by {sorted(set(steps))[:4]} between frames: wall-clock "
                    f"seconds, not the 90 kHz media clock ({s.label})",
                )
            )
    return verdict(offences)


@rule("LAB-SSRC-1", "RFC 3550", "5.1, 8", Severity.WARNING, "SSRC is random, not 0")
def ssrc_zero(ctx: Context) -> Finding:
    """Media streams do not use the lab's fixed SSRC 0 (RFC 3550 §8 wants it random).
    Keep-alives with SSRC 0 (ffmpeg's NAT punch) are not media and not judged. Not
    applicable without an RTP media stream."""
    if not media_streams(ctx):
        return not_applicable("no RTP stream")
    return verdict(
        (s.first_pktno, f"SSRC 0, the lab's fixed value ({s.label})")
        for s in media_streams(ctx)
        if s.ssrc == 0
    )


@rule(
    "LAB-MARK-1",
    "RFC 3551 / RFC 2435",
    "5 / 3",
    Severity.WARNING,
    "marker bit set on the last packet of each frame (whole-JPEG payloads)",
)
def whole_jpeg_marker(ctx: Context) -> Finding:
    """Whole-JPEG payloads carry the marker bit (each packet is a frame's last). Not
    applicable without a stream in the lab's format."""
    streams = media_streams(ctx, PayloadFormat.WHOLE_JPEG)
    if not streams:
        return not_applicable("no stream in the lab's format")
    offences = [
        (f.first_pktno, f"missing marker bit: the lab's server never sets it ({s.label})")
        for s in streams
        for f in s.frames
        if not f.marker_last
    ]
    return verdict(offences, "every whole-JPEG packet has the marker")
