"""GStreamer's rtsp-server as a test peer: a small MJPEG Matroska clip and the server process.

Import with ``from gst_mkv_peer import make_clip, gst_rtsp_server`` (a unique module name:
test folders share one import namespace).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from realtools import ROOT, missing, require_tool

GST_PEER = ROOT / "tests" / "peers" / "gst_rtsp_server.py"
DEBIAN_PYTHON = "/usr/bin/python3"


def make_clip(folder: Path, seconds: float = 2, size: str = "320x240") -> Path:
    """A 4:2:0 MJPEG clip in Matroska (GStreamer's rtpjpegpay refuses 4:4:4)."""
    require_tool("ffmpeg")
    mjpeg, mkv = folder / "clip.mjpeg", folder / "clip.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size={size}:rate=30", "-t", str(seconds), "-pix_fmt", "yuvj420p",
                    "-c:v", "mjpeg", "-q:v", "5", "-f", "mjpeg", str(mjpeg)],
                   check=True, timeout=120)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-framerate", "30", "-f", "mjpeg", "-i",
                    str(mjpeg), "-c", "copy", str(mkv)], check=True, timeout=120)
    return mkv


@contextmanager
def gst_rtsp_server(media: Path, path: str = "/clip") -> Iterator[int]:
    """Run tests/peers/gst_rtsp_server.py on a free port; yields the port."""
    check = subprocess.run([DEBIAN_PYTHON, "-c", "import gi; gi.require_version("
                            "'GstRtspServer', '1.0'); from gi.repository import GstRtspServer"],
                           capture_output=True, timeout=60)
    if check.returncode != 0:
        missing(f"GstRtspServer bindings for {DEBIAN_PYTHON}: {check.stderr.decode()[-200:]}")
    proc = subprocess.Popen([DEBIAN_PYTHON, str(GST_PEER), "--port", "0", "--media",
                             str(media), "--path", path],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("PORT "), f"GStreamer peer did not start: {line!r}"
        yield int(line.split()[1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
