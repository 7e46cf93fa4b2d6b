"""The client's RTP/RTCP port pair on the event loop: binding, reading, batching.

RTP is drained straight off its socket, every datagram a wake-up finds: a frame's packets
arrive in a burst, so this saves a loop round trip per packet. Where the system has it,
recvmmsg reads up to RTP_DATAGRAMS_PER_CALL datagrams per call (``rtsp_client.mmsg``); each
datagram keeps the kernel's receive time (SO_TIMESTAMPNS), so arrival times stay exact
however late we read. That is what lets reading go on a timer once frames flow
(``batch_interval``): far fewer wake-ups, the same statistics.

The datagrams of each read, however it was done, go together to the one batch handler the
core gives.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
from collections.abc import Callable
from typing import Protocol

from rtsp_client.mmsg import SO_TIMESTAMPNS, TIMESPEC, BatchReader, Datagram

logger = logging.getLogger(__name__)

UDP_RECEIVE_BUFFER = 4 * 1024 * 1024  # bytes: room for bursts of a frame's packets
PORT_PAIR_ATTEMPTS = 64
MAX_DATAGRAM = 65536  # the largest UDP payload, so no datagram is ever truncated
ANCILLARY_SPACE = socket.CMSG_SPACE(TIMESPEC.size)  # one SO_TIMESTAMPNS control message
RTP_DRAIN_LIMIT = 64  # datagrams read per wake-up before yielding to the loop
RTP_BATCH_DRAIN_LIMIT = 4096  # the same when woken by the batch timer (a batch is bigger)
RTP_DATAGRAMS_PER_CALL = 64  # recvmmsg batch: several frames' packets at 640x480 per call
# A batch should fill at most this share of the socket's receive buffer, or a burst could
# overflow it; each datagram is counted with an allowance for the kernel's bookkeeping.
BATCH_BUFFER_SHARE = 0.25
DATAGRAM_OVERHEAD = 768  # bytes: roughly what an sk_buff adds to a datagram's size
MIN_BATCH_INTERVAL = 0.005  # seconds: the shortest the batch timer adapts down to
FIRST_BATCH_INTERVAL = 0.05  # seconds: batches start short and grow while they stay small

# (datagrams read together, the time they were read: the arrival of those the kernel did
# not stamp) -> True when they completed a frame.
BatchHandler = Callable[[list[Datagram], float], bool]


def bind_port_pair(host: str, rtp_port: int) -> tuple[socket.socket, socket.socket]:
    """Bind UDP sockets on an even/odd pair (RFC 3550 §11); ``rtp_port=0`` picks a free pair."""
    if rtp_port:
        rtp = _bind_udp(host, rtp_port)
        try:
            return rtp, _bind_udp(host, rtp_port + 1)
        except OSError:
            rtp.close()  # half a pair is no use: release it
            raise
    for _ in range(PORT_PAIR_ATTEMPTS):
        rtp = _bind_udp(host, 0)
        port = rtp.getsockname()[1]
        if port % 2 == 0:
            try:
                return rtp, _bind_udp(host, port + 1)
            except OSError:
                pass
        rtp.close()
    raise OSError("could not find a free even/odd UDP port pair")


def _bind_udp(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def enable_kernel_timestamps(sock: socket.socket) -> bool:
    """Ask for each datagram's kernel receive time; False where the system has none."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError as exc:
        logger.debug("no kernel receive timestamps: %s", exc)
        return False
    return True


