"""The library client names a port out of range instead of failing to connect to it."""

from __future__ import annotations

import pytest

from rtsp_client import RTSPClient


def test_the_library_client_names_a_bad_port():
    with pytest.raises(ValueError, match="server port 70000"):
        RTSPClient("127.0.0.1", 70000, 0, "movie.Mjpeg")
    with pytest.raises(ValueError, match="RTP port 70000"):
        RTSPClient("127.0.0.1", 554, 70000, "movie.Mjpeg")
