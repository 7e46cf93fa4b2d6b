"""The lab's dialect against a server that behaves like the lab's reference server."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from lab_server import LabServer
from realtools import PEERS

from rtsp_client import RTSPClient, RTSPTimeout
from rtsp_client.options import ClientOptions, Dialect
from rtsp_client.state import ClientState
from rtsp_common.mjpeg import open_media


def test_lab_session_receives_the_movie_frames_byte_for_byte(lab_movie):
    received = []
    with LabServer(lab_movie) as server:
        client = RTSPClient(
            "127.0.0.1",
            server.port,
            0,
            "movie.Mjpeg",
            ClientOptions(dialect=Dialect.LAB),
            on_frame=lambda jpeg, ts, arrival, index: received.append((index, jpeg)),
        )
        client.setup()
        assert client.state is ClientState.READY and client.session_id
        client.play()
        frames = []
        for frame in client.frames(timeout=3):
            frames.append(frame)
            if len(frames) == 6:
                break
        client.pause()
        assert client.state is ClientState.READY
        stats = client.stats()
        client.teardown()
        client.close()
        requests = list(server.requests)
    with open_media(lab_movie) as media:
        source = [media[i] for i in range(6)]
    assert [f.jpeg for f in frames] == source
    assert [i for i, _ in received[:6]] == list(range(6))
    assert stats.frames_complete >= 6 and stats.packets_lost == 0
    # The lab's wire form: no scheme, LF lines, its Transport spelling.
    port = client.rtp_port
    assert requests[0].startswith(
        f"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= {port}"
    )
    assert "\r" not in "".join(requests)
    assert [r.split(" ")[0] for r in requests] == ["SETUP", "PLAY", "PAUSE", "TEARDOWN"]


def test_lab_server_silence_on_a_missing_file_is_a_timeout(lab_movie):
    with LabServer(lab_movie) as server:
        client = RTSPClient(
            "127.0.0.1",
            server.port,
            0,
            "nothere.Mjpeg",
            ClientOptions(dialect=Dialect.LAB, timeout=0.5),
        )
        with pytest.raises(RTSPTimeout):
            client.setup()
        client.close()


def test_lab_server_runs_as_a_script(lab_movie):
    proc = subprocess.Popen(
        [sys.executable, str(PEERS / "lab_server.py"), "--port", "0", "--media", str(lab_movie)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("PORT ")
        client = RTSPClient(
            "127.0.0.1", int(line.split()[1]), 0, "movie.Mjpeg", ClientOptions(dialect=Dialect.LAB)
        )
        client.setup()
        client.play()
        start = time.monotonic()
        frame = next(client.frames(timeout=3))
        assert frame.jpeg.startswith(b"\xff\xd8") and time.monotonic() - start < 3
        client.teardown()
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_lab_dialect_against_our_server(lab_movie):
    from rtsp_server import RTSPServer
    from rtsp_server.options import ServerOptions

    with RTSPServer(
        options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1", fps=30)
    ) as server:
        with RTSPClient(
            "127.0.0.1", server.port, 0, "movie.Mjpeg", ClientOptions(dialect=Dialect.LAB)
        ) as client:
            client.setup()
            client.play()
            frames = [frame for _, frame in zip(range(5), client.frames(timeout=3))]
            client.pause()
    with open_media(lab_movie) as media:
        assert [f.jpeg for f in frames] == [media[i] for i in range(5)]
