"""Real players against our server: ffmpeg/ffprobe and GStreamer, over UDP and TCP."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from media_samples import SUB_422, numbered_frames, rgb_bytes
from PIL import Image
from realtools import only_pause_after_eos, require_tool
from server_harness import write_clip

from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

pytestmark = pytest.mark.interop

FRAMES = 12


@pytest.fixture
def rtsp_url(media_dir):
    with RTSPServer(
        options=ServerOptions(port=0, media=media_dir, host="127.0.0.1", fps=50)
    ) as server:
        yield f"rtsp://127.0.0.1:{server.port}"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_ffmpeg_frames_are_the_source_pixels(rtsp_url, transport, tmp_path, clip_frames):
    tools = require_tool("ffmpeg")
    out = tmp_path / "out%03d.jpg"
    subprocess.run(
        [
            tools["ffmpeg"],
            "-v",
            "error",
            "-rtsp_transport",
            transport,
            "-i",
            f"{rtsp_url}/clip.Mjpeg",
            "-frames:v",
            str(FRAMES),
            "-c",
            "copy",
            "-f",
            "image2",
            str(out),
        ],
        check=True,
        timeout=60,
        capture_output=True,
    )
    saved = sorted(tmp_path.glob("out*.jpg"))
    assert len(saved) == FRAMES
    assert [rgb_bytes(p.read_bytes()) for p in saved] == [
        rgb_bytes(f) for f in clip_frames[:FRAMES]
    ]


def test_ffprobe_reports_mjpeg_and_size(rtsp_url):
    tools = require_tool("ffprobe")
    result = subprocess.run(
        [
            tools["ffprobe"],
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-show_streams",
            "-of",
            "json",
            f"{rtsp_url}/clip.Mjpeg",
        ],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    (stream,) = json.loads(result.stdout)["streams"]
    assert stream["codec_name"] == "mjpeg"
    assert (stream["width"], stream["height"]) == (160, 120)


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_gstreamer_plays_to_the_end(rtsp_url, protocol, tmp_path: Path):
    tools = require_tool("gst-launch-1.0")
    # The 8-frame clip ends with RTCP BYE, which rtspsrc turns into end-of-stream.
    result = subprocess.run(
        [
            tools["gst-launch-1.0"],
            "-q",
            "rtspsrc",
            f"location={rtsp_url}/sub/raw.mjpeg",
            f"protocols={protocol}",
            "!",
            "rtpjpegdepay",
            "!",
            "jpegdec",
            "!",
            "videoconvert",
            "!",
            "pngenc",
            "!",
            "multifilesink",
            f"location={tmp_path}/g%03d.png",
        ],
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 or only_pause_after_eos(result.stderr), (
        result.stderr + result.stdout
    )
    frames = sorted(tmp_path.glob("g*.png"))
    assert len(frames) == 8
    assert all(Image.open(f).size == (160, 120) for f in frames)


def ffmpeg_frames(url: str, count: int, transport: str, folder: Path) -> list[bytes]:
    tools = require_tool("ffmpeg")
    subprocess.run(
        [tools["ffmpeg"], "-v", "error", "-rtsp_transport", transport, "-i", url,
         "-frames:v", str(count), "-c", "copy", "-f", "image2", str(folder / "f%03d.jpg")],
        check=True, timeout=60, capture_output=True,
    )  # fmt: skip
    return [p.read_bytes() for p in sorted(folder.glob("f*.jpg"))]


def test_ffmpeg_plays_422_frames_pixel_exact(tmp_path):
    frames = numbered_frames(10, size=(96, 64), subsampling=SUB_422)  # RFC 2435 type 0
    write_clip(tmp_path / "m" / "c422.mjpeg", frames)
    with RTSPServer(
        options=ServerOptions(port=0, media=tmp_path / "m", host="127.0.0.1", fps=50)
    ) as server:
        got = ffmpeg_frames(f"rtsp://127.0.0.1:{server.port}/c422.mjpeg", 6, "tcp", tmp_path)
    assert [rgb_bytes(f) for f in got] == [rgb_bytes(f) for f in frames[:6]]


def test_ffmpeg_plays_the_lab_movie_pixel_exact(lab_movie, tmp_path):
    from rtsp_common.mjpeg import open_media

    with RTSPServer(
        options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1", fps=50)
    ) as server:
        got = ffmpeg_frames(f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg", 6, "udp", tmp_path)
    with open_media(lab_movie) as reader:
        assert [rgb_bytes(f) for f in got] == [rgb_bytes(reader[i]) for i in range(6)]
