"""Every datagram of a scheduler tick in one sendmmsg(2) call.

Sending each RTP packet with its own ``sendmsg`` costs a system call and Python's argument
handling per packet; with 60 sessions of about 24 packets a frame that was most of the
server's CPU outside the kernel's own UDP work, and it spaced a tick's packets some
microseconds apart. The frames due in one tick are queued here instead and leave together,
in order, in one ``sendmmsg`` (Linux, through libc), as GStreamer's multiudpsink sends them.

The kernel is handed (header, payload) pairs without copying payloads: the tick's headers
are copied once into a preallocated area, and each payload list of a clip (packetized once,
shared by every session) has its I/O vector rows prepared once. Where libc has no
``sendmmsg``, ``DatagramBatch.create`` returns None and the sender keeps one ``sendmsg``
per packet.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rtsp_common.linux_calls import IOVec, MMsgHdr, MsgHdr, libc_function
from rtsp_common.rtp import RTP_HEADER_SIZE

log = logging.getLogger(__name__)

CAPACITY = 1024  # datagrams per batch: UIO_MAXIOV, the most one sendmmsg takes
# Payload bytes the prepared vector rows keep alive beyond the clips' own caches (a replaced
# clip's frames stay until the next clear): a clip of a few hundred frames fits.
TEMPLATE_BYTES_LIMIT = 64 << 20
ADDRESS_CACHE_LIMIT = 4096  # destinations whose socket addresses are kept


def _numpy_view(array: ctypes.Array, structure: type[ctypes.Structure]) -> np.ndarray:
    """A numpy view of a ctypes array whose items start with ``structure``'s fields, with the
    same names and offsets (numpy cannot read ctypes' pointer fields from the buffer
    protocol itself)."""
    fields = [(field[0], field[1]) for field in structure._fields_]
    names = [name for name, _ in fields]
    formats = [f"u{ctypes.sizeof(kind)}" for _, kind in fields]
    offsets = [getattr(structure, name).offset for name in names]
    dtype = np.dtype(
        {
            "names": names,
            "formats": formats,
            "offsets": offsets,
            "itemsize": ctypes.sizeof(array) // len(array),
        }
    )
    return np.frombuffer(memoryview(array).cast("B"), dtype=dtype)


_SENDMMSG = libc_function("sendmmsg", [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int])


@dataclass
class BatchResult:
    """What one flush did: datagrams the kernel took, datagrams dropped on a full socket
    buffer, and system calls made."""

    sent: int = 0
    dropped: int = 0
    syscalls: int = 0


class DatagramBatch:
    """Datagrams header[i] + payload[i] to many destinations, queued, then sent at once."""

    def __init__(self, family: int, capacity: int = CAPACITY) -> None:
        if _SENDMMSG is None:
            raise OSError("sendmmsg is not available on this system")
        self.capacity = capacity
        self._family = family
        self._messages = (MMsgHdr * capacity)()
        self._vectors = (IOVec * (2 * capacity))()
        self._headers = (ctypes.c_char * (RTP_HEADER_SIZE * capacity))()
        self._header_bytes = memoryview(self._headers).cast("B")
        messages = _numpy_view(self._messages, MsgHdr)  # the msghdr heads each mmsghdr
        self._names = messages["msg_name"]
        self._name_lengths = messages["msg_namelen"]
        messages["msg_iov"] = ctypes.addressof(self._vectors) + ctypes.sizeof(IOVec) * 2 * (
            np.arange(capacity, dtype=np.uint64)
        )
        messages["msg_iovlen"] = 2
        self._rows = _numpy_view(self._vectors, IOVec)
        # header i of the batch sits at RTP_HEADER_SIZE * i in the header area
        self._header_offsets = np.arange(capacity, dtype=np.uint64) * RTP_HEADER_SIZE
        self._header_area = ctypes.addressof(self._headers)
        self._count = 0
        # Each payload list's rows, with the list: its id() is not reused and its payloads stay
        # alive while they are cached (they are let go only after a send, see _clear).
        self._templates: dict[int, tuple[Sequence[bytes], np.ndarray]] = {}
        self._template_bytes = 0
        self._addresses: dict[tuple, ctypes.Array | None] = {}

    @classmethod
    def create(cls, family: int) -> DatagramBatch | None:
        """A batch for sockets of ``family``, or None where sendmmsg is unavailable."""
        return cls(family) if _SENDMMSG is not None else None

    def __len__(self) -> int:
        return self._count

    def add(self, address: tuple, headers: Sequence[bytes], payloads: Sequence[bytes]) -> bool:
        """Queue one frame's datagrams for ``address``; False when the batch cannot carry it
        (no room left, a header that is not the fixed 12 bytes, an address that is not a
        numeric one of the socket's family): the caller sends that frame itself."""
        count = len(payloads)
        first = self._count
        end = first + count
        if end > self.capacity or len(headers) != count:
            return False
        joined = b"".join(headers)
        if len(joined) != RTP_HEADER_SIZE * count:
            return False
        name = self._socket_address(address)
        template = self._template(payloads)
        if name is None or template is None:
            return False
        self._header_bytes[RTP_HEADER_SIZE * first : RTP_HEADER_SIZE * end] = joined
        rows = self._rows[2 * first : 2 * end]
        rows[:] = template
        rows["iov_base"][::2] = self._header_offsets[first:end] + self._header_area
        self._names[first:end] = ctypes.addressof(name)
        self._name_lengths[first:end] = ctypes.sizeof(name)
        self._count = end
        return True

    def send(self, fd: int) -> BatchResult:
        """Send everything queued on socket ``fd`` and empty the batch.

        A full socket buffer drops what is left (retrying datagram by datagram into it would
        only spin); any other error is the failing datagram's destination's (e.g. a refused
        port): that datagram is skipped and the rest go on.
        """
        result = BatchResult()
        done = 0
        base = ctypes.addressof(self._messages)
        size = ctypes.sizeof(MMsgHdr)
        assert _SENDMMSG is not None
        while done < self._count:
            taken = _SENDMMSG(fd, base + size * done, self._count - done, 0)
            result.syscalls += 1
            if taken > 0:
                done += taken
                result.sent += taken
                continue
            code = ctypes.get_errno()
            if code in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS):
                result.dropped += self._count - done
                break
            if code != errno.EINTR:
                log.debug("RTP to %s failed: %s", self._address_of(done), os.strerror(code))
                done += 1
        self._clear()
        return result

    def _address_of(self, index: int) -> tuple | None:
        """The destination of queued datagram ``index`` (for the log: errors are rare)."""
        name = int(self._names[index])
        for address, built in self._addresses.items():
            if built is not None and ctypes.addressof(built) == name:
                return address
        return None

    def _clear(self) -> None:
        self._count = 0
        if self._template_bytes > TEMPLATE_BYTES_LIMIT:
            self._templates.clear()
            self._template_bytes = 0
        if len(self._addresses) > ADDRESS_CACHE_LIMIT:
            self._addresses.clear()

    def _template(self, payloads: Sequence[bytes]) -> np.ndarray | None:
        """The I/O vector rows of a payload list: (header placeholder, 12), (payload, size)."""
        cached = self._templates.get(id(payloads))
        if cached is not None and cached[0] is payloads:
            return cached[1]
        rows = np.zeros(2 * len(payloads), dtype=self._rows.dtype)
        rows["iov_len"][::2] = RTP_HEADER_SIZE
        for i, payload in enumerate(payloads):
            if not isinstance(payload, bytes):
                return None  # only a bytes object's buffer is known not to move
            rows["iov_base"][2 * i + 1] = (
                ctypes.cast(ctypes.c_char_p(payload), ctypes.c_void_p).value or 0
            )
            rows["iov_len"][2 * i + 1] = len(payload)
        self._templates[id(payloads)] = (payloads, rows)
        self._template_bytes += int(rows["iov_len"][1::2].sum())
        return rows

    def _socket_address(self, address: tuple) -> ctypes.Array | None:
        """A sockaddr for ``address`` (built once per destination), or None if it is not a
        numeric address of the socket's family."""
        try:
            return self._addresses[address]
        except KeyError:
            pass
        name = None
        try:
            packed = socket.inet_pton(self._family, address[0])
            port = int(address[1]).to_bytes(2, "big")
        except (OSError, ValueError, TypeError, IndexError, OverflowError):
            packed = None
        if packed is not None and self._family == socket.AF_INET:
            name = ctypes.create_string_buffer(  # struct sockaddr_in
                socket.AF_INET.to_bytes(2, sys.byteorder) + port + packed + bytes(8), 16
            )
        elif packed is not None and self._family == socket.AF_INET6:
            flowinfo = address[2] if len(address) > 2 else 0
            scope = address[3] if len(address) > 3 else 0
            name = ctypes.create_string_buffer(  # struct sockaddr_in6
                socket.AF_INET6.to_bytes(2, sys.byteorder)
                + port
                + int(flowinfo).to_bytes(4, "big")
                + packed
                + int(scope).to_bytes(4, sys.byteorder),
                28,
            )
        self._addresses[address] = name
        return name
