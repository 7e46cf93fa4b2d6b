"""A tiny scripted RTSP server for the probe's tests: each request answered by a function."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable


class ScriptedServer:
    """A tiny RTSP server in a thread that answers each request with ``answer(request)``."""

    def __init__(self, answer: Callable[[bytes], bytes | None]) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                match = re.search(rb"\r?\n\r?\n", buf)
                if match is None:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buf += data
                    continue
                request, buf = buf[: match.end()], buf[match.end() :]
                self.requests.append(request)
                reply = self.answer(request)
                if reply is None:
                    return
                conn.sendall(reply)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def cseq_of(request: bytes) -> str:
    """The CSeq of a request as sent, '0' when it has none."""
    match = re.search(rb"(?im)^cseq:\s*(\d+)", request)
    return match.group(1).decode() if match else "0"
