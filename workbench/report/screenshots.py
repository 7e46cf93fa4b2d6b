"""Screenshots for the report: a received frame beside the source frame of the same number.

The number is read from the received frame's pixels (the sample clip codes it in the
top-left corner), so the pair shows that what arrived is what was sent.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from rtsp_common.mjpeg import MediaReader
from workbench.report.model import Screenshot
from workbench.sample import FrameCodeError, read_frame_number

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedFrame:
    """A frame the client received, as an image file's bytes (JPEG, or a PNG decoded from
    H.264/H.265), with its arrival time (Unix seconds)."""

    jpeg: bytes
    arrival: float
    index: int  # order of reception in its session, from 0


def decode_frame_number(jpeg: bytes) -> int | None:
    """The sample frame number coded in a JPEG, or None when it cannot be read."""
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            return read_frame_number(image)
    except (FrameCodeError, UnidentifiedImageError, OSError, ValueError) as exc:
        log.debug("no frame number in a received frame: %s", exc)
        return None


def _save_png(jpeg: bytes, path: Path) -> bool:
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            image.convert("RGB").save(path, format="PNG")
        return True
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        log.warning("cannot decode a frame for %s: %s", path.name, exc)
        return False


def make_screenshot(
    label: str,
    frame: ReceivedFrame,
    source: MediaReader | None,
    folder: Path,
    slug: str,
) -> Screenshot | None:
    """Write ``<slug>-received.png`` and ``<slug>-source.png``; None when the frame won't decode."""
    received_name = f"{slug}-received.png"
    if not _save_png(frame.jpeg, folder / received_name):
        return None
    number = decode_frame_number(frame.jpeg)
    source_name = None
    source_number = None
    if source is not None and number is not None and 0 <= number < len(source):
        source_name = f"{slug}-source.png"
        if _save_png(source[number], folder / source_name):
            with Image.open(folder / source_name) as image:
                try:
                    source_number = read_frame_number(image)
                except FrameCodeError as exc:
                    log.warning("source frame %d carries no readable number: %s", number, exc)
        else:
            source_name = None
    return Screenshot(label, received_name, source_name, number, source_number)


def make_screenshots(
    picks: Sequence[tuple[str, ReceivedFrame]],
    source: MediaReader | None,
    folder: Path,
    prefix: str,
) -> list[Screenshot]:
    """One Screenshot per (label, frame) pick, named ``<prefix>-<n>-received.png`` etc."""
    shots = []
    for n, (label, frame) in enumerate(picks, start=1):
        shot = make_screenshot(label, frame, source, folder, f"{prefix}-{n}")
        if shot is not None:
            shots.append(shot)
    return shots
