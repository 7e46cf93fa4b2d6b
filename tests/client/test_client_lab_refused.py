"""The lab's RTSPClient when nothing listens yet: setup() raises ConnectionLost, the
program exits without asyncio's "Task was destroyed but it is pending!", and the same
client sets up once the server is there."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from local_ports import LOOPBACK, free_port
from server_process import rtsp_server_process

from rtsp_client import RTSPClient
from rtsp_client.errors import ConnectionLost

REFUSED_SCRIPT = """
import sys
from rtsp_client import RTSPClient
from rtsp_client.errors import ConnectionLost
client = RTSPClient("127.0.0.1", int(sys.argv[1]), 0, "movie.Mjpeg")
try:
    client.setup()
except ConnectionLost as exc:
    print("refused:", exc)
"""


def test_refused_setup_leaves_no_pending_task_at_exit():
    port = free_port(socket.SOCK_STREAM)
    done = subprocess.run(
        [sys.executable, "-c", REFUSED_SCRIPT, str(port)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout
    assert "Task was destroyed" not in done.stderr


def test_same_client_sets_up_once_the_server_listens(tmp_path, small_jpegs):
    clip = tmp_path / "movie.Mjpeg"
    clip.write_bytes(b"".join(b"%05d" % len(j) + j for j in small_jpegs))
    port = free_port(socket.SOCK_STREAM)
    client = RTSPClient(LOOPBACK, port, 0, "movie.Mjpeg")
    try:
        with pytest.raises(ConnectionLost):
            client.setup()
        with rtsp_server_process(clip, "--port", str(port)):
            client.setup()
            client.play()
            client.teardown()
    finally:
        client.close()
