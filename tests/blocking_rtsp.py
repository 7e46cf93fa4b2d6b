"""A blocking RTSP client over one TCP connection for tests: our serializer out, our parser in.

Tests import it as ``blocking_rtsp`` (tests/ is on sys.path through tests/conftest.py).
It drives the shared Request and MessageParser, not ``rtsp_client.ClientConnection``: server
tests send what that connection rightly refuses (PLAY before SETUP, made-up sessions, CSeqs).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from rtsp_common.headers import Headers
from rtsp_common.headers import Session as SessionHeader
from rtsp_common.rtsp import InterleavedFrame, MessageParser, Request, Response


@dataclass
class RTSPTestClient:
    """Blocking RTSP client over one TCP connection; keeps interleaved frames it reads."""

    host: str
    port: int
    timeout: float = 5.0  # s for connecting and for each reply or frame awaited
    sock: socket.socket = field(init=False)
    parser: MessageParser = field(default_factory=MessageParser)
    cseq: int = 0
    interleaved: list[InterleavedFrame] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)  # from the server (RFC 2326 §10)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)

    @property
    def base(self) -> str:
        return f"rtsp://{self.host}:{self.port}"

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Response:
        self.cseq += 1
        items = [("CSeq", str(self.cseq))] + list((headers or {}).items())
        self.send_raw(Request(method, url, Headers(items)).to_bytes())
        return self.read_response()

    def setup_udp(self, track_url: str, client_rtp_port: int) -> str:
        """SETUP over UDP to ``client_rtp_port`` and its pair; the session id (asserts 200)."""
        reply = self.request(
            "SETUP",
            track_url,
            {"Transport": f"RTP/AVP;unicast;client_port={client_rtp_port}-{client_rtp_port + 1}"},
        )
        assert reply.status == 200, reply
        return SessionHeader.parse(reply.headers["Session"]).id

    def read_response(self, timeout: float | None = None) -> Response:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if self.responses:
                return self.responses.pop(0)
            self._read(deadline)

    def read_interleaved(self, count: int, timeout: float | None = None) -> list[InterleavedFrame]:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.interleaved) < count:
            self._read(deadline)
        taken, self.interleaved = self.interleaved[:count], self.interleaved[count:]
        return taken

    def _read(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from the server")
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        for item in self.parser.feed(data):
            if isinstance(item, InterleavedFrame):
                self.interleaved.append(item)
            elif isinstance(item, Response):
                self.responses.append(item)
            elif isinstance(item, Request):
                self.requests.append(item)

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True when the server closes the connection within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        return True

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RTSPTestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
