"""The client against scripted servers: errors, garbage, silence, keep-alive and RTCP."""

from __future__ import annotations

import socket
import time

import pytest
from fake_rtsp import FakeRTSPServer, reply, standard
from local_ports import free_port

from rtsp_client import (
    ConnectionLost,
    ProtocolViolation,
    RTSPClient,
    RTSPError,
    RTSPTimeout,
    StateError,
)
from rtsp_client.options import ClientOptions, LowerTransport
from rtsp_common.rtcp import ReceiverReport, SourceDescription, parse_compound


def test_connection_refused_is_a_clear_error():
    client = RTSPClient(
        "127.0.0.1", free_port(socket.SOCK_STREAM), 0, "x", ClientOptions(timeout=2)
    )
    with pytest.raises(ConnectionLost, match="connection refused"):
        client.setup()
    client.close()


def test_non_2xx_raises_rtsp_error_with_status_and_reason():
    with FakeRTSPServer(lambda r: standard(r, status={"SETUP": 454})) as server:
        client = RTSPClient("127.0.0.1", server.port, 0, "movie", ClientOptions(timeout=2))
        with pytest.raises(RTSPError) as info:
            client.setup()
        assert (info.value.status, info.value.reason, info.value.method) == (
            454,
            "Session Not Found",
            "SETUP",
        )
        assert "454" in str(info.value)
        client.close()


def test_play_before_setup_is_refused_locally():
    with FakeRTSPServer(standard) as server:
        client = RTSPClient("127.0.0.1", server.port, 0, "movie", ClientOptions(timeout=2))
        with pytest.raises(StateError):
            client.play()
        client.close()
        assert "PLAY" not in server.methods()


def test_a_server_answering_garbage_is_a_protocol_violation():
    with FakeRTSPServer(lambda r: b"\x00\x01garbage that is not RTSP\r\n\r\n") as server:
        client = RTSPClient("127.0.0.1", server.port, 0, "movie", ClientOptions(timeout=2))
        with pytest.raises((ProtocolViolation, ConnectionLost)):
            client.options()
        assert client.connection_closed
        client.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"RTSP/1.0 200 OK\r\n" + b"X-Junk: " + b"a" * 20000 + b"\r\n\r\n",  # head too big
        b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n",  # body too big
        b"RTSP/1.0 abc Nope\r\nCSeq: 1\r\n\r\n",  # no status code
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",  # another protocol
        bytes(range(256)) * 4,  # binary noise
    ],
    ids=["huge-head", "huge-body", "bad-status", "http", "noise"],
)
def test_garbage_replies_end_in_a_client_error_never_a_crash(answer):
    with FakeRTSPServer(lambda r: answer) as server:
        client = RTSPClient("127.0.0.1", server.port, 0, "movie", ClientOptions(timeout=1))
        with pytest.raises((ProtocolViolation, ConnectionLost, RTSPTimeout, RTSPError)):
            client.options()
        client.close()


def test_a_silent_server_times_out():
    with FakeRTSPServer(lambda r: None) as server:
        client = RTSPClient("127.0.0.1", server.port, 0, "movie", ClientOptions(timeout=0.5))
        started = time.monotonic()
        with pytest.raises(RTSPTimeout, match="no reply"):
            client.options()
        assert time.monotonic() - started < 3
        client.close()


def test_a_server_hanging_up_mid_request_is_connection_lost():
    with FakeRTSPServer(lambda r: b"CLOSE") as server:
        client = RTSPClient("127.0.0.1", server.port, 0, "movie", ClientOptions(timeout=2))
        with pytest.raises(ConnectionLost):
            client.options()
        client.close()


def test_bad_sdp_is_reported():
    def handler(request):
        return reply(request, headers=[("Content-Type", "application/sdp")], body=b"not sdp")

    with FakeRTSPServer(handler) as server:
        client = RTSPClient("127.0.0.1", server.port, 0, "movie", ClientOptions(timeout=2))
        with pytest.raises(ProtocolViolation, match="SDP"):
            client.describe()
        client.close()


def test_setup_sends_describe_then_a_port_pair_and_picks_the_session():
    with FakeRTSPServer(standard) as server:
        client = RTSPClient("127.0.0.1", server.port, 0, "movie", ClientOptions(timeout=2))
        client.setup()
        assert server.methods() == ["DESCRIBE", "SETUP"]
        setup = server.requests[1]
        assert setup.uri == f"rtsp://127.0.0.1:{server.port}/movie/track1"
        port = client.rtp_port
        assert port % 2 == 0
        assert f"client_port={port}-{port + 1}" in setup.headers["Transport"]
        assert client.session_id == "abc123"
        client.teardown()
        assert server.requests[-1].headers["Session"] == "abc123"
        client.close()


def test_keepalive_falls_back_to_options_when_get_parameter_is_501():
    handler = lambda r: standard(r, session="s1;timeout=2", status={"GET_PARAMETER": 501})  # noqa: E731
    with FakeRTSPServer(handler) as server:
        client = RTSPClient("127.0.0.1", server.port, 0, "movie", ClientOptions(timeout=2))
        client.setup()
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and server.methods().count("OPTIONS") < 2:
            time.sleep(0.1)
        methods = server.methods()
        client.close()
    assert methods[2] == "GET_PARAMETER"
    assert methods[3:5] == ["OPTIONS", "OPTIONS"]
    assert methods.count("GET_PARAMETER") == 1


def test_receiver_reports_with_cname_go_to_the_server_rtcp_port():
    rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp.bind(("127.0.0.1", 0))
    rtcp.settimeout(5)
    server_rtp_port = rtcp.getsockname()[1] - 1
    with FakeRTSPServer(lambda r: standard(r, server_port=server_rtp_port)) as server:
        options = ClientOptions(timeout=2, rtcp_interval=0.2)
        client = RTSPClient("127.0.0.1", server.port, 0, "movie", options)
        client.setup()
        data, addr = rtcp.recvfrom(2048)
        client.close()
    rtcp.close()
    assert addr[1] == client.rtp_port + 1  # sent from our RTCP port
    packets = parse_compound(data)
    assert isinstance(packets[0], ReceiverReport)
    assert isinstance(packets[1], SourceDescription)
    assert packets[1].cnames()[packets[0].ssrc].startswith("rtsp-client")


def test_from_url_parses_host_port_and_path():
    client = RTSPClient.from_url(
        "rtsp://127.0.0.1:8554/clips/movie.Mjpeg", ClientOptions(transport=LowerTransport.TCP)
    )
    connection = client.core.connection
    assert (connection.host, connection.port, connection.path) == (
        "127.0.0.1",
        8554,
        "clips/movie.Mjpeg",
    )
    assert connection.options.transport is LowerTransport.TCP
    with pytest.raises(ValueError):
        RTSPClient.from_url("http://example.com/")


def test_receiver_reports_go_interleaved_on_the_rtcp_channel_over_tcp():
    with FakeRTSPServer(standard) as server:
        client = RTSPClient(
            "127.0.0.1",
            server.port,
            0,
            "movie",
            ClientOptions(transport=LowerTransport.TCP, timeout=2, rtcp_interval=0.2),
        )
        client.setup()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not server.interleaved:
            time.sleep(0.05)
        client.close()
    setup = server.requests[1]
    assert (
        "RTP/AVP/TCP" in setup.headers["Transport"]
        and "interleaved=0-1" in setup.headers["Transport"]
    )
    frame = server.interleaved[0]
    assert frame.channel == 1
    packets = parse_compound(frame.payload)
    assert isinstance(packets[0], ReceiverReport) and isinstance(packets[1], SourceDescription)
