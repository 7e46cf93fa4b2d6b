"""Read many UDP datagrams per system call with Linux recvmmsg(2), through ctypes.

Python's socket module reads one datagram per call; at 30 fps a frame's dozen
packets arrive together, so one recvmmsg per batch saves most of the per-call
cost.  Each datagram keeps its kernel receive time (SO_TIMESTAMPNS, socket(7)).
``BatchReader.create`` returns None where recvmmsg is unavailable (not Linux,
no libc symbol): the caller then reads one datagram per call (``rtsp_client.udp_media``).
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import logging
import mmap
import os
import socket
import struct
from collections.abc import Iterable

from rtsp_client.receiver import Datagram  # its bytes, sender, kernel receive time or None
from rtsp_common.linux_calls import IOVec, MMsgHdr, MsgHdr, libc_function

logger = logging.getLogger(__name__)

# socket(7), Linux: SO_TIMESTAMPNS makes recvmsg carry the kernel's receive time as a
# struct timespec (CLOCK_REALTIME, C longs).  Python's socket module does not name it;
# this is its asm-generic value.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
TIMESPEC = struct.Struct("@ll")
# cmsg(3): struct cmsghdr is size_t cmsg_len, int cmsg_level, int cmsg_type; data aligned
# to size_t after it.
_CMSG_HEADER = struct.Struct("@Nii")
_CMSG_ALIGN = ctypes.sizeof(ctypes.c_size_t)
# ip(7), ipv6(7): sockaddr_in is family (host order), port, address; sockaddr_in6 adds
# flowinfo before and scope id after the 16-byte address.
_FAMILY = struct.Struct("@H")
_SOCKADDR_IN = struct.Struct("!2xH4s")
_SOCKADDR_IN6 = struct.Struct("!2xHI16s")
_SCOPE_ID = struct.Struct("@I")  # sin6_scope_id, host order, after the address
_SOCKADDR_STORAGE_SIZE = 128  # sizeof(struct sockaddr_storage)
MAX_ADDRESSES = 64  # decoded sender addresses remembered
_RETRY_LATER = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)
_SOL_SOCKET = socket.SOL_SOCKET


_STRIDE = ctypes.sizeof(MMsgHdr)
_NAMELEN_AT = MMsgHdr.msg_hdr.offset + MsgHdr.msg_namelen.offset
_CONTROLLEN_AT = MMsgHdr.msg_hdr.offset + MsgHdr.msg_controllen.offset
_LEN_AT = MMsgHdr.msg_len.offset
# msg_namelen, msg_controllen and msg_len of one mmsghdr, read in one call.
_LENGTHS = struct.Struct(
    f"@{_NAMELEN_AT}xI{_CONTROLLEN_AT - _NAMELEN_AT - 4}xN{_LEN_AT - _CONTROLLEN_AT - _CMSG_ALIGN}xI"
)
# The same lengths as one whole mmsghdr, so a batch's headers are read in one pass.
_LENGTHS_ROW = struct.Struct(f"{_LENGTHS.format}{_STRIDE - _LENGTHS.size}x")
# One SO_TIMESTAMPNS control message: cmsghdr then the timespec (x86-64 and the like:
# the data starts right after the aligned header).
_STAMPED = struct.Struct("@Niill")
# The same message with its header as bytes: one comparison with the header the kernel
# writes tells it is the timestamp, complete.
_STAMP_HEADER = _CMSG_HEADER.pack(_STAMPED.size, socket.SOL_SOCKET, SO_TIMESTAMPNS)
_STAMPED_AFTER_HEADER = struct.Struct(f"@{_CMSG_HEADER.size}sll")
_NO_STAMP = (b"", 0, 0)


_recvmmsg = libc_function(
    "recvmmsg",
    [ctypes.c_int, ctypes.POINTER(MMsgHdr), ctypes.c_uint, ctypes.c_int, ctypes.c_void_p],
)


class BatchReader:
    """Up to ``count`` datagrams of up to ``size`` bytes per recvmmsg call, never blocking."""

    def __init__(self, sock: socket.socket, count: int, size: int, control: int) -> None:
        if _recvmmsg is None:
            raise OSError(errno.ENOSYS, "recvmmsg is not available on this system")
        self._recvmmsg = _recvmmsg
        self._fd = sock.fileno()
        self._count = count
        self._size = size
        self._control = control
        # Anonymous memory: pages are zeroed by the kernel as datagrams first touch them, so
        # slots sized for the largest datagram cost only what the usual small ones fill.
        self._data = mmap.mmap(-1, count * size)
        self._names = bytearray(count * _SOCKADDR_STORAGE_SIZE)
        self._names_view = memoryview(self._names)
        self._controls = bytearray(count * control)
        self._controls_view = memoryview(self._controls)
        data = (ctypes.c_char * len(self._data)).from_buffer(self._data)
        names = (ctypes.c_char * len(self._names)).from_buffer(self._names)
        controls = (ctypes.c_char * len(self._controls)).from_buffer(self._controls)
        self._keep = (data, names, controls)  # the C views must live as long as the arrays
        self._iovecs = (IOVec * count)()
        self._headers = bytearray(count * _STRIDE)
        self._headers_view = memoryview(self._headers)
        self._messages = (MMsgHdr * count).from_buffer(self._headers)
        for i in range(count):
            self._iovecs[i].iov_base = ctypes.addressof(data) + i * size
            self._iovecs[i].iov_len = size
            header = self._messages[i].msg_hdr
            header.msg_name = ctypes.addressof(names) + i * _SOCKADDR_STORAGE_SIZE
            header.msg_iov = ctypes.addressof(self._iovecs[i])
            header.msg_iovlen = 1
            header.msg_control = ctypes.addressof(controls) + i * control
            header.msg_namelen = _SOCKADDR_STORAGE_SIZE
            header.msg_controllen = control
        self._template = bytes(self._headers)
        self._addresses: dict[bytes, tuple | None] = {}

    @classmethod
    def create(cls, sock: socket.socket, count: int, size: int, control: int) -> BatchReader | None:
        """A reader for ``sock``, or None where recvmmsg is unavailable."""
        if _recvmmsg is None:
            return None
        return cls(sock, count, size, control)

    def read(self) -> list[Datagram]:
        """Waiting datagrams as (data, sender, kernel receive time or None); [] when none.

        Raises OSError for socket errors other than "nothing waiting" (as recvfrom would).
        """
        # The kernel writes lengths back into the headers: restore them in one copy.
        self._headers[:] = self._template
        received = self._recvmmsg(self._fd, self._messages, self._count, socket.MSG_DONTWAIT, None)
        if received < 0:
            code = ctypes.get_errno()
            if code in _RETRY_LATER:
                return []
            raise OSError(code, os.strerror(code))
        data_buffer, size, control = self._data, self._size, self._control
        rows = list(_LENGTHS_ROW.iter_unpack(self._headers_view[: received * _STRIDE]))
        if control == _STAMPED.size:  # one control message per datagram: read them in one pass
            stamps = _STAMPED_AFTER_HEADER.iter_unpack(self._controls_view[: received * control])
        else:
            stamps = itertools.repeat(_NO_STAMP, received)
        batch: list[Datagram] = []
        append = batch.append
        start = 0
        for sender, (_, controllen, length), (header, seconds, nanoseconds) in zip(
            self._senders(rows), rows, stamps
        ):
            data = data_buffer[start : start + (length if length < size else size)]  # a copy
            # The usual case: our one option, first (the buffer is reused: the kernel's
            # length says whether this datagram's message is there at all).
            if controllen >= _STAMPED.size and header == _STAMP_HEADER:
                append((data, sender, seconds + nanoseconds * 1e-9))
            else:
                append((data, sender, self._timestamp(start // size * control, controllen)))
            start += size
        return batch

    def _senders(self, rows: list[tuple[int, int, int]]) -> Iterable[tuple | None]:
        """The sender of each datagram read (``rows``: their lengths); decoded once when one
        sender sent them all, as a stream's server does (their address slots are then byte
        for byte the same)."""
        received = len(rows)
        slots = bytes(self._names_view[: received * _SOCKADDR_STORAGE_SIZE])
        first = slots[:_SOCKADDR_STORAGE_SIZE]
        if received and slots == first * received:
            return itertools.repeat(self._sender_of(first, rows[0][0]), received)
        return [
            self._sender_of(slots[at : at + _SOCKADDR_STORAGE_SIZE], namelen)
            for at, (namelen, _, _) in zip(range(0, len(slots), _SOCKADDR_STORAGE_SIZE), rows)
        ]

    def _sender_of(self, slot: bytes, namelen: int) -> tuple | None:
        raw = slot[: min(namelen, _SOCKADDR_STORAGE_SIZE)]
        return self._addresses[raw] if raw in self._addresses else self._sender(raw)

    def _sender(self, raw: bytes) -> tuple | None:
        sender = _decode_sockaddr(raw)
        if len(self._addresses) < MAX_ADDRESSES:  # a handful of peers: never grow unbounded
            self._addresses[raw] = sender
        return sender

    def _timestamp(self, start: int, length: int) -> float | None:
        controls = self._controls
        pos, stop = start, start + min(length, self._control)
        while pos + _CMSG_HEADER.size <= stop:
            cmsg_len, level, kind = _CMSG_HEADER.unpack_from(controls, pos)
            if cmsg_len < _CMSG_HEADER.size:
                return None
            data = pos + _CMSG_HEADER.size
            if (
                level == socket.SOL_SOCKET
                and kind == SO_TIMESTAMPNS
                and data + TIMESPEC.size <= stop
            ):
                seconds, nanoseconds = TIMESPEC.unpack_from(controls, data)
                return seconds + nanoseconds * 1e-9
            pos += (cmsg_len + _CMSG_ALIGN - 1) // _CMSG_ALIGN * _CMSG_ALIGN
        return None


def _decode_sockaddr(raw: bytes) -> tuple | None:
    """The (host, port[, flowinfo, scope_id]) tuple Python's socket module would give."""
    if len(raw) < _FAMILY.size:
        return None
    (family,) = _FAMILY.unpack_from(raw)
    if family == socket.AF_INET and len(raw) >= _SOCKADDR_IN.size:
        port, address = _SOCKADDR_IN.unpack_from(raw)
        return socket.inet_ntop(socket.AF_INET, address), port
    if family == socket.AF_INET6 and len(raw) >= _SOCKADDR_IN6.size + _SCOPE_ID.size:
        port, flowinfo, address = _SOCKADDR_IN6.unpack_from(raw)
        (scope,) = _SCOPE_ID.unpack_from(raw, _SOCKADDR_IN6.size)
        return socket.inet_ntop(socket.AF_INET6, address), port, flowinfo, scope
    return None
