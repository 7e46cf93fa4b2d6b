"""A lab movie.Mjpeg through RFC 2435, and rebuilt frames read by ffmpeg's own decoder."""

from __future__ import annotations

import subprocess

import pytest
from jpeg_samples import deliver, marked
from media_samples import SUB_422, make_jpeg, pixels, read_lab_frames
from realtools import require_tool

from rtsp_common.jpeg import packetize, parse_jpeg
from rtsp_common.jpeg_depacketizer import Depacketizer


@pytest.fixture(scope="module")
def lab_frames(lab_movies):
    frames = read_lab_frames(lab_movies)
    assert len(frames) == 240
    return frames


def test_lab_movie_round_trips_every_frame(lab_frames):
    dep = Depacketizer()
    for index, source in enumerate(lab_frames):
        frame = parse_jpeg(source)
        assert (frame.width, frame.height, frame.type) == (640, 480, 1)
        rebuilt = deliver(marked(packetize(source, 1400)), timestamp=index * 4500, depacketizer=dep)
        assert len(rebuilt) == 1, f"frame {index} did not come out"
        assert pixels(rebuilt[0]) == pixels(source), f"frame {index} differs"
    assert (dep.frames_complete, dep.frames_dropped) == (240, 0)


def _ffmpeg_decode(ffmpeg: str, path) -> bytes:
    result = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert not result.stderr, result.stderr.decode(errors="replace")
    return result.stdout


@pytest.mark.interop
def test_ffmpeg_decodes_rebuilt_frames_like_the_originals(lab_frames, tmp_path):
    ffmpeg = require_tool("ffmpeg")["ffmpeg"]
    sources = {
        "lab": lab_frames[100],
        "restart422": make_jpeg(320, 240, subsampling=SUB_422, restart_marker_rows=1),
        "sixteen_bit": make_jpeg(
            96, 64, qtables=[[300 if i > 5 else 3 for i in range(64)], [5] * 64]
        ),
    }
    for name, source in sources.items():
        (rebuilt,) = deliver(marked(packetize(source, 1000)))
        original_path = tmp_path / f"{name}-original.jpg"
        rebuilt_path = tmp_path / f"{name}-rebuilt.jpg"
        original_path.write_bytes(source)
        rebuilt_path.write_bytes(rebuilt)
        decoded = _ffmpeg_decode(ffmpeg, rebuilt_path)
        width, height = parse_jpeg(source).width, parse_jpeg(source).height
        assert len(decoded) == width * height * 3, name
        assert decoded == _ffmpeg_decode(ffmpeg, original_path), name
