"""No leaks: 1,000 sessions opened and closed leave sessions, tasks, sockets, fds and Python
memory at baseline."""

from __future__ import annotations

import gc
import os
import time
import tracemalloc

import pytest
from blocking_rtsp import RTSPTestClient

from rtsp_common.headers import Session as SessionHeader
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

SESSIONS = 1000
PER_CONNECTION = 10
WARM_BATCHES = 10  # the first 100 sessions fill caches (interned strings, free lists)
MEMORY_SLACK = 256 * 1024  # bytes of Python allocations the other 900 may leave behind


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def socket_fds() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


def settle(server: RTSPServer, baseline: dict[str, int], timeout: float = 5.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    stats = server.stats()
    while stats != baseline and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = server.stats()
    return stats


@pytest.mark.slow
def test_thousand_sessions_return_to_baseline(media_dir):
    with RTSPServer(
        options=ServerOptions(port=0, media=media_dir, host="127.0.0.1", max_sessions=50)
    ) as server:
        url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
        with RTSPTestClient("127.0.0.1", server.port) as warmup:  # loads the media once
            assert warmup.request("DESCRIBE", url).status == 200
        baseline = settle(server, {"sessions": 0, "connections": 0, "streaming": 0, "tasks": 1})
        fds, sockets = open_fds(), socket_fds()
        opened = 0
        tracemalloc.start()
        warm = 0
        for batch in range(SESSIONS // PER_CONNECTION):
            if batch == WARM_BATCHES:
                gc.collect()
                warm = tracemalloc.get_traced_memory()[0]
            with RTSPTestClient("127.0.0.1", server.port) as client:
                opened_here = []
                for i in range(PER_CONNECTION):
                    interleaved = (batch + i) % 2 == 1
                    transport = (
                        "RTP/AVP/TCP;unicast;interleaved=0-1"
                        if interleaved
                        else f"RTP/AVP;unicast;client_port={40000 + 2 * i}-{40001 + 2 * i}"
                    )
                    answer = client.request("SETUP", url + "/track1", {"Transport": transport})
                    assert answer.status == 200, answer
                    opened_here.append(
                        (SessionHeader.parse(answer.headers["Session"]).id, interleaved)
                    )
                    opened += 1
                for sid, interleaved in opened_here:
                    # On odd batches the interleaved sessions are left open: closing the
                    # connection must end them. UDP sessions outlive a connection, so TEARDOWN.
                    if batch % 2 == 0 or not interleaved:
                        assert client.request("TEARDOWN", url, {"Session": sid}).status == 200
            assert len(server.sessions) <= 50
        assert opened == SESSIONS
        assert settle(server, baseline) == baseline
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - warm
        tracemalloc.stop()
        assert grown < MEMORY_SLACK, f"{grown} bytes more after {SESSIONS} sessions"
        assert open_fds() == fds
        assert socket_fds() == sockets
