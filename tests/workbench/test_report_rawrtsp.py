"""The bare RTSP connection used for the demo's refused requests, against servers that
answer badly: each case is a clear RawRTSPError, never a hang or a crash."""

from __future__ import annotations

import socket
import threading

import pytest

from workbench.demo.negative import NegativeCase, run_case
from workbench.rawrtsp import RawRTSPConnection, RawRTSPError


class _OneShotServer:
    """Accepts one connection, reads a request, then does ``behaviour(conn)``."""

    def __init__(self, behaviour) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.behaviour = behaviour
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(4096)
            self.behaviour(conn)

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=5)


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        (lambda conn: None, "closed the connection without replying"),
        (lambda conn: conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n"), "not an RTSP reply"),
        (
            lambda conn: conn.sendall(
                b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n" + b"X: y\r\n" * 100 + b"\r\n"
            ),
            "does not parse",
        ),
    ],
    ids=["closes", "http", "too-many-headers"],
)
def test_bad_replies_are_clear_errors(behaviour, message):
    server = _OneShotServer(behaviour)
    try:
        with (
            RawRTSPConnection("127.0.0.1", server.port) as rtsp,
            pytest.raises(RawRTSPError, match=message),
        ):
            rtsp.send("OPTIONS", "*")
    finally:
        server.close()


def test_a_silent_server_times_out():
    done = threading.Event()
    server = _OneShotServer(lambda conn: done.wait(5))
    try:
        with (
            RawRTSPConnection("127.0.0.1", server.port, timeout=0.3) as rtsp,
            pytest.raises(RawRTSPError, match="no reply"),
        ):
            rtsp.send("OPTIONS", "*")
    finally:
        done.set()
        server.close()


def test_a_reply_with_a_body_is_read_whole():
    body = b"v=0\r\n"
    reply = (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    server = _OneShotServer(lambda conn: [conn.sendall(reply[:10]), conn.sendall(reply[10:])])
    try:
        with RawRTSPConnection("127.0.0.1", server.port) as rtsp:
            exchange = rtsp.send("DESCRIBE", "rtsp://127.0.0.1/x")
    finally:
        server.close()
    assert exchange.response.status == 200 and exchange.response.body == body
    assert exchange.request_text.startswith("DESCRIBE rtsp://127.0.0.1/x RTSP/1.0\r\nCSeq: 1\r\n")


def test_a_case_against_no_server_is_a_failed_outcome_not_an_exception():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        outcome = run_case(
            NegativeCase.UNKNOWN_METHOD, "127.0.0.1", port, f"rtsp://127.0.0.1:{port}/x"
        )
    assert not outcome.passed and outcome.status is None
    assert "ConnectionRefusedError" in outcome.error
