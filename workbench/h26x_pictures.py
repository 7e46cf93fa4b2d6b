"""Decoded pictures of an H.264/H.265 elementary stream, one PNG per access unit.

ffmpeg runs as a subprocess: it decodes both codecs the Debian way the rest of the
workbench already needs it for, and a decoder crash on hostile data stays in its own
process instead of the workbench's.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from rtsp_common.errors import MediaFileError

DECODE_TIMEOUT_S = 300  # a capture's worth of video decodes in seconds; this bounds a hang


def decode_pictures(stream: Path, folder: Path) -> int:
    """Decode ``stream`` (.h264/.h265 Annex B) into ``folder``/NNNNN.png; the count written.
    Raises MediaFileError when ffmpeg is missing or fails."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise MediaFileError("--images needs ffmpeg on PATH")
    folder.mkdir(parents=True, exist_ok=True)
    demuxer = "hevc" if stream.suffix == ".h265" else "h264"
    command = [
        ffmpeg, "-v", "error", "-nostdin", "-f", demuxer, "-i", str(stream),
        "-fps_mode", "passthrough", "-start_number", "0", "-y", str(folder / "%05d.png"),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=DECODE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise MediaFileError(f"ffmpeg did not decode {stream} in {DECODE_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise MediaFileError(f"ffmpeg could not decode {stream}: {done.stderr.strip()[:300]}")
    return len(list(folder.glob("*.png")))