def kernel_arrival(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    """The kernel's receive time from recvmsg's ancillary data, or None when absent."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= TIMESPEC.size:
            seconds, nanoseconds = TIMESPEC.unpack_from(data)
            return seconds + nanoseconds * 1e-9
    return None


class DatagramReader(Protocol):
    """Reads the datagrams waiting on a socket without blocking."""

    def read(self) -> list[Datagram]:
        """(data, sender, kernel receive time or None) of each; [] when none waits.

        Raises OSError for socket errors other than "nothing waiting".
        """
        ...


class SingleReader:
    """One datagram per system call (recvmsg for its stamp, else recvfrom): where there is
    no recvmmsg."""

    def __init__(self, sock: socket.socket, count: int, stamped: bool) -> None:
        self._sock = sock
        self._count = count
        self._stamped = stamped
        self._buffer = bytearray(MAX_DATAGRAM)
        self._view = memoryview(self._buffer)  # slicing it copies once, not twice

    def read(self) -> list[Datagram]:
        """Up to ``count`` waiting datagrams (see ``DatagramReader.read``)."""
        sock, buffers, view = self._sock, [self._buffer], self._view
        batch: list[Datagram] = []
        for _ in range(self._count):
            try:
                if self._stamped:
                    size, ancillary, _flags, sender = sock.recvmsg_into(buffers, ANCILLARY_SPACE)
                    stamp = kernel_arrival(ancillary)
                else:
                    size, sender = sock.recvfrom_into(self._buffer)
                    stamp = None
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                if batch:
                    break  # what was read counts; the error shows on the next read
                raise
            batch.append((bytes(view[:size]), sender, stamp))
        return batch


class BatchPeriod:
    """How long the batch timer waits: it doubles while batches stay small (up to
    ``longest``) and halves when one fills more than ``room`` bytes of the receive buffer."""

    def __init__(self, longest: float, room: int) -> None:
        self.longest = longest
        self.room = room
        self.seconds = min(FIRST_BATCH_INTERVAL, longest)

    def after(self, taken: int) -> float:
        """The next wait after a batch that took ``taken`` bytes of the buffer."""
        if taken > self.room:
            self.seconds = max(self.seconds / 2, MIN_BATCH_INTERVAL)
            logger.debug("RTP batches every %.3f s", self.seconds)
        elif taken < self.room // 4:
            self.seconds = min(self.seconds * 2, self.longest)
        return self.seconds


class _RTCPDatagrams(asyncio.DatagramProtocol):
    """The UDP edge for RTCP (RTP is drained straight off its socket)."""

    def __init__(self, on_rtcp: Callable[[bytes, tuple | None], None]) -> None:
        self.on_rtcp = on_rtcp

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.on_rtcp(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: nothing to do for a receiver but note it.
        logger.debug("UDP error: %s", exc)


class UDPMedia:
    """An open RTP/RTCP port pair: RTP datagrams to ``on_rtp`` a batch at a time (as many as
    one read gave), RTCP ones to ``on_rtcp``.

    ``after_read`` runs after each drain of the RTP socket (the core schedules its reorder
    timer there). With ``batch_interval`` > 0 and kernel timestamps, reading moves from
    readiness to a timer once the first frame is complete.
    """

    def __init__(
        self,
        rtp_sock: socket.socket,
        rtcp: asyncio.DatagramTransport,
        on_rtp: BatchHandler,
        after_read: Callable[[], None],
        batch_interval: float,
    ) -> None:
        self.rtp_port: int = rtp_sock.getsockname()[1]
        self.kernel_timestamps = enable_kernel_timestamps(rtp_sock)
        reader: DatagramReader | None = None
        if self.kernel_timestamps:
            reader = BatchReader.create(
                rtp_sock, RTP_DATAGRAMS_PER_CALL, MAX_DATAGRAM, ANCILLARY_SPACE
            )
        self.reader: DatagramReader = reader or SingleReader(
            rtp_sock, RTP_DATAGRAMS_PER_CALL, self.kernel_timestamps
        )
        self.batching: BatchPeriod | None = None  # set once reading is on the timer
        self._rtp_sock: socket.socket | None = rtp_sock
        self._rtcp = rtcp
        self._on_rtp = on_rtp
        self._after_read = after_read
        self._batch_interval = batch_interval if self.kernel_timestamps else 0.0
        self._batch_timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(rtp_sock.fileno(), self._drain, RTP_DRAIN_LIMIT)

    @classmethod
    async def open(
        cls,
        rtp_port: int,
        on_rtp: BatchHandler,
        on_rtcp: Callable[[bytes, tuple | None], None],
        after_read: Callable[[], None],
        batch_interval: float = 0.0,
    ) -> UDPMedia:
        """Bind the pair (``rtp_port`` 0: any free one) on every IPv4 address and start reading."""
        rtp_sock, rtcp_sock = bind_port_pair("0.0.0.0", rtp_port)
        loop = asyncio.get_running_loop()
        try:
            rtcp, _ = await loop.create_datagram_endpoint(
                lambda: _RTCPDatagrams(on_rtcp), sock=rtcp_sock
            )
        except BaseException:
            rtp_sock.close()
            rtcp_sock.close()
            raise
        return cls(rtp_sock, rtcp, on_rtp, after_read, batch_interval)

    @property
    def is_open(self) -> bool:
        """False once closed."""
        return self._rtp_sock is not None

    def send_rtcp(self, packet: bytes, address: tuple[str, int]) -> None:
        """Send an RTCP packet from our RTCP port (RFC 3550 §11: symmetric ports)."""
        self._rtcp.sendto(packet, address)

    def close(self) -> None:
        """Stop reading and close both sockets; what waited since the last batch is read."""
        self._rtcp.close()
        if self._batch_timer is not None:
            self._batch_timer.cancel()
            self._batch_timer = None
            self._drain(RTP_BATCH_DRAIN_LIMIT)  # what came in since the last batch counts
        sock = self._rtp_sock
        if sock is not None:
            self._rtp_sock = None
            self._loop.remove_reader(sock.fileno())
            sock.close()

    def _drain(self, limit: int) -> int:
        """Read and hand on up to ``limit`` waiting datagrams; the buffer bytes they took."""
        on_rtp, reader, clock = self._on_rtp, self.reader, time.time
        taken = 0
        read = 0
        try:
            while read < limit and self._rtp_sock is not None:
                try:
                    batch = reader.read()
                except OSError as exc:  # ICMP errors and the like: nothing to do for a receiver
                    logger.debug("RTP socket: %s", exc)
                    return taken
                if not batch:
                    return taken
                read += len(batch)
                taken += sum(len(data) for data, _, _ in batch) + DATAGRAM_OVERHEAD * len(batch)
                completed = on_rtp(batch, clock())
                if completed and self._batch_interval > 0 and self.batching is None:
                    self._start_batching()
            return taken  # the limit (or a listener closed us): more may wait
        finally:
            self._after_read()

    def _start_batching(self) -> None:
        """From now on read RTP on a timer, not on readiness (see ``batch_interval``)."""
        sock = self._rtp_sock
        if sock is None:
            return
        self._loop.remove_reader(sock.fileno())
        room = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.batching = BatchPeriod(self._batch_interval, int(room * BATCH_BUFFER_SHARE))
        self._batch_timer = self._loop.call_later(self.batching.seconds, self._batch_tick)

    def _batch_tick(self) -> None:
        self._batch_timer = None
        if self._rtp_sock is None or self.batching is None:
            return
        taken = self._drain(RTP_BATCH_DRAIN_LIMIT)
        # Keep batches well inside the receive buffer (see BatchPeriod).
        delay = self.batching.after(taken)
        if self._rtp_sock is not None:
            self._batch_timer = self._loop.call_later(delay, self._batch_tick)
