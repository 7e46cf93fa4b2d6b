"""Test harness for rtsp_server: clips on disk and a tiny blocking RTSP/RTP client (rtsp_common)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from rtsp_common.mjpeg import open_writer
from rtsp_common.rtcp import parse_compound
from rtsp_common.rtp import RTPPacket
from rtsp_common.rtsp import InterleavedFrame, MessageParser, Request, Response


def write_clip(path: Path, frames: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with open_writer(path) as writer:
        for frame in frames:
            writer.append(frame)
    return path


@dataclass
class RTSPTestClient:
    """Blocking RTSP client over one TCP connection; keeps interleaved frames it reads."""

    host: str
    port: int
    sock: socket.socket = field(init=False)
    parser: MessageParser = field(default_factory=MessageParser)
    cseq: int = 0
    interleaved: list[InterleavedFrame] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=5)

    @property
    def base(self) -> str:
        return f"rtsp://{self.host}:{self.port}"

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Response:
        self.cseq += 1
        items = [("CSeq", str(self.cseq))] + list((headers or {}).items())
        from rtsp_common.rtsp import Headers

        self.send_raw(Request(method, url, Headers(items)).to_bytes())
        return self.read_response()

    def read_response(self, timeout: float = 5.0) -> Response:
        deadline = time.monotonic() + timeout
        while True:
            if self.responses:
                return self.responses.pop(0)
            self._read(deadline)

    def read_interleaved(self, count: int, timeout: float = 5.0) -> list[InterleavedFrame]:
        deadline = time.monotonic() + timeout
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


def receive_rtp(
    sock: socket.socket, count: int, timeout: float = 10.0
) -> list[tuple[RTPPacket, int]]:
    """Read ``count`` RTP packets from ``sock``; each with its datagram size."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        data = sock.recv(70000)
        got.append((RTPPacket.parse(data), len(data)))
    return got


def receive_rtcp(sock: socket.socket, timeout: float = 10.0) -> list:
    sock.settimeout(timeout)
    return parse_compound(sock.recv(70000))


def drain(sock: socket.socket, quiet: float = 0.3) -> list[bytes]:
    """Everything that arrives until ``quiet`` seconds pass without a datagram."""
    out = []
    sock.settimeout(quiet)
    try:
        while True:
            out.append(sock.recv(70000))
    except TimeoutError:
        return out


def frames_of(packets: list[RTPPacket]) -> dict[int, list[RTPPacket]]:
    """Packets grouped by RTP timestamp, in arrival order."""
    frames: dict[int, list[RTPPacket]] = {}
    for packet in packets:
        frames.setdefault(packet.timestamp, []).append(packet)
    return frames
