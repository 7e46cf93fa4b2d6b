"""The rtsp-server command: serves, logs one line per request, exits 0 with BYE on SIGTERM/Ctrl-C."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from blocking_rtsp import RTSPTestClient
from local_ports import free_port, udp_port_pair, wait_listening
from server_harness import drain

from rtsp_common.headers import Session as SessionHeader
from rtsp_common.rtcp import Bye, parse_compound
from rtsp_server import RTSPServer
from rtsp_server.cli import build_parser


def test_cli_defaults_match_the_issue():
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.fps, args.mtu, args.loop, args.session_timeout) == (
        "0.0.0.0",
        8554,
        20.0,
        1400,
        False,
        60.0,
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_logs_and_stops_cleanly(media_dir, signum):
    port = free_port(socket.SOCK_STREAM)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtsp_server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--media",
            str(media_dir),
            "--fps",
            "50",
            "-v",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    rtp, rtcp = udp_port_pair()
    try:
        wait_listening(port, proc)
        url = f"rtsp://127.0.0.1:{port}/clip.Mjpeg"
        with RTSPTestClient("127.0.0.1", port) as client:
            p = rtp.getsockname()[1]
            answer = client.request(
                "SETUP", url + "/track1", {"Transport": f"RTP/AVP;unicast;client_port={p}-{p + 1}"}
            )
            sid = SessionHeader.parse(answer.headers["Session"]).id
            assert client.request("PLAY", url, {"Session": sid}).status == 200
            rtp.settimeout(5)
            rtp.recv(2000)
            proc.send_signal(signum)
            assert proc.wait(10) == 0
        byes = [p for d in drain(rtcp, 0.3) for p in parse_compound(d) if isinstance(p, Bye)]
        assert len(byes) == 1
        log = proc.stderr.read()
        line = re.search(rf"127\.0\.0\.1:\d+ PLAY {re.escape(url)} session={sid} 200 [\d.]+ms", log)
        assert line, log
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        rtp.close()
        rtcp.close()


def test_cli_reports_missing_media(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rtsp_server", "--port", "0", "--media", str(tmp_path / "absent")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_a_port_in_use_is_named_with_who_may_hold_it(media_dir):
    """No raw '[Errno 98]': the port, what usually holds it, and how to find out."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "rtsp_server", "--host", "127.0.0.1", "--port", str(port),
             "--media", str(media_dir)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith(f"rtsp-server: error: TCP port {port} is in use: another RTSP server")
    assert "Errno" not in line and "Traceback" not in line and "\n" not in line
    assert f"sport = :{port}" in line


def test_an_rtp_port_in_use_is_named(media_dir):
    rtp, rtcp = udp_port_pair()
    port = rtp.getsockname()[1]
    with rtp, rtcp:
        result = subprocess.run(
            [sys.executable, "-m", "rtsp_server", "--port", "0", "--rtp-port", str(port),
             "--media", str(media_dir)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(f"rtsp-server: error: UDP ports {port}-{port + 1} are in use")
    assert "Errno" not in result.stderr


def test_lab_api_start_blocks_until_stop(lab_movie):
    server = RTSPServer(0, str(lab_movie))  # the lab's RTSPServer(server_port, video_file)
    thread = threading.Thread(target=server.start)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.port and time.monotonic() < deadline:
        time.sleep(0.02)
    with RTSPTestClient("127.0.0.1", server.port) as client:
        answer = client.request("DESCRIBE", "movie.Mjpeg")
        assert answer.status == 200 and b"640" in answer.body
    assert thread.is_alive()  # start() blocks while serving
    server.stop()
    thread.join(10)
    assert not thread.is_alive()
