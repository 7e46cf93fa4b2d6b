"""The loops of the peers' serving threads: accept and receive until asked to stop.

Blocking calls wait at most ``poll`` seconds at a time, so a thread notices its stop flag
soon after it is set; a closed socket ends the loop quietly.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any


def accept_until_stopped(
    listener: socket.socket, stop: threading.Event, poll: float
) -> Iterator[tuple[socket.socket, Any]]:
    """Each accepted (connection, address), one at a time, until ``stop`` is set or the
    listener is closed; each connection gets the ``poll`` timeout too."""
    try:
        listener.settimeout(poll)
    except OSError:  # closed before the thread got here (a test that ends at once)
        return
    while not stop.is_set():
        try:
            conn, addr = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        conn.settimeout(poll)
        yield conn, addr


def receive_until_stopped(
    conn: socket.socket, stop: threading.Event, size: int = 65536
) -> Iterator[bytes]:
    """Each chunk ``conn.recv(size)`` returns, until the peer closes, the socket fails or
    ``stop`` is set (checked at each timeout of ``conn``)."""
    while not stop.is_set():
        try:
            data = conn.recv(size)
        except TimeoutError:
            continue
        except OSError:
            return
        if not data:
            return
        yield data
