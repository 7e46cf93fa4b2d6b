"""A client killed with SIGKILL (no TEARDOWN, no FIN from the application): its TCP
interleaved session ends as soon as the kernel closes the connection, its UDP session when
the session timeout passes (RFC 2326 §12.37) — nothing is left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

TIMEOUT = 2.0  # s: the session timeout the server is given

CLIENT = """
import socket, sys, time
port, transport = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
url = f"rtsp://127.0.0.1:{port}/clip.Mjpeg"
def ask(text):
    s.sendall(text.encode())
    reply = b""
    while b"\\r\\n\\r\\n" not in reply:
        reply += s.recv(65536)
    return reply.decode(errors="replace")
head = ask(f"SETUP {url}/track1 RTSP/1.0\\r\\nCSeq: 1\\r\\nTransport: {transport}\\r\\n\\r\\n")
session = [l.split(":", 1)[1].split(";")[0].strip() for l in head.split("\\r\\n")
           if l.lower().startswith("session:")][0]
ask(f"PLAY {url} RTSP/1.0\\r\\nCSeq: 2\\r\\nSession: {session}\\r\\n\\r\\n")
print("playing", flush=True)
time.sleep(60)
"""


def wait_until(condition, timeout: float, show=lambda: "") -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"not within {timeout} s: {show()}"
        time.sleep(0.05)
    return time.monotonic() - start


def killed_client(port: int, transport: str) -> None:
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(port), transport], stdout=subprocess.PIPE, text=True
    )
    assert client.stdout is not None and client.stdout.readline().strip() == "playing"
    client.send_signal(signal.SIGKILL)
    client.wait(timeout=10)


def test_a_killed_clients_tcp_session_ends_at_once_and_udp_session_at_its_timeout(media_dir):
    options = ServerOptions(
        port=0,
        media=media_dir,
        host="127.0.0.1",
        fps=50,
        loop=True,
        session_timeout=TIMEOUT,
        # The killed client's port answers ICMP port unreachable, which would end the UDP
        # session at once (test_server_unreachable.py): here the timeout alone is judged.
        unreachable_limit=0,
    )
    with RTSPServer(options=options) as server:
        idle = server.stats()
        killed_client(server.port, "RTP/AVP/TCP;unicast;interleaved=0-1")
        took = wait_until(lambda: server.stats()["sessions"] == 0, timeout=TIMEOUT)
        assert took < TIMEOUT  # the closed connection ended it, not the timeout
        killed_client(server.port, "RTP/AVP;unicast;client_port=47000-47001")
        assert server.stats()["sessions"] == 1  # UDP: the session outlives the connection
        wait_until(lambda: server.stats()["sessions"] == 0, timeout=TIMEOUT + 3)
        wait_until(lambda: server.stats() == idle, timeout=5, show=server.stats)
