"""Ports on 127.0.0.1 for tests and benchmarks: free ones, RTP/RTCP pairs, waiting for a listener.

Tests and benchmarks import it as ``local_ports`` (tests/conftest.py and bench/__init__.py put
tests/ on sys.path).
"""

from __future__ import annotations

import socket
import subprocess
import time

LOOPBACK = "127.0.0.1"
PAIR_TRIES = 100
RECEIVE_BUFFER = 4 * 1024 * 1024  # room for bursts of whole frames at test rates


def free_port(kind: int = socket.SOCK_DGRAM, pair: bool = False) -> int:
    """A free port of ``kind`` (UDP by default); with ``pair``, an even one whose odd
    neighbour is free too, as RFC 3550 §11 wants for RTP and RTCP."""
    for _ in range(PAIR_TRIES):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        if not pair:
            return port
        port -= port % 2
        try:
            with socket.socket(socket.AF_INET, kind) as a, socket.socket(socket.AF_INET, kind) as b:
                a.bind((LOOPBACK, port))
                b.bind((LOOPBACK, port + 1))
            return port
        except OSError:
            continue
    raise OSError("no free port pair")


def udp_port_pair(receive_buffer: int = RECEIVE_BUFFER) -> tuple[socket.socket, socket.socket]:
    """Two bound UDP sockets on 127.0.0.1: an even RTP port and the next, RTCP, port.

    Bound and kept open, so nothing else takes them between choosing and using.
    """
    for _ in range(PAIR_TRIES):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((LOOPBACK, 0))
        port = rtp.getsockname()[1]
        if port % 2 == 0:
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                rtcp.bind((LOOPBACK, port + 1))
            except OSError:
                rtcp.close()
                rtp.close()
                continue
            for s in (rtp, rtcp):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            return rtp, rtcp
        rtp.close()
    raise OSError("no even/odd port pair")


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 15) -> None:
    """Return once something accepts TCP connections on ``port``; raise if ``proc`` exits
    first (with its stderr when that is a pipe) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr is not None else ""
            raise RuntimeError(f"server exited with {proc.returncode} before listening: {err}")
        try:
            socket.create_connection((LOOPBACK, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s")
