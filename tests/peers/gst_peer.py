"""GStreamer's rtsp-server as a peer for tests and benchmarks: clips for it, and its process.

The server script (gst_rtsp_server.py beside this file) needs Debian's python3 with python3-gi;
this module runs it as a subprocess from any interpreter. Tests and benchmarks import it as
``gst_peer``: tests/conftest.py and bench/__init__.py put tests/ and tests/peers on sys.path.
"""

from __future__ import annotations

import functools
import logging
import select
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from child_processes import stop_process

log = logging.getLogger(__name__)

DEBIAN_PYTHON = Path("/usr/bin/python3")
SERVER_SCRIPT = Path(__file__).resolve().with_name("gst_rtsp_server.py")
START_TIMEOUT = 30.0  # s for the server to print its port; GStreamer's first start is slow


class GstPeerError(RuntimeError):
    """GStreamer's rtsp-server did not start or a clip for it could not be made."""


class GstPeerUnavailable(GstPeerError):
    """Debian's python3 or its GstRtspServer bindings are missing."""


@dataclass(frozen=True)
class GstPeer:
    """A running GStreamer rtsp-server: where it listens and its process id."""

    port: int
    path: str
    pid: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"rtsp://{self.host}:{self.port}{self.path}"


@functools.cache
def unavailable_reason() -> str | None:
    """Why the peer cannot run here (no Debian python3, no GstRtspServer bindings), or None."""
    if not DEBIAN_PYTHON.exists():
        return f"Debian's {DEBIAN_PYTHON} (with python3-gi) not present"
    probe = subprocess.run(
        [str(DEBIAN_PYTHON), "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
         "from gi.repository import GstRtspServer"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if probe.returncode != 0:
        return (
            "GStreamer rtsp-server bindings (python3-gi, gir1.2-gst-rtsp-server-1.0) "
            f"not found for {DEBIAN_PYTHON}: {probe.stderr.strip()[-200:]}"
        )
    return None


def require_gst_peer() -> None:
    """In a test: skip (locally) or fail (CI=true) unless the peer and ffmpeg can run."""
    from realtools import missing, require_tool

    require_tool("ffmpeg")
    reason = unavailable_reason()
    if reason is not None:
        missing(reason)


def _ffmpeg(args: Sequence[str]) -> None:
    try:
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", *args],
            check=True,
            timeout=120,
            capture_output=True,
            text=True,
        )
    except FileNotFoundError as exc:
        raise GstPeerError("ffmpeg not found on PATH: it makes the peer's clips") from exc
    except subprocess.CalledProcessError as exc:
        raise GstPeerError(f"ffmpeg failed: {exc.stderr.strip()[-300:]}") from exc


def make_mjpeg_clip(
    path: Path, seconds: float = 2, size: tuple[int, int] = (320, 240), fps: int = 30
) -> Path:
    """ffmpeg's testsrc as raw baseline 4:2:0 MJPEG with the standard Huffman tables.

    4:2:0 because GStreamer's rtpjpegpay refuses 4:4:4; standard tables because RFC 2435
    carries no others.
    """
    width, height = size
    _ffmpeg(["-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate={fps}",
             "-t", str(seconds), "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-huffman", "default",
             "-q:v", "5", "-f", "mjpeg", str(path)])  # fmt: skip
    return path


def remux_to_mkv(mjpeg: Path, fps: int = 30) -> Path:
    """The same JPEGs in Matroska (``-c copy``), timestamped at ``fps``: what the peer serves."""
    mkv = mjpeg.with_suffix(".mkv")
    _ffmpeg(["-framerate", str(fps), "-f", "mjpeg", "-i", str(mjpeg), "-c", "copy", str(mkv)])
    return mkv


def make_mkv_clip(
    folder: Path,
    seconds: float = 2,
    size: tuple[int, int] = (320, 240),
    fps: int = 30,
    frames: Sequence[bytes] | None = None,
) -> Path:
    """folder/clip.mkv for the peer: the given JPEG ``frames``, or else testsrc (see
    make_mjpeg_clip). The raw folder/clip.mjpeg stays beside it."""
    raw = folder / "clip.mjpeg"
    if frames is None:
        make_mjpeg_clip(raw, seconds, size, fps)
    else:
        raw.write_bytes(b"".join(frames))
    return remux_to_mkv(raw, fps)


# ffmpeg's encoder per codec; GStreamer here has none for H.264/H.265, so clips come from ffmpeg.
H26X_ENCODERS = {"h264": "libx264", "h265": "libx265"}
H26X_AUDIO_RATE = 8000  # Hz: the peer sends PCMU, RFC 3551's 8000 Hz clock


def make_h26x_clip(
    path: Path,
    codec: str = "h264",
    *,
    seconds: float = 3,
    size: tuple[int, int] = (320, 240),
    fps: int = 25,
    keyframe_interval: int = 10,
    bframes: int = 0,
    audio: bool = True,
) -> Path:
    """ffmpeg's testsrc encoded by libx264/libx265 into ``path`` (.mkv or .mp4) for the peer's
    ``--codec``: an IDR every ``keyframe_interval`` frames so a few seconds hold several, no
    B-frames unless asked (as most cameras send), and with ``audio`` a 440 Hz tone track
    (16-bit PCM in Matroska, AAC in MP4) the peer can send as PCMU."""
    if codec not in H26X_ENCODERS:
        raise ValueError(f"codec must be one of {sorted(H26X_ENCODERS)}, not {codec!r}")
    width, height = size
    args = ["-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate={fps}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={H26X_AUDIO_RATE}"]
    args += ["-t", str(seconds), "-c:v", H26X_ENCODERS[codec], "-pix_fmt", "yuv420p",
             "-preset", "veryfast", "-g", str(keyframe_interval),
             "-keyint_min", str(keyframe_interval), "-bf", str(bframes)]  # fmt: skip
    if codec == "h265":
        # x265 takes its GOP from -x265-params; without this it logs to stderr on every run.
        args += ["-x265-params", f"keyint={keyframe_interval}:min-keyint={keyframe_interval}"
                 f":bframes={bframes}:scenecut=0:log-level=error"]  # fmt: skip
    else:
        args += ["-sc_threshold", "0"]  # no extra IDRs at scene cuts: a regular GOP
    if audio:
        audio_codec = "aac" if path.suffix.lower() in (".mp4", ".mov") else "pcm_s16le"
        args += ["-c:a", audio_codec, "-ac", "1"]
    _ffmpeg([*args, str(path)])
    return path


def count_video_frames(path: Path) -> int:
    """Frames of a file's first video stream, as ffprobe decodes and counts them."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    return int(out.strip())


def _read_port(proc: subprocess.Popen, timeout: float) -> int | None:
    """The port from the server's ``PORT <n>`` line, or None if it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([proc.stdout], [], [], remaining)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("PORT "):
                return int(line.split()[1])
            if not line:
                return None
    return None


@contextmanager
def gst_rtsp_server(
    media: Path | None = None,
    *,
    path: str = "/clip",
    test_pattern: bool = False,
    launch: str | None = None,
    fps: int | None = None,
    shared: bool = False,
    codec: str = "mjpeg",
    config_interval: int | None = None,
    audio: bool = False,
    auth: tuple[str, str] | None = None,
    auth_method: str = "digest",
    start_timeout: float = START_TIMEOUT,
) -> Iterator[GstPeer]:
    """Run GStreamer's rtsp-server on a free port of 127.0.0.1, serving the Matroska clip
    ``media`` (MJPEG, or by ``codec`` "h264"/"h265" an ffmpeg-made Matroska/MP4 clip, see
    make_h26x_clip, with ``config_interval`` for rtph26xpay and ``audio`` its tone as PCMU)
    (or a live test picture with ``test_pattern``, ``fps`` frames a second, or the
    pipeline ``launch`` whose payloaders are named pay0, pay1, ...) at ``path``; stop it on
    exit. ``auth`` (user, password) lets only that user in, by ``auth_method`` "digest" or
    "basic".

    Raises GstPeerUnavailable when the bindings are missing, GstPeerError when it fails to start.
    """
    if sum((media is not None, test_pattern, launch is not None)) != 1:
        raise ValueError("give one of a Matroska clip, test_pattern=True or launch")
    reason = unavailable_reason()
    if reason is not None:
        raise GstPeerUnavailable(reason)
    command = [str(DEBIAN_PYTHON), str(SERVER_SCRIPT), "--port", "0", "--path", path]
    if launch is not None:
        command += ["--launch", launch]
    else:
        command += ["--test-pattern"] if test_pattern else ["--media", str(media)]
    if fps is not None:
        command += ["--fps", str(fps)]
    if shared:
        command.append("--shared")
    if codec != "mjpeg":
        command += ["--codec", codec]
    if config_interval is not None:
        command += ["--config-interval", str(config_interval)]
    if audio:
        command.append("--audio")
    if auth is not None:
        command += ["--auth", ":".join(auth), "--auth-method", auth_method]
    # A file, not a pipe, for its log: nobody reads it while it serves, and a full pipe blocks.
    with tempfile.TemporaryFile("w+") as log_file:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, text=True)
        try:
            port = _read_port(proc, start_timeout)
            if port is None:
                proc.kill()
                proc.wait()
                log_file.seek(0)
                raise GstPeerError(
                    f"GStreamer rtsp-server did not start (exit {proc.returncode}): "
                    f"{log_file.read().strip()[-500:]}"
                )
            log.debug("GStreamer rtsp-server pid %d on port %d", proc.pid, port)
            yield GstPeer(port, path, proc.pid)
        finally:
            stop_process(proc)
            proc.stdout.close()
