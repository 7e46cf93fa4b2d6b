"""Decoded pictures of an H.264/H.265 elementary stream: one PNG per access unit, or the
last picture alone.

ffmpeg runs as a subprocess: it decodes both codecs the Debian way the rest of the
workbench already needs it for, and a decoder crash on hostile data stays in its own
process instead of the workbench's.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from rtsp_common.errors import MediaFileError

DECODE_TIMEOUT_S = 300  # a capture's worth of video decodes in seconds; this bounds a hang


def decode_pictures(stream: Path, folder: Path) -> int:
    """Decode ``stream`` (.h264/.h265 Annex B) into ``folder``/NNNNN.png; the count written.
    Raises MediaFileError when ffmpeg is missing or fails."""
    folder.mkdir(parents=True, exist_ok=True)
    _ffmpeg(stream, ["-start_number", "0", str(folder / "%05d.png")])
    return len(list(folder.glob("*.png")))


def last_picture(stream: Path) -> bytes:
    """The last picture ``stream`` (.h264/.h265 Annex B) decodes to, as PNG. Each picture
    before it is decoded over the one before into an uncompressed file, not encoded.
    Raises MediaFileError when ffmpeg is missing, fails, or shows no picture."""
    with tempfile.TemporaryDirectory(prefix="h26x-picture-") as tmp:
        last = Path(tmp) / "last.bmp"
        _ffmpeg(stream, ["-update", "1", str(last)])
        if not last.exists():
            raise MediaFileError(f"ffmpeg decoded no picture from {stream}")
        png = io.BytesIO()
        with Image.open(last) as image:
            image.save(png, "PNG")
        return png.getvalue()


def _ffmpeg(stream: Path, output: list[str]) -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise MediaFileError("decoding H.264/H.265 needs ffmpeg on PATH")
    demuxer = "hevc" if stream.suffix == ".h265" else "h264"
    command = [
        ffmpeg, "-v", "error", "-nostdin", "-f", demuxer, "-i", str(stream),
        "-fps_mode", "passthrough", "-y", *output,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=DECODE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise MediaFileError(f"ffmpeg did not decode {stream} in {DECODE_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise MediaFileError(f"ffmpeg could not decode {stream}: {done.stderr.strip()[:300]}")
