"""The RTSP parser, typed headers and SDP against real peers: ffmpeg and GStreamer's rtsp-server."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from blocking_rtsp import RTSPTestClient
from gst_peer import gst_rtsp_server, require_gst_peer
from realtools import require_tool

from rtsp_common.headers import (
    NPTRange,
    Session,
    Transport,
    parse_public,
    parse_rtp_info,
    parse_transports,
)
from rtsp_common.rtsp import MessageParser, Request, Response
from rtsp_common.sdp import SessionDescription

pytestmark = pytest.mark.interop

TIMEOUT = 15.0
RTP_VERSION_BITS = 2 << 6  # RFC 3550 §5.1: the top two bits of byte 0 hold version 2


# ---------------------------------------------------------------- ffmpeg publishing to us


@pytest.mark.parametrize("lower", ["udp", "tcp"])
def test_ffmpeg_publisher_requests_and_sdp(lower: str) -> None:
    """ffmpeg pushes with OPTIONS, ANNOUNCE (SDP body), SETUP: we parse all of it."""
    ffmpeg = require_tool("ffmpeg")["ffmpeg"]
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(TIMEOUT)
        port = listener.getsockname()[1]
        proc = subprocess.Popen(
            [
                ffmpeg,
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:rate=10",
                "-frames:v",
                "5",
                "-c:v",
                "mjpeg",
                "-pix_fmt",
                "yuvj420p",
                "-f",
                "rtsp",
                "-rtsp_transport",
                lower,
                f"rtsp://127.0.0.1:{port}/live",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            conn, _ = listener.accept()
            requests = _serve_until_setup(conn)
        finally:
            proc.kill() if proc.poll() is None else None
            proc.wait(TIMEOUT)
    assert [r.method for r in requests] == ["OPTIONS", "ANNOUNCE", "SETUP"]
    assert [r.cseq for r in requests] == [1, 2, 3]
    announce, setup = requests[1], requests[2]
    assert announce.headers["Content-Type"] == "application/sdp"
    sdp = SessionDescription.parse(announce.body.decode())
    assert (sdp.payload_type, sdp.encoding, sdp.clock_rate) == (26, "JPEG", 90000)
    assert setup.uri.endswith("/" + sdp.track_control)
    (transport,) = parse_transports(setup.headers["Transport"])
    assert transport.mode is not None and transport.mode.lower() == "record"
    if lower == "tcp":
        assert transport.is_tcp and transport.interleaved == (0, 1)
    else:
        assert not transport.is_tcp and transport.client_port is not None
        assert transport.client_port[1] == transport.client_port[0] + 1


def _serve_until_setup(conn: socket.socket) -> list[Request]:
    """Answer OPTIONS and ANNOUNCE with 200, SETUP with 461 so that ffmpeg gives up."""
    parser = MessageParser()
    seen: list[Request] = []
    conn.settimeout(TIMEOUT)
    with conn:
        while True:
            data = conn.recv(65536)
            assert data, "ffmpeg closed the connection before SETUP"
            for request in parser.feed(data):
                assert isinstance(request, Request)
                seen.append(request)
                if request.method == "SETUP":
                    conn.sendall(Response.make(461, request.cseq).to_bytes())
                    return seen
                headers = [("Public", "OPTIONS, ANNOUNCE, SETUP, RECORD, TEARDOWN")]
                conn.sendall(Response.make(200, request.cseq, headers).to_bytes())


# ---------------------------------------------------------------- GStreamer serving us


@pytest.fixture(scope="module")
def gst_server() -> Iterator[str]:
    """rtsp://127.0.0.1:<port>/test: GStreamer's rtsp-server with a live 10 fps test picture."""
    require_gst_peer()
    with gst_rtsp_server(test_pattern=True, fps=10, path="/test", shared=True) as peer:
        yield peer.url


def _connect(url: str) -> RTSPTestClient:
    parts = urlsplit(url)
    return RTSPTestClient(parts.hostname, parts.port, timeout=TIMEOUT)


def test_gstreamer_describe_and_udp_setup(gst_server: str) -> None:
    conn = _connect(gst_server)
    try:
        options = conn.request("OPTIONS", gst_server)
        assert options.status == 200
        assert {"DESCRIBE", "SETUP", "PLAY", "TEARDOWN"} <= set(
            parse_public(options.headers["Public"])
        )

        describe = conn.request("DESCRIBE", gst_server, {"Accept": "application/sdp"})
        assert describe.status == 200 and describe.headers["Content-Type"] == "application/sdp"
        sdp = SessionDescription.parse(describe.body.decode())
        assert (sdp.payload_type, sdp.encoding, sdp.clock_rate, sdp.framerate) == (
            26,
            "JPEG",
            90000,
            10.0,
        )

        base = describe.headers.get("Content-Base", gst_server + "/")
        offer = Transport(client_port=(40000, 40001), mode="PLAY")  # sent as mode="PLAY"
        setup = conn.request("SETUP", base + sdp.track_control, {"Transport": str(offer)})
        assert setup.status == 200
        answer = Transport.parse(setup.headers["Transport"])
        assert answer.client_port == (40000, 40001)
        assert answer.server_port is not None and answer.server_port[1] == answer.server_port[0] + 1
        assert answer.ssrc is not None
        session = Session.parse(setup.headers["Session"])
        assert session.id and str(session) == setup.headers["Session"].replace(" ", "")

        teardown = conn.request("TEARDOWN", gst_server, {"Session": session.id})
        assert teardown.status == 200
    finally:
        conn.close()


def test_gstreamer_tcp_interleaved_play(gst_server: str) -> None:
    """PLAY over TCP: the response and the $-framed RTP/RTCP come out of one parser."""
    conn = _connect(gst_server)
    try:
        describe = conn.request("DESCRIBE", gst_server, {"Accept": "application/sdp"})
        sdp = SessionDescription.parse(describe.body.decode())
        base = describe.headers.get("Content-Base", gst_server + "/")
        offer = Transport(protocol="RTP/AVP/TCP", interleaved=(0, 1))
        setup = conn.request("SETUP", base + sdp.track_control, {"Transport": str(offer)})
        assert setup.status == 200
        assert Transport.parse(setup.headers["Transport"]).interleaved == (0, 1)
        session = Session.parse(setup.headers["Session"]).id

        play = conn.request("PLAY", gst_server, {"Session": session, "Range": str(NPTRange(0.0))})
        assert play.status == 200
        (info,) = parse_rtp_info(play.headers["RTP-Info"])
        assert info.url.endswith(sdp.track_control) and info.seq is not None
        NPTRange.parse(play.headers["Range"])

        frames = conn.read_interleaved(20)
        unexpected = conn.responses + conn.requests
        assert not unexpected, f"unexpected {unexpected!r} while streaming"
        rtp = [f for f in frames if f.channel == 0]
        assert rtp, "no RTP on channel 0"
        assert all(f.payload[0] & 0xC0 == RTP_VERSION_BITS for f in rtp)
        assert all(f.payload[1] & 0x7F == sdp.payload_type for f in rtp)
        assert all(f.channel in (0, 1) for f in frames)
        first_seq = int.from_bytes(rtp[0].payload[2:4], "big")
        assert first_seq == info.seq
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
