"""A peer that pipelines requests and never reads the replies: the server stops reading its
requests once the unsent replies pass reply_backlog_limit, closes it if they stay there for
request_timeout, and keeps serving everyone else meanwhile."""

from __future__ import annotations

import socket
import time

from blocking_rtsp import RTSPTestClient

from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

BACKLOG = 64 * 1024
FLOOD_LIMIT = 64 * 1024 * 1024  # bytes of requests the test gives up sending at


def test_a_peer_that_never_reads_its_replies_is_paused_then_closed(media_dir, caplog):
    options = ServerOptions(
        port=0, media=media_dir, host="127.0.0.1", reply_backlog_limit=BACKLOG, request_timeout=1.0
    )
    with RTSPServer(options=options) as server:
        flood = socket.socket()
        flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        flood.connect(("127.0.0.1", server.port))
        request = (
            f"DESCRIBE rtsp://127.0.0.1:{server.port}/clip.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n"
        ).encode()
        burst = request * 200
        flood.settimeout(2.0)
        sent = 0
        try:
            while sent < FLOOD_LIMIT:
                sent += flood.send(burst)
        except TimeoutError:
            pass  # the server stopped reading: our sends block
        except OSError:
            pass  # or it has closed us already
        assert sent < FLOOD_LIMIT
        # Everyone else is still served while the flood waits.
        other = RTSPTestClient("127.0.0.1", server.port)
        assert other.request("OPTIONS", "*").status == 200
        deadline = time.monotonic() + 10
        while server.stats()["connections"] > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.stats()["connections"] == 1  # the flood is gone, the other one stays
        flood.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("does not read its replies" in m for m in messages)
    assert any("read none of its replies for 1 s: closed" in m for m in messages)


def test_a_slow_reader_is_resumed_when_its_replies_drain(media_dir):
    options = ServerOptions(
        port=0, media=media_dir, host="127.0.0.1", reply_backlog_limit=BACKLOG, request_timeout=5.0
    )
    with RTSPServer(options=options) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        request = b"OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\n"
        count = 4000  # replies well past the backlog limit
        sock.sendall(request * count)
        time.sleep(0.5)  # the server pauses: the replies wait for us
        sock.settimeout(10)
        received = b""
        while received.count(b"RTSP/1.0 200 OK") < count:
            chunk = sock.recv(65536)
            assert chunk, "closed before every reply came"
            received += chunk
        sock.close()
        assert server.stats()["connections"] in (0, 1)
