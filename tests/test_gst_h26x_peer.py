"""The H.264/H.265 test peer itself: GStreamer's rtsp-server serving an ffmpeg-made clip, read
by ffmpeg as the client, so that the project's client tests stand on a peer known to work."""

from __future__ import annotations

import subprocess

import pytest
from blocking_rtsp import RTSPTestClient
from gst_peer import count_video_frames, gst_rtsp_server, make_h26x_clip, require_gst_peer

pytestmark = pytest.mark.interop

# What rtph264pay / rtph265pay put in the SDP's fmtp (RFC 6184 §8.1, RFC 7798 §7.1).
SPROP_KEYS = {"h264": ("sprop-parameter-sets",), "h265": ("sprop-vps", "sprop-sps", "sprop-pps")}
ENCODING = {"h264": "H264", "h265": "H265"}


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_peer_describes_video_with_parameter_sets_and_pcmu_audio(tmp_path, codec):
    require_gst_peer()
    clip = make_h26x_clip(tmp_path / "clip.mkv", codec)
    with gst_rtsp_server(clip, codec=codec, audio=True) as peer:
        with RTSPTestClient(peer.host, peer.port) as rtsp:
            response = rtsp.request("DESCRIBE", peer.url, {"Accept": "application/sdp"})
    sdp = response.body.decode()
    assert response.status == 200, sdp
    assert f"a=rtpmap:96 {ENCODING[codec]}/90000" in sdp
    for key in SPROP_KEYS[codec]:
        assert f"{key}=" in sdp, sdp
    assert "m=audio" in sdp and ("PCMU/8000" in sdp or "RTP/AVP 0" in sdp), sdp


@pytest.mark.parametrize(("codec", "suffix"), [("h264", ".mkv"), ("h265", ".mp4")])
def test_ffmpeg_receives_every_frame_of_the_clip(tmp_path, codec, suffix):
    require_gst_peer()
    clip = make_h26x_clip(tmp_path / f"clip{suffix}", codec, keyframe_interval=10)
    received = tmp_path / "received.mkv"
    with gst_rtsp_server(clip, codec=codec, audio=True, config_interval=-1) as peer:
        subprocess.run(
            ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", peer.url,
             "-map", "0", "-c", "copy", "-y", str(received)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    assert count_video_frames(received) == count_video_frames(clip)
