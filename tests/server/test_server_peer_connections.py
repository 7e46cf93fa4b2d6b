"""One address may hold only --max-connections-per-peer connections: the next is refused at
once, while another address is still let in (127.0.0.2 is loopback too)."""

from __future__ import annotations

import socket

import pytest
from blocking_rtsp import RTSPTestClient

from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions


def options_from(source: str, port: int) -> int:
    """OPTIONS on a new connection made from ``source``; its status, 0 when refused."""
    sock = socket.socket()
    sock.settimeout(3)
    sock.bind((source, 0))
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        reply = sock.recv(4096)
    except OSError:
        return 0
    finally:
        sock.close()
    return int(reply.split()[1]) if reply else 0


def test_one_address_is_held_to_its_connections_and_others_still_get_in(media_dir):
    options = ServerOptions(port=0, media=media_dir, host="0.0.0.0", max_connections_per_peer=2)
    with RTSPServer(options=options) as server:
        held = [RTSPTestClient("127.0.0.1", server.port) for _ in range(2)]
        assert all(c.request("OPTIONS", "*").status == 200 for c in held)
        assert options_from("127.0.0.1", server.port) == 0
        assert options_from("127.0.0.2", server.port) == 200
        held.pop().sock.close()
        for _ in range(50):  # the server notices the close, then has room again
            if options_from("127.0.0.1", server.port) == 200:
                break
        else:
            pytest.fail("the address never got its slot back")


def test_the_limit_is_one_or_more():
    with pytest.raises(ValueError, match="max_connections_per_peer must be 1 or more"):
        ServerOptions(max_connections_per_peer=0)
