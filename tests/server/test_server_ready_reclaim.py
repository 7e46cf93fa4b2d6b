"""Sessions set up but never played are reclaimed --ready-timeout after their SETUP, however
many keep-alives come: a peer cannot hoard session slots with SETUPs alone. A session that has
played is judged by the ordinary session timeout."""

from __future__ import annotations

import time

import pytest
from blocking_rtsp import RTSPTestClient
from local_ports import free_port

from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

READY_TIMEOUT = 1.0


def setup(client: RTSPTestClient, url: str) -> str:
    return client.setup_udp(url + "/track1", free_port(pair=True))


def test_a_session_never_played_is_reclaimed_despite_keep_alives(media_dir, caplog):
    caplog.set_level("INFO")
    options = ServerOptions(
        port=0,
        media=media_dir,
        host="127.0.0.1",
        fps=50,
        loop=True,
        ready_timeout=READY_TIMEOUT,
        unreachable_limit=0,  # the played session streams to a port nobody listens on
    )
    with RTSPServer(options=options) as server:
        url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
        with RTSPTestClient("127.0.0.1", server.port) as client:
            hoarded = setup(client, url)
            played = setup(client, url)
            assert client.request("PLAY", url, {"Session": played}).status == 200
            started = time.monotonic()
            while time.monotonic() - started < READY_TIMEOUT + 1.5:
                for session in (hoarded, played):  # keep-alives for both (RFC 2326 §10.8)
                    client.request("GET_PARAMETER", url, {"Session": session})
                time.sleep(0.2)
            assert server.sessions.get(hoarded) is None
            assert server.sessions.get(played) is not None
    assert f"session {hoarded} never played in" in caplog.text


def test_ready_timeout_must_be_positive():
    with pytest.raises(ValueError, match="ready_timeout must be a positive number"):
        ServerOptions(ready_timeout=0)
