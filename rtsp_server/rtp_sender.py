"""Putting RTP packets on the wire: UDP with GSO, in one sendmmsg per tick, or scatter/gather;
TCP interleaved.

Payloads are shared among sessions (packetized once per file and MTU); only the 12-byte header
differs, so the send path hands the kernel (header, payload) pairs without copying payloads.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Sequence

from rtsp_common.rtp import MAX_UDP_PAYLOAD
from rtsp_common.rtsp import INTERLEAVED_MAGIC
from rtsp_server.datagram_batch import DatagramBatch

log = logging.getLogger(__name__)

# Linux UDP generic segmentation offload (linux/udp.h): one sendmsg carries many datagrams.
SOL_UDP = getattr(socket, "SOL_UDP", 17)
UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)
GSO_MAX_SEGMENTS = 64  # linux/udp.h UDP_MAX_SEGMENTS
GSO_MAX_BYTES = MAX_UDP_PAYLOAD  # one datagram's payload limit bounds the whole GSO super-packet
_INTERLEAVED = struct.Struct("!BBH")  # RFC 2326 §10.12: "$", channel, length
_SEGMENT_SIZE = struct.Struct("=H")


class UDPSender:
    """Sends a frame's packets to one address with as few syscalls as the kernel allows."""

    def __init__(self, sock: socket.socket, use_gso: bool = True, batch: bool = True) -> None:
        """``batch`` False sends every queued frame at once, one sendmsg per packet."""
        internet = sock.family in (socket.AF_INET, socket.AF_INET6)
        self.sock = sock
        self.use_gso = use_gso and internet
        self.packets_dropped = 0  # refused by a full socket buffer
        self._gso_works = False  # set by the first accepted GSO send: later errors are not GSO's
        self.syscalls = 0
        self._batch = DatagramBatch.create(sock.family) if batch and internet else None

    @property
    def batches(self) -> bool:
        """True when queued frames leave together in one sendmmsg at flush()."""
        return self._batch is not None and not self.use_gso

    def queue_frame(
        self, address: tuple[str, int], headers: Sequence[bytes], payloads: Sequence[bytes]
    ) -> None:
        """Send packets header[i] + payload[i] at the next flush(), with every other frame
        queued until then; at once where they cannot be batched (GSO already sends a frame
        in one call)."""
        batch = self._batch
        if batch is None or self.use_gso:
            self.send_frame(address, headers, payloads)
            return
        if len(batch) + len(payloads) > batch.capacity:
            self.flush()
        if not batch.add(address, headers, payloads):
            self.send_frame(address, headers, payloads)

    def flush(self) -> int:
        """Send every queued frame; return how many packets the kernel accepted."""
        if self._batch is None or len(self._batch) == 0:
            return 0
        result = self._batch.send(self.sock.fileno())
        self.packets_dropped += result.dropped
        self.syscalls += result.syscalls
        return result.sent

    def send_frame(
        self, address: tuple[str, int], headers: Sequence[bytes], payloads: Sequence[bytes]
    ) -> int:
        """Send packets header[i] + payload[i]; return how many the kernel accepted."""
        sent = 0
        start = 0
        count = len(payloads)
        while start < count:
            end = self._gso_batch_end(headers, payloads, start) if self.use_gso else start + 1
            if end - start > 1 and self._send_gso(address, headers, payloads, start, end):
                sent += end - start
            else:
                end = start + 1
                if self._send_one(address, headers[start], payloads[start]):
                    sent += 1
            start = end
        return sent

    @staticmethod
    def _gso_batch_end(headers: Sequence[bytes], payloads: Sequence[bytes], start: int) -> int:
        """End of the run from ``start`` that GSO can carry: equal sizes, the last may be shorter."""
        size = len(headers[start]) + len(payloads[start])
        end = start + 1
        total = size
        while end < len(payloads) and end - start < GSO_MAX_SEGMENTS:
            this = len(headers[end]) + len(payloads[end])
            if this > size or total + this > GSO_MAX_BYTES:
                break
            total += this
            end += 1
            if this < size:
                break
        return end

    def _send_gso(self, address, headers, payloads, start: int, end: int) -> bool:
        buffers = []
        for i in range(start, end):
            buffers.append(headers[i])
            buffers.append(payloads[i])
        segment = len(headers[start]) + len(payloads[start])
        try:
            self.sock.sendmsg(
                buffers, [(SOL_UDP, UDP_SEGMENT, _SEGMENT_SIZE.pack(segment))], 0, address
            )
        except BlockingIOError:
            self.packets_dropped += end - start
            self.syscalls += 1
            return True  # counted as dropped; do not retry one by one into a full buffer
        except OSError as exc:
            if not self._gso_works:
                log.info("UDP GSO unavailable (%s): sending one datagram per packet", exc)
                self.use_gso = False
            return False  # retried packet by packet, which reports a per-destination error
        self._gso_works = True
        self.syscalls += 1
        return True

    def _send_one(self, address, header: bytes, payload: bytes) -> bool:
        self.syscalls += 1
        try:
            self.sock.sendmsg([header, payload], [], 0, address)
        except BlockingIOError:
            self.packets_dropped += 1
            return False
        except OSError as exc:
            # e.g. ECONNREFUSED from an earlier ICMP port unreachable: the client went away.
            log.debug("RTP to %s failed: %s", address, exc)
            return False
        return True


def interleaved_frame(channel: int, headers: Sequence[bytes], payloads: Sequence[bytes]) -> bytes:
    """Every packet of a frame framed for the RTSP connection, as one buffer for one write."""
    parts = []
    for header, payload in zip(headers, payloads):
        parts.append(_INTERLEAVED.pack(INTERLEAVED_MAGIC, channel, len(header) + len(payload)))
        parts.append(header)
        parts.append(payload)
    return b"".join(parts)


PACE_BURSTS = 8  # a paced frame leaves in at most this many bursts


def frame_bursts(count: int, span: float) -> list[tuple[float, int, int]]:
    """How a frame of ``count`` packets is spread over ``span`` seconds: (offset from its
    deadline, first packet, end) per burst, at most PACE_BURSTS evenly spaced bursts, the
    first at once. ``span`` 0 sends the whole frame at once."""
    bursts = min(count, PACE_BURSTS) if span > 0 else 1
    bounds = [round(i * count / bursts) for i in range(bursts + 1)]
    step = span / bursts
    return [
        (i * step, bounds[i], bounds[i + 1]) for i in range(bursts) if bounds[i + 1] > bounds[i]
    ]
