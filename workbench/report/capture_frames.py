"""Screenshots for a report made from a capture alone: the frames the capture holds.

For each stream: the first frame, the last before each pause and the first after it,
and the last frame, rebuilt from the captured packets. With the source clip at hand
each is shown beside the source frame of the same number. H.264/H.265 access units are
decoded by ffmpeg (workbench.h26x_pictures) from the stream's Annex B bytes.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from analysis.check import CheckResult
from analysis.payloads.frames import Frame
from rtsp_common.errors import MediaFileError
from rtsp_common.mjpeg import MediaReader
from workbench.h26x_pictures import decode_pictures
from workbench.report.i18n import Catalog
from workbench.report.model import Screenshot
from workbench.report.screenshots import ReceivedFrame, make_screenshots

log = logging.getLogger(__name__)

MAX_STREAMS = 2  # streams whose frames are shown


def _received(frame: Frame, index: int, pictures: dict[int, bytes]) -> ReceivedFrame | None:
    image = pictures.get(id(frame)) if pictures else frame.jpeg()
    return ReceivedFrame(image, frame.time, index) if image else None


def _decoded_pictures(stream) -> dict[int, bytes]:
    """PNG bytes of each complete access unit of an H.264/H.265 stream, by ``id(frame)``;
    {} for other streams or when ffmpeg cannot decode it (logged)."""
    if stream.h26x is None:
        return {}
    written = [f for f in stream.h26x.frames if f.complete and f.parts]
    with tempfile.TemporaryDirectory(prefix="h26x-pictures-") as tmp:
        path = Path(tmp) / f"stream{stream.h26x.suffix}"
        with path.open("wb") as out:
            stream.h26x.write_elementary_stream(out)
        try:
            decode_pictures(path, Path(tmp) / "pictures")
        except MediaFileError as exc:
            log.warning("no pictures for %s: %s", stream.label, exc)
            return {}
        # Without reordering (as cameras send) pictures come out in access unit order.
        pngs = sorted((Path(tmp) / "pictures").glob("*.png"))
        return {id(f): p.read_bytes() for f, p in zip(written, pngs, strict=False)}


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
        pictures = _decoded_pictures(stream) if stream.h26x is not None else {}
        frames = [f for f in stream.frames if id(f) in pictures] if pictures else stream.frames
        if not frames:
            continue  # an H.264/H.265 stream ffmpeg could not decode
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
        received = []
        for index, (text, frame) in enumerate(picks):
            rebuilt = _received(frame, index, pictures)
            if rebuilt is None:
                log.info("frame at packet %d cannot be rebuilt as JPEG", frame.first_pktno)
                continue
            received.append((text, rebuilt))
        shots += make_screenshots(received, source, folder, f"stream{number}-shot")
    return shots
