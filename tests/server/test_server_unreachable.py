"""A UDP session whose client answers ICMP port unreachable is torn down (issue 13, item 4):
one stray ICMP is forgiven, a closed port is not, and the other sessions stream on at full
rate. The error-queue reader's verdicts are tested on the kernel's bytes first."""

from __future__ import annotations

import logging
import socket
import struct
import sys
import time

import pytest
from blocking_rtsp import RTSPTestClient
from local_ports import free_port
from polling import wait_for

from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions
from rtsp_server.unreachable import (
    IP_RECVERR,
    IPV6_RECVERR,
    MAX_TRACKED,
    SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_ICMP6,
    UnreachableCounter,
    is_port_unreachable,
)

SO_EE_ORIGIN_LOCAL = 1
FPS = 30
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the error queue (IP_RECVERR) is Linux's"
)


def extended_error(origin: int, icmp_type: int, code: int) -> bytes:
    """struct sock_extended_err and an offender sockaddr_in, as the kernel writes them."""
    offender = struct.pack("=HH4s8x", socket.AF_INET, 0, socket.inet_aton("127.0.0.1"))
    return struct.pack("=IBBBBII", 111, origin, icmp_type, code, 0, 0, 0) + offender


def test_port_unreachable_is_told_from_other_errors():
    ipv4 = (socket.IPPROTO_IP, IP_RECVERR)
    assert is_port_unreachable([(*ipv4, extended_error(SO_EE_ORIGIN_ICMP, 3, 3))])
    assert is_port_unreachable(
        [(socket.IPPROTO_IPV6, IPV6_RECVERR, extended_error(SO_EE_ORIGIN_ICMP6, 1, 4))]
    )
    assert not is_port_unreachable([(*ipv4, extended_error(SO_EE_ORIGIN_ICMP, 3, 1))])  # host
    assert not is_port_unreachable([(*ipv4, extended_error(SO_EE_ORIGIN_ICMP, 11, 0))])  # TTL
    assert not is_port_unreachable([(*ipv4, extended_error(SO_EE_ORIGIN_LOCAL, 3, 3))])
    assert not is_port_unreachable([(*ipv4, extended_error(SO_EE_ORIGIN_ICMP, 3, 3)[:10])])
    assert not is_port_unreachable([])


def test_a_destination_is_given_up_at_the_limit_within_the_window_only():
    counter = UnreachableCounter(limit=3, window=10.0)
    peer = ("192.0.2.7", 5000)
    assert not counter.record(peer, 0.0)
    assert not counter.record(peer, 5.0)
    assert not counter.record(peer, 10.5)  # the first has left the window: two in it
    assert counter.record(peer, 11.0)
    assert not counter.record(peer, 11.1)  # counted afresh after a verdict
    assert not UnreachableCounter(limit=0).record(peer, 0.0)  # 0: never


def test_spoofed_unreachables_for_many_destinations_cannot_grow_the_table():
    counter = UnreachableCounter(limit=3)
    for n in range(MAX_TRACKED * 3):
        counter.record((f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", 5000), 0.0)
    assert len(counter) <= MAX_TRACKED


def setup_and_play(port: int, client_rtp_port: int) -> str:
    client = RTSPTestClient("127.0.0.1", port)
    url = f"{client.base}/clip.Mjpeg"
    session = client.setup_udp(f"{url}/track1", client_rtp_port)
    assert client.request("PLAY", url, {"Session": session}).status == 200
    return session


@linux_only
def test_a_closed_client_port_ends_its_session_while_another_streams_on(media_dir, caplog):
    caplog.set_level(logging.WARNING, logger="rtsp_server.server")
    options = ServerOptions(port=0, media=media_dir, host="127.0.0.1", fps=FPS, loop=True)
    with (
        RTSPServer(options=options) as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener,
    ):
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        live_port = listener.getsockname()[1]
        setup_and_play(server.port, live_port)
        dead = setup_and_play(server.port, free_port(pair=True))
        assert wait_for(lambda: server.stats()["sessions"] == 1, timeout=10)
        lines = [r.getMessage() for r in caplog.records if "port unreachable" in r.getMessage()]
        assert len(lines) == 1 and dead in lines[0], lines
        # The live session streams on at full rate: a second's worth of frames in about 1 s.
        start, markers = time.monotonic(), 0
        while markers < FPS:
            packet = listener.recv(65536)
            markers += packet[1] >> 7  # RTP marker bit: the last packet of a frame
        assert time.monotonic() - start < 1.5
        assert server.stats()["sessions"] == 1 and server.stats()["streaming"] == 1


@linux_only
def test_with_the_limit_off_a_closed_port_keeps_its_session_until_the_timeout(media_dir):
    options = ServerOptions(
        port=0, media=media_dir, host="127.0.0.1", fps=FPS, loop=True, unreachable_limit=0
    )
    with RTSPServer(options=options) as server:
        setup_and_play(server.port, free_port(pair=True))
        time.sleep(1.0)  # 30 frames to a closed port: far past any limit
        assert server.stats()["sessions"] == 1 and server.stats()["streaming"] == 1
