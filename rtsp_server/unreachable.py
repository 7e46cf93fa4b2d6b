"""ICMP port unreachable for the RTP we send: read from the kernel's error queue, counted
per destination, and the verdict when a stream's peer is plainly not there.

On Linux a UDP socket with IP_RECVERR (IPV6_RECVERR) queues each ICMP error about a datagram
it sent; reading the queue (recvmsg with MSG_ERRQUEUE) gives the original destination as the
message's address and a ``struct sock_extended_err`` as ancillary data (ip(7), ipv6(7)). This
module reads those bytes and keeps the counts; the socket calls live in udp_port.py.

One unreachable is not enough to stop a stream: a NAT or firewall may answer the first
packets before the client's own packets open its path. A destination is given up after
``limit`` unreachables within UNREACHABLE_WINDOW seconds.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

# linux/errqueue.h: struct sock_extended_err { u32 ee_errno; u8 ee_origin, ee_type, ee_code,
# ee_pad; u32 ee_info; u32 ee_data; } followed by the offender's sockaddr.
_EXTENDED_ERROR = struct.Struct("=IBBBBII")
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
ICMP_DEST_UNREACH, ICMP_PORT_UNREACH = 3, 3  # RFC 792: type 3, code 3
ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT = 1, 4  # RFC 4443 §3.1: type 1, code 4
_PORT_UNREACHABLE = {
    (socket.IPPROTO_IP, IP_RECVERR, SO_EE_ORIGIN_ICMP): (ICMP_DEST_UNREACH, ICMP_PORT_UNREACH),
    (socket.IPPROTO_IPV6, IPV6_RECVERR, SO_EE_ORIGIN_ICMP6): (
        ICMP6_DST_UNREACH,
        ICMP6_DST_UNREACH_NOPORT,
    ),
}

UNREACHABLE_WINDOW = 10.0  # s: the unreachables that count against a destination
MAX_TRACKED = 4096  # destinations counted at once: spoofed ICMP cannot grow the table


def is_port_unreachable(ancillary: Iterable[tuple[int, int, bytes]]) -> bool:
    """Whether an error-queue message's ancillary data says ICMP (or ICMPv6) port
    unreachable; anything else (another ICMP type, a local error, short data) is not."""
    for level, kind, data in ancillary:
        if len(data) < _EXTENDED_ERROR.size:
            continue
        _, origin, icmp_type, icmp_code, _, _, _ = _EXTENDED_ERROR.unpack_from(data)
        if _PORT_UNREACHABLE.get((level, kind, origin)) == (icmp_type, icmp_code):
            return True
    return False


@dataclass
class UnreachableCounter:
    """Port unreachables per destination over a sliding window; ``record`` says when a
    destination has had ``limit`` of them (0: never)."""

    limit: int
    window: float = UNREACHABLE_WINDOW
    _seen: dict[tuple[str, int], list[float]] = field(default_factory=dict)

    def record(self, destination: tuple[str, int], now: float) -> bool:
        """Count one unreachable for ``destination``; True when it reaches the limit (the
        count then starts over, so a caller acts once per limit reached)."""
        if self.limit <= 0:
            return False
        if destination not in self._seen and len(self._seen) >= MAX_TRACKED:
            self._forget_before(now - self.window)
            if len(self._seen) >= MAX_TRACKED:
                self._seen.pop(next(iter(self._seen)))  # the oldest destination counted
        times = [t for t in self._seen.get(destination, ()) if t > now - self.window]
        times.append(now)
        if len(times) >= self.limit:
            self._seen.pop(destination, None)
            return True
        self._seen[destination] = times
        return False

    def _forget_before(self, cutoff: float) -> None:
        for destination in [d for d, times in self._seen.items() if times[-1] <= cutoff]:
            del self._seen[destination]

    def __len__(self) -> int:
        return len(self._seen)
