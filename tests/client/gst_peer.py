"""GStreamer's rtsp-server as a peer: a Matroska clip made with ffmpeg from lab frames."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from client_support import PEERS
from realtools import missing, require_tool

from rtsp_common.mjpeg import open_media

SYSTEM_PYTHON = "/usr/bin/python3"


def make_clip(
    lab_movie: Path, folder: Path, frames: int, fps: int = 30
) -> tuple[Path, list[bytes]]:
    """The first ``frames`` JPEGs of the lab movie as Matroska (ffmpeg ``-c copy``)."""
    require_tool("ffmpeg")
    with open_media(lab_movie) as media:
        jpegs = [media[i] for i in range(frames)]
    raw = folder / "clip.mjpeg"
    raw.write_bytes(b"".join(jpegs))
    clip = folder / "clip.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-framerate", str(fps), "-f", "mjpeg", "-i", str(raw),
         "-c", "copy", str(clip)],
        check=True, timeout=60,
    )  # fmt: skip
    return clip, jpegs


@contextlib.contextmanager
def gst_rtsp_server(clip: Path, path: str = "/clip") -> Iterator[str]:
    """Run tests/peers/gst_rtsp_server.py under Debian's python3; yield the clip's URL."""
    require_tool("gst-launch-1.0")
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
        capture_output=True,
    )
    if probe.returncode != 0:
        missing("GStreamer rtsp-server bindings (gir1.2-gst-rtsp-server-1.0, python3-gi)")
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, str(PEERS / "gst_rtsp_server.py"), "--port", "0", "--media", str(clip),
         "--path", path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"GStreamer peer did not start: {line!r} {proc.stderr.read()}")
        yield f"rtsp://127.0.0.1:{int(line.split()[1])}{path}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
