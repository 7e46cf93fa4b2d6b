"""Hostile input never crashes the handler or the server; periodic SRs map NTP to RTP time."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from blocking_rtsp import RTSPTestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_ports import udp_port_pair
from server_harness import drain
from test_server_handler import Harness

from rtsp_common.headers import Session as SessionHeader
from rtsp_common.rtcp import SenderReport, parse_compound, unix_from_ntp
from rtsp_common.rtsp import Response
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

METHODS = [
    "OPTIONS",
    "DESCRIBE",
    "SETUP",
    "PLAY",
    "PAUSE",
    "TEARDOWN",
    "GET_PARAMETER",
    "RECORD",
    "X",
]
HEADER_NAMES = ["CSeq", "Session", "Transport", "Range", "Content-Length", "Accept", "X-Any"]
text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_get_responses_or_nothing(media_dir, data):
    h = Harness(media_dir)
    for answer in h.raw(data):
        assert isinstance(answer, Response) and 200 <= answer.status < 600


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(METHODS),
    uri=st.one_of(text, st.just("rtsp://127.0.0.1:8554/clip.Mjpeg/track1")),
    headers=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), text), max_size=6),
)
def test_odd_requests_get_a_status_and_never_raise(media_dir, method, uri, headers):
    h = Harness(media_dir)
    lines = [f"{method} {uri or '*'} RTSP/1.0"] + [f"{k}: {v}" for k, v in headers]
    for answer in h.raw(("\r\n".join(lines) + "\r\n\r\n").encode()):
        assert 200 <= answer.status < 600
        if any(k == "CSeq" for k, _ in headers) and answer.status != 400:
            assert answer.cseq is not None


def test_server_survives_garbage_connections_and_rtcp(server):
    for payload in [
        b"\xff" * 5000,
        b"$\x07\x00\x10" + b"x" * 16,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\r\n" * 100,
    ]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
            sock.sendall(payload)
            sock.settimeout(0.5)
            try:
                sock.recv(1024)
            except (TimeoutError, ConnectionResetError):
                pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for junk in [b"", b"\x80", b"\x81\xc9\x00\x07" + b"\x00" * 8, bytes(range(256))]:
            udp.sendto(junk, ("127.0.0.1", server.rtp_port + 1))
            udp.sendto(junk, ("127.0.0.1", server.rtp_port))
    with RTSPTestClient("127.0.0.1", server.port) as client:
        assert client.request("OPTIONS", "*").status == 200
    assert server.stats()["sessions"] == 0


def test_periodic_sender_reports_map_wallclock_to_rtp_time(media_dir):
    with RTSPServer(
        options=ServerOptions(
            port=0, media=media_dir, host="127.0.0.1", fps=50, report_interval=0.2
        )
    ) as server:
        rtp, rtcp = udp_port_pair()
        url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
        with RTSPTestClient("127.0.0.1", server.port) as client, rtp, rtcp:
            port = rtp.getsockname()[1]
            answer = client.request(
                "SETUP", url, {"Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1}"}
            )
            sid = SessionHeader.parse(answer.headers["Session"]).id
            client.request("PLAY", url, {"Session": sid})
            time.sleep(0.9)
            client.request("TEARDOWN", url, {"Session": sid})
            reports = [
                p
                for d in drain(rtcp, 0.3)
                for p in parse_compound(d)
                if isinstance(p, SenderReport)
            ]
            sent = len(drain(rtp, 0.1))
        assert len(reports) >= 3
        for a, b in zip(reports, reports[1:]):
            rtp_seconds = ((b.rtp_timestamp - a.rtp_timestamp) % (1 << 32)) / 90000
            wall_seconds = unix_from_ntp(b.ntp_timestamp) - unix_from_ntp(a.ntp_timestamp)
            assert rtp_seconds == pytest.approx(wall_seconds, abs=0.02)
            # TEARDOWN's BYE carries an SR too, which may follow the last periodic one before
            # the next frame: the counts never go back, and they grow over the run.
            assert b.packet_count >= a.packet_count and b.octet_count >= a.octet_count
        assert reports[-1].packet_count > reports[0].packet_count
        assert reports[-1].packet_count == sent


def test_async_serve_runs_inside_an_existing_loop(media_dir):
    server = RTSPServer(options=ServerOptions(port=0, media=media_dir, host="127.0.0.1"))
    answers: list[int] = []

    async def scenario() -> None:
        task = asyncio.create_task(server.serve())
        while not server.port:
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        answers.append(int((await reader.readline()).split()[1]))
        writer.close()
        server.stop()
        await task

    thread = threading.Thread(target=asyncio.run, args=(scenario(),))
    thread.start()
    thread.join(10)
    assert answers == [200]
    assert not thread.is_alive()
