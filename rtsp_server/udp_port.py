"""The read side of the server's RTP and RTCP sockets: datagrams and the error queue.

asyncio's datagram transport reads datagrams only. With IP_RECVERR on, the kernel queues
ICMP errors about what the socket sent, and while that queue holds anything the socket
polls as in error: an unread queue would wake the loop without end. So each socket has
one reader here that takes both: datagrams to ``on_datagram``, ICMP port unreachables to
``on_unreachable`` with the destination they were about.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Callable

from rtsp_server.unreachable import IP_RECVERR, IPV6_RECVERR, is_port_unreachable

log = logging.getLogger(__name__)

MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
MAX_DATAGRAM = 65535
ERROR_COPY = 16  # bytes of the offending datagram to take back with an error (not read)
ERROR_ANCILLARY = 512  # room for sock_extended_err and the offender's address
READS_PER_WAKEUP = 64  # datagrams or errors read per wake-up: others' turn comes after

DatagramHandler = Callable[[bytes, tuple], None]
UnreachableHandler = Callable[[tuple[str, int]], None]


def enable_error_queue(sock: socket.socket) -> bool:
    """Ask the kernel to queue ICMP errors about what ``sock`` sends (Linux); False where
    the system has no such option, and then no unreachable is ever reported."""
    if not sys.platform.startswith("linux"):
        return False
    level, option = (
        (socket.IPPROTO_IPV6, IPV6_RECVERR)
        if sock.family == socket.AF_INET6
        else (socket.IPPROTO_IP, IP_RECVERR)
    )
    try:
        sock.setsockopt(level, option, 1)
    except OSError as exc:
        log.info("ICMP errors will not be read on UDP port %s: %s", sock.getsockname()[1], exc)
        return False
    return True


class UDPPort:
    """Reads one non-blocking UDP socket on the event loop until ``close``, which closes
    the socket too. With ``on_unreachable`` the kernel is asked for its ICMP errors."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        on_datagram: DatagramHandler,
        on_unreachable: UnreachableHandler | None = None,
    ) -> None:
        self.sock = sock
        self.loop = loop
        self.on_datagram = on_datagram
        self.on_unreachable = on_unreachable
        if on_unreachable is not None:
            enable_error_queue(sock)
        loop.add_reader(sock.fileno(), self._readable)

    def close(self) -> None:
        """Stop reading and close the socket."""
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def _readable(self) -> None:
        for _ in range(READS_PER_WAKEUP):
            try:
                data, address = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                # The pending error an ICMP message set (e.g. ECONNREFUSED): its details are
                # in the error queue, read next.
                break
            self.on_datagram(data, address)
        self._read_error_queue()

    def _read_error_queue(self) -> None:
        for _ in range(READS_PER_WAKEUP):
            try:
                _, ancillary, _, destination = self.sock.recvmsg(
                    ERROR_COPY, ERROR_ANCILLARY, MSG_ERRQUEUE
                )
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("error queue of UDP port %s: %s", self.sock.getsockname()[1], exc)
                return
            if self.on_unreachable and destination and is_port_unreachable(ancillary):
                self.on_unreachable((destination[0], destination[1]))
