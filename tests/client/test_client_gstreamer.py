"""Interop: the client against GStreamer's rtsp-server (rtpjpegpay) over UDP and TCP."""

from __future__ import annotations

import pytest
from client_support import decode
from gst_peer import gst_rtsp_server, make_clip

from rtsp_client import RTSPClient

pytestmark = pytest.mark.interop

FRAMES = 20


@pytest.fixture(scope="module")
def gst_clip(lab_movie, tmp_path_factory):
    return make_clip(lab_movie, tmp_path_factory.mktemp("gst"), FRAMES)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_frames_from_gstreamer_decode_to_the_source_pixels(gst_clip, transport):
    clip, jpegs = gst_clip
    with gst_rtsp_server(clip) as url:
        with RTSPClient.from_url(url, transport=transport, timeout=10) as client:
            sdp = client.describe()
            client.setup()
            client.play()
            frames = []
            for frame in client.frames(timeout=5):
                frames.append(frame)
                if len(frames) == FRAMES:
                    break
            stats = client.stats()
    assert sdp.encoding.upper() == "JPEG" and sdp.clock_rate == 90000
    assert len(frames) == FRAMES, f"got {len(frames)} frames; stats {stats}"
    source = [decode(j).tobytes() for j in jpegs]
    assert [decode(f.jpeg).tobytes() for f in frames] == source
    assert stats.frames_incomplete == 0 and stats.packets_lost == 0
    assert not stats.dropped
