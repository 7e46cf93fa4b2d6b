"""Screenshots for a report made from a capture alone: the frames the capture holds.

For each stream: the first frame, the last before each pause and the first after it,
and the last frame, rebuilt from the captured packets. With the source clip at hand
each is shown beside the source frame of the same number. H.264/H.265 access units are
decoded by ffmpeg (workbench.h26x_pictures), each from the random access point before it.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from analysis.check import CheckResult
from analysis.payloads.frames import Frame
from rtsp_common.errors import MediaFileError
from rtsp_common.mjpeg import MediaReader
from workbench.h26x_pictures import last_picture
from workbench.report.i18n import Catalog
from workbench.report.model import Screenshot
from workbench.report.screenshots import ReceivedFrame, make_screenshots

log = logging.getLogger(__name__)

MAX_STREAMS = 2  # streams whose frames are shown


def _received(frame: Frame, index: int, pictures: dict[int, bytes]) -> ReceivedFrame | None:
    image = pictures.get(id(frame)) if pictures else frame.jpeg()
    return ReceivedFrame(image, frame.time, index) if image else None


def _decoded_pictures(stream, frames: list[Frame]) -> dict[int, bytes]:
    """PNG bytes of these access units of an H.264/H.265 stream, by ``id(frame)``: each
    decoded alone, from the random access point before it, so a capture of hours costs a
    few groups of pictures, not all of them. Those ffmpeg cannot decode are left out
    (logged)."""
    reading = stream.h26x
    pictures = {}
    with tempfile.TemporaryDirectory(prefix="h26x-pictures-") as tmp:
        path = Path(tmp) / f"stream{reading.suffix}"
        for frame in frames:
            with path.open("wb") as out:
                reading.write_decoding_of(out, frame)
            try:
                pictures[id(frame)] = last_picture(path)
            except MediaFileError as exc:
                log.warning(
                    "no picture at packet %d of %s: %s", frame.first_pktno, stream.label, exc
                )
    return pictures


def _pauses(check: CheckResult, session_id: str | None) -> list[tuple[float, float]]:
    for session in check.sessions:
        if session.id == session_id:
            periods = session.playing
            return [
                (a[1], b[0])
                for a, b in zip(periods, periods[1:])
                if a[1] is not None and a[1] < b[0]
            ]
    return []


def capture_screenshots(
    check: CheckResult, folder: Path, catalog: Catalog, source: MediaReader | None = None
) -> list[Screenshot]:
    """Screenshots of the frames of the first streams of a capture, written into ``folder``."""
    shots: list[Screenshot] = []
    streams = [s for s in check.streams if s.frames][:MAX_STREAMS]
    for number, stream in enumerate(streams, start=1):
        label = f"{'TCP' if stream.transport == 'tcp' else 'UDP'} SSRC 0x{stream.ssrc:08X}"
        frames = stream.h26x.decodable() if stream.h26x is not None else stream.frames
        if not frames:
            continue  # an H.264/H.265 stream without a picture a decoder could show
        picks: list[tuple[str, Frame]] = [(catalog.t("shots.first", transport=label), frames[0])]
        for start, end in _pauses(check, stream.session_id):
            before = [f for f in frames if f.time < start]
            after = [f for f in frames if f.time >= end]
            if before:
                picks.append((catalog.t("shots.before_pause", transport=label), before[-1]))
            if after:
                picks.append((catalog.t("shots.after_resume", transport=label), after[0]))
        if frames[-1] is not picks[-1][1]:
            picks.append((catalog.t("shots.last", transport=label), frames[-1]))
        pictures = {}
        if stream.h26x is not None:
            chosen = {id(frame): frame for _, frame in picks}  # a frame may be picked twice
            pictures = _decoded_pictures(stream, list(chosen.values()))
        received = []
        for index, (text, frame) in enumerate(picks):
            rebuilt = _received(frame, index, pictures)
            if rebuilt is None:
                log.info("frame at packet %d cannot be rebuilt as JPEG", frame.first_pktno)
                continue
            received.append((text, rebuilt))
        shots += make_screenshots(received, source, folder, f"stream{number}-shot")
    return shots
