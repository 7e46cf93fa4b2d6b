"""A scripted RTSP peer for the client's tests: answers each request with a handler."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from socket_loops import accept_until_stopped, receive_until_stopped

from rtsp_common.rtsp import InterleavedFrame, MessageParser, Request
from rtsp_common.sdp import SessionDescription

Handler = Callable[[Request], bytes | None]
POLL = 0.1  # s: how soon the serving thread notices the stop flag


class FakeRTSPServer:
    """Accepts one connection at a time; ``handler(request)`` returns the bytes to send
    (None: stay silent). ``greeting`` is sent right after accepting (garbage servers)."""

    def __init__(self, handler: Handler | None = None, greeting: bytes = b"") -> None:
        self.handler = handler or (lambda request: None)
        self.greeting = greeting
        self.requests: list[Request] = []
        self.interleaved: list[InterleavedFrame] = []  # what the client sent on the connection
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.conn: socket.socket | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeRTSPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.sock.close()
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self._thread.join(timeout=3)

    def methods(self) -> list[str]:
        return [r.method for r in self.requests]

    def _serve(self) -> None:
        for conn, _ in accept_until_stopped(self.sock, self._stop, POLL):
            self.conn = conn
            if self.greeting:
                conn.sendall(self.greeting)
            parser = MessageParser()
            for data in receive_until_stopped(conn, self._stop):
                for item in parser.feed(data):
                    if isinstance(item, InterleavedFrame):
                        self.interleaved.append(item)
                    if isinstance(item, Request):
                        self.requests.append(item)
                        reply = self.handler(item)
                        if reply == b"CLOSE":
                            conn.close()
                            break
                        if reply:
                            conn.sendall(reply)
            conn.close()


def reply(request: Request, status: int = 200, headers=(), body: bytes = b"") -> bytes:
    from rtsp_common.rtsp import Response

    return Response.make(status, request.cseq, list(headers), body).to_bytes()


SDP = SessionDescription(framerate=30.0, width=64, height=48).to_text().encode()


def standard(request, session="abc123;timeout=60", server_port=None, status=None):
    """A polite server: DESCRIBE gives an SDP, SETUP a session, the rest 200."""
    if status and request.method in status:
        return reply(request, status[request.method])
    if request.method == "DESCRIBE":
        return reply(request, headers=[("Content-Type", "application/sdp")], body=SDP)
    if request.method == "SETUP":
        transport = request.headers["Transport"]
        if server_port:
            transport += f";server_port={server_port}-{server_port + 1}"
        return reply(request, headers=[("Session", session), ("Transport", transport)])
    return reply(request, headers=[("Session", session.split(";")[0])])
