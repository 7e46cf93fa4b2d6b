"""Comments under the report's figures: the questions a student asks on reading them.

Each comment is written from the figures themselves, so it says what this run showed:
why a 20 fps clip shows fewer frames per second once paused, why Wireshark is not told
to decode the lab-dialect stream, why tshark's packet count differs from its frame count.
"""

from __future__ import annotations

from analysis.streams.rtp import CapturedStream
from workbench.report.from_check import stream_label
from workbench.report.i18n import Catalog
from workbench.report.model import StatRow
from workbench.wireshark import TsharkCheck

MIN_PAUSE_S = 0.05  # shorter gaps are scheduling noise, not a PAUSE worth explaining


def frame_rate_comments(rows: list[StatRow], catalog: Catalog) -> list[str]:
    """One comment per paused stream: its rate while playing and over the whole time."""
    return [
        catalog.t(
            "comment.fps",
            stream=row.stream,
            frames=row.frames or 0,
            duration=row.duration_s,
            paused=row.paused_s,
            fps=row.fps or 0.0,
            overall=row.overall_fps or 0.0,
        )
        for row in rows
        if row.paused_s >= MIN_PAUSE_S and row.fps and row.overall_fps
    ]


def wireshark_comments(
    streams: list[CapturedStream],
    not_decoded: list[CapturedStream],
    tshark: TsharkCheck | None,
    catalog: Catalog,
) -> list[str]:
    """What the Wireshark command leaves out (``not_decoded``) and why, and how tshark
    counts the packets of a stream interleaved on TCP."""
    comments = []
    if not_decoded:
        comments.append(
            catalog.t(
                "comment.decode_as",
                streams=", ".join(stream_label(s) for s in not_decoded),
            )
        )
    if tshark is not None and tshark.accepted:
        for stream in streams:
            segments = tshark.frames_by_ssrc.get(stream.ssrc, 0)
            packets = tshark.by_ssrc.get(stream.ssrc, 0)
            if stream.transport == "tcp" and 0 < segments < packets:
                comments.append(
                    catalog.t(
                        "comment.tshark_tcp",
                        stream=stream_label(stream),
                        packets=packets,
                        segments=segments,
                    )
                )
    return comments
