"""Write a whole clip at once: into a temporary file beside the target, then moved into place."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rtsp_common.errors import MediaFileError
from rtsp_common.mjpeg import format_for_path, open_writer

logger = logging.getLogger(__name__)


def _new_file_mode() -> int:
    """The mode open() gives a new file: 0o666 less the umask (mkstemp's 0o600 would hide
    the clip from a server or player running as another user)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@dataclass(frozen=True)
class WrittenClip:
    """What :func:`write_clip` wrote."""

    path: Path
    format: str  # "lab" or "raw"
    frames: int
    file_bytes: int
    largest_frame: int


def clip_format(path: Path) -> str:
    """The format a clip's name asks for; MediaFileError naming the suffixes otherwise.

    The words are the workbench's own: sample and convert choose the format by the name
    alone and have no option to name it."""
    try:
        return format_for_path(path)
    except MediaFileError:
        raise MediaFileError(
            f"{path}: the name says no clip format; end it in .Mjpeg for the lab's format "
            f"or in .mjpeg/.mjpg for raw JPEG"
        ) from None


def write_clip(path: str | os.PathLike[str], jpegs: Iterable[bytes]) -> WrittenClip:
    """Write every JPEG to ``path`` (lab format for .Mjpeg, raw for .mjpeg/.mjpg).

    A reader of ``path`` never sees half a clip, and a failure leaves the old file as it was.
    Raises MediaFileError on an unknown suffix, a frame the format cannot hold, or no frames.
    """
    path = Path(path)
    format = clip_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".part", dir=path.parent)
    os.close(fd)
    frames = largest = 0
    try:
        with open_writer(tmp_name, format=format, overwrite=True) as writer:
            for jpeg in jpegs:
                writer.append(jpeg)
                frames += 1
                largest = max(largest, len(jpeg))
        if frames == 0:
            raise MediaFileError(f"{path}: no frames to write")
        os.chmod(tmp_name, _new_file_mode())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    written = WrittenClip(path, format, frames, path.stat().st_size, largest)
    logger.debug("wrote %s", written)
    return written
