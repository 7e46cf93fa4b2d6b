"""Repeated log lines are bounded: a peer cannot fill the disk through the server's log."""

from __future__ import annotations

import logging
import time

from blocking_rtsp import RTSPTestClient
from local_ports import udp_port_pair
from test_server_streaming import send_receiver_report, setup_udp, wait_for

from rtsp_server import RTSPServer
from rtsp_server.log_limit import BURST, RepeatLimiter
from rtsp_server.options import ServerOptions


def record(msg: str, *args: object, name: str = "rtsp_server.server") -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)


def test_a_kind_of_line_passes_a_burst_per_window_and_then_says_what_it_held_back():
    now = [0.0]
    limiter = RepeatLimiter(burst=3, window=10.0, clock=lambda: now[0])
    passed = [limiter.filter(record("report from %s", f"10.0.0.{i}")) for i in range(8)]
    assert passed == [True] * 3 + [False] * 5
    assert limiter.filter(record("another kind %d", 1))  # each template has its own budget
    assert limiter.filter(record("report from %s", "x", name="rtsp_server.handler"))
    now[0] = 10.5
    line = record("report from %s", "10.0.0.9")
    assert limiter.filter(line)
    assert line.getMessage() == "report from 10.0.0.9 [5 more like this held back]"
    assert limiter.filter(record("report from %s", "10.0.0.9"))


def test_many_kinds_are_remembered_within_a_bound():
    limiter = RepeatLimiter(burst=1, window=10.0, clock=lambda: 0.0)
    for i in range(5000):  # f-string messages: each its own kind
        limiter.filter(record(f"line {i}"))
    assert len(limiter._windows) <= 1024


def test_receiver_reports_flooding_the_server_log_a_burst(media_dir, caplog):
    caplog.set_level(logging.INFO, logger="rtsp_server")
    with RTSPServer(
        options=ServerOptions(port=0, media=media_dir, host="127.0.0.1", fps=50)
    ) as server:
        rtp, rtcp = udp_port_pair()
        url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
        with RTSPTestClient("127.0.0.1", server.port) as client:
            session_id, transport = setup_udp(client, url, rtp)
            for _ in range(100):
                send_receiver_report(rtcp, server, transport.ssrc)
                time.sleep(0.002)
            session = server.sessions.get(session_id)
            assert wait_for(lambda: session.receiver_reports >= 90)
        rtp.close()
        rtcp.close()
    lines = [r for r in caplog.records if "receiver report from" in r.getMessage()]
    assert 1 <= len(lines) <= BURST
