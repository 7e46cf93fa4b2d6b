"""Interop: rtsp-client receives H.264 and H.265 (with PCMU audio beside) from GStreamer's
rtsp-server, over UDP and TCP; what it records decodes to exactly the source's pictures."""

from __future__ import annotations

import json
import subprocess

import pytest
from gst_peer import count_video_frames, gst_rtsp_server, make_h26x_clip, require_gst_peer
from PIL import Image
from realtools import require_tool

from rtsp_client.cli import ExitCode, main

pytestmark = pytest.mark.interop

SIZE = (320, 240)


def frame_hashes(path) -> list[str]:
    """ffmpeg's MD5 of every decoded picture of the first video stream, in order."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framemd5", "-"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    return [line.split(",")[-1].strip() for line in out.splitlines() if not line.startswith("#")]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """An H.264 and an H.265 clip with a tone track, made by ffmpeg."""
    require_gst_peer()
    require_tool("ffprobe")
    folder = tmp_path_factory.mktemp("h26x")
    return {codec: make_h26x_clip(folder / f"{codec}.mkv", codec, size=SIZE) for codec in
            ("h264", "h265")}  # fmt: skip


# Over UDP the parameter sets travel only in the SDP (rtph26xpay's config-interval 0), over
# TCP also in band before every IDR (-1): both ways the recording must decode.
@pytest.mark.parametrize(("transport", "config_interval"), [("udp", 0), ("tcp", -1)])
@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_recording_decodes_to_the_source_pictures(
    clips, tmp_path, capsys, codec, transport, config_interval
):
    pytest.importorskip("av")
    clip = clips[codec]
    record = tmp_path / f"out.{codec}"
    frames_dir = tmp_path / "frames"
    stats_file = tmp_path / "stats.json"
    with gst_rtsp_server(clip, codec=codec, audio=True, config_interval=config_interval) as peer:
        code = main(
            [peer.url, "--transport", transport, "--record", str(record),
             "--frames-dir", str(frames_dir), "--stats-json", str(stats_file),
             "--rtp-timeout", "10"]
        )  # fmt: skip
    err = capsys.readouterr().err
    assert code == ExitCode.OK, err
    source = frame_hashes(clip)
    assert frame_hashes(record) == source
    assert count_video_frames(record) == count_video_frames(clip) == len(source)
    pictures = sorted(frames_dir.glob("frame_*.png"))
    assert len(pictures) == len(source)
    with Image.open(pictures[0]) as first:
        assert first.size == SIZE
    stats = json.loads(stats_file.read_text())
    assert stats["packets_lost"] == 0 and stats["frames_complete"] == len(source)
    assert stats["frames_incomplete"] == 0
    assert stats["jitter_ms"] is not None and stats["jitter_ms"] < 1000  # on the 90 kHz clock


def test_recording_to_the_wrong_format_is_refused_clearly(clips, tmp_path, capsys):
    with gst_rtsp_server(clips["h264"], codec="h264") as peer:
        code = main([peer.url, "--record", str(tmp_path / "out.h265"), "--rtp-timeout", "10"])
    assert code == ExitCode.FAILURE
    assert "the stream is H264; record it to a .h264" in capsys.readouterr().err
