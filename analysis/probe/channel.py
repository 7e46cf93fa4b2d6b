"""Sockets for the probe: one TCP connection per channel, and a local UDP RTP/RTCP pair.

The probe reads replies with its own ``probe_wire``, not rtsp_client's ClientConnection:
analysis is the independent oracle and imports none of the code it judges.
"""

from __future__ import annotations

import logging
import select
import socket
import time

from analysis.probe.battery import ProbeEnvironment, ProbeExchange
from analysis.probe.wire import Reply, ReplyError, ReplyReader, Target

log = logging.getLogger(__name__)

RECV_SIZE = 65536
UNTERMINATED_IDLE = 0.5
# Ports tried for the RTP/RTCP pair: RFC 3550 §11 wants RTP on an even port, RTCP on the next.
RTP_PORT_TRIES = 50


class TCPChannel:
    """One RTSP connection: send a request, read the next reply (or see it close)."""

    def __init__(self, target: Target, timeout: float = 3.0) -> None:
        self.timeout = timeout
        self.sock = socket.create_connection((target.host, target.port), timeout=timeout)
        self.reader = ReplyReader()
        self.pending: list[Reply] = []
        self.closed = False

    def exchange(self, request: bytes) -> ProbeExchange:
        """Send ``request`` and wait for the next reply, the close, or the timeout."""
        if self.closed:
            return ProbeExchange(closed=True)
        try:
            self.sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer and close before reading all of a large request.
            log.debug("send failed; reading what the server said", exc_info=True)
        except OSError as exc:
            return ProbeExchange(error=f"send failed: {exc}")
        deadline = time.monotonic() + self.timeout
        while not self.pending:
            remaining = deadline - time.monotonic()
            partial = bool(self.reader.buffer)
            if remaining <= 0:
                return self._unterminated() or ProbeExchange(
                    error=f"no reply within {self.timeout:.1f} s"
                )
            try:
                # A reply head that stops short of its empty line (the lab's server) is
                # taken as sent once the peer has been quiet for a moment.
                self.sock.settimeout(min(remaining, UNTERMINATED_IDLE) if partial else remaining)
                data = self.sock.recv(RECV_SIZE)
            except TimeoutError:
                if partial:
                    return self._unterminated() or ProbeExchange(error="unreadable partial reply")
                continue
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except OSError as exc:
                return ProbeExchange(error=f"receive failed: {exc}")
            if not data:
                self.closed = True
                return self._unterminated() or ProbeExchange(closed=True)
            try:
                self.pending.extend(self.reader.feed(data))
            except ReplyError as exc:
                self.closed = True
                return ProbeExchange(error=f"unreadable reply: {exc}")
        return ProbeExchange(reply=self.pending.pop(0))

    def wait_interleaved(self, timeout: float) -> int:
        """Read until an interleaved '$' frame has arrived (or ``timeout``); the count."""
        deadline = time.monotonic() + timeout
        while not self.reader.skipped_interleaved and not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                self.sock.settimeout(remaining)
                data = self.sock.recv(RECV_SIZE)
            except TimeoutError:
                break
            except OSError:
                data = b""
            if not data:
                self.closed = True
                break
            try:
                self.pending.extend(self.reader.feed(data))
            except ReplyError:
                self.closed = True
        return self.reader.skipped_interleaved

    def _unterminated(self) -> ProbeExchange | None:
        try:
            reply = self.reader.flush_unterminated()
        except ReplyError as exc:
            return ProbeExchange(error=f"unreadable reply: {exc}")
        return ProbeExchange(reply=reply) if reply is not None else None

    def close(self) -> None:
        self.sock.close()


class UDPReceiver:
    """A bound even/odd UDP port pair that tells whether any RTP datagram arrived."""

    def __init__(self, host: str = "0.0.0.0") -> None:
        for _ in range(RTP_PORT_TRIES):
            rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rtp.bind((host, 0))
            port = rtp.getsockname()[1]
            if port % 2 == 0:
                rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    rtcp.bind((host, port + 1))
                except OSError:
                    rtcp.close()
                else:
                    self.rtp, self.rtcp = rtp, rtcp
                    self.rtp_port, self.rtcp_port = port, port + 1
                    return
            rtp.close()
        raise OSError("could not bind an even/odd UDP port pair for RTP/RTCP")

    def wait_datagram(self, timeout: float) -> bool:
        """True once a datagram is waiting on the RTP port, False after ``timeout``."""
        ready, _, _ = select.select([self.rtp], [], [], timeout)
        return bool(ready)

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


def socket_environment(
    target: Target, timeout: float = 3.0, rtp_wait: float = 2.0
) -> ProbeEnvironment:
    """The probe environment that talks to ``target`` over real sockets."""
    return ProbeEnvironment(
        connect=lambda: TCPChannel(target, timeout), rtp_receiver=UDPReceiver, rtp_wait=rtp_wait
    )
