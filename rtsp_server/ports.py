"""The server's UDP port pair, and what a port another program holds says."""

from __future__ import annotations

import errno
import socket

SEND_BUFFER = 4 * 1024 * 1024  # bytes: room for bursts of many sessions' frames
PORT_PAIR_ATTEMPTS = 64


def bind_port_pair(host: str, rtp_port: int) -> tuple[socket.socket, socket.socket]:
    """Bind an even RTP port and the next odd one for RTCP (RFC 3550 §11)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(PORT_PAIR_ATTEMPTS):
        rtp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            rtp.bind((host, rtp_port))
            port = rtp.getsockname()[1]
            if port % 2:
                raise OSError("odd port")
            rtcp = socket.socket(family, socket.SOCK_DGRAM)
            try:
                rtcp.bind((host, port + 1))
            except OSError:
                rtcp.close()
                raise
        except OSError:
            rtp.close()
            if rtp_port:
                raise
            continue
        for sock in (rtp, rtcp):
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        return rtp, rtcp
    raise OSError(f"no free even/odd UDP port pair on {host}")


class PortInUse(OSError):
    """A port the server must listen on is held by another program."""

    def __init__(self, transport: str, port: int, pair: bool = False) -> None:
        ports = f"ports {port}-{port + 1} are" if pair else f"port {port} is"
        super().__init__(errno.EADDRINUSE, f"{transport} {ports} in use")
        self.transport = transport
        self.port = port


def port_in_use_advice(exc: PortInUse) -> str:
    """Which port is taken, who usually holds it, and how to find out or avoid it."""
    if exc.transport == "TCP":
        return (
            f"{exc.strerror}: another RTSP server is probably running there (rtsp-server, "
            f"mediamtx, VLC, a GStreamer or live555 server); `ss -ltnp 'sport = :{exc.port}'` "
            f"shows which process, or choose another --port"
        )
    return (
        f"{exc.strerror}: another RTP sender or receiver holds them; "
        f"`ss -lunp 'sport = :{exc.port}'` shows which process, or choose another --rtp-port "
        f"(or leave it out for any free pair)"
    )
