"""Test harness for rtsp_server: clips on disk, request handlers as the server makes them,
and reading RTP/RTCP off UDP sockets (rtsp_common)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from rtsp_common.mjpeg import open_writer
from rtsp_common.rtcp import parse_compound
from rtsp_common.rtp import RTPPacket
from rtsp_server.access import AccessControl
from rtsp_server.handler import RequestHandler
from rtsp_server.media import MediaLibrary
from rtsp_server.options import ServerOptions
from rtsp_server.session import SessionRegistry


def write_clip(path: Path, frames: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with open_writer(path) as writer:
        for frame in frames:
            writer.append(frame)
    return path


def request_handler(
    options: ServerOptions,
    library: MediaLibrary,
    sessions: SessionRegistry,
    connection_id: int = 1,
    peer: str = "127.0.0.1",
    access: AccessControl | None = None,
) -> RequestHandler:
    """The handler of a connection from ``peer`` to 127.0.0.1:8554 (RTP on 6000-6001)."""
    return RequestHandler(
        options,
        library,
        sessions,
        connection_id,
        peer,
        "127.0.0.1",
        8554,
        server_ports=(6000, 6001),
        access=access,
    )


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
