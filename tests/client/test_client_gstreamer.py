"""Interop: the client against GStreamer's rtsp-server (rtpjpegpay) over UDP and TCP."""

from __future__ import annotations

import pytest
from gst_peer import gst_rtsp_server, make_mkv_clip, require_gst_peer
from media_samples import decode

from rtsp_client import RTSPClient
from rtsp_client.options import ClientOptions
from rtsp_common.mjpeg import open_media

pytestmark = pytest.mark.interop

FRAMES = 20


@pytest.fixture(scope="module")
def gst_clip(lab_movie, tmp_path_factory):
    """The first FRAMES JPEGs of the lab movie, and the Matroska clip made of them."""
    require_gst_peer()
    with open_media(lab_movie) as media:
        jpegs = [media[i] for i in range(FRAMES)]
    return make_mkv_clip(tmp_path_factory.mktemp("gst"), frames=jpegs), jpegs


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_frames_from_gstreamer_decode_to_the_source_pixels(gst_clip, transport):
    clip, jpegs = gst_clip
    with gst_rtsp_server(clip) as peer:
        with RTSPClient.from_url(
            peer.url, ClientOptions(transport=transport, timeout=10)
        ) as client:
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
