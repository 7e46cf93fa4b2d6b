"""Linux system calls that Python's socket module lacks, reached through libc with ctypes.

The server sends with sendmmsg(2) and the client reads with recvmmsg(2); both take arrays of
``struct mmsghdr``, laid out here once. ``libc_function`` gives a libc function with its C
signature, or None where there is none (not Linux, an old libc): callers then keep the
portable path. Nothing here makes a call.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

logger = logging.getLogger(__name__)


class IOVec(ctypes.Structure):
    """struct iovec (<sys/uio.h>): one piece of a gathered or scattered datagram."""

    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class MsgHdr(ctypes.Structure):
    """struct msghdr (<sys/socket.h>): one datagram's address, pieces and control data."""

    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),  # socklen_t
        ("msg_iov", ctypes.c_void_p),  # struct iovec *
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class MMsgHdr(ctypes.Structure):
    """struct mmsghdr (<sys/socket.h>): a msghdr and the length the kernel moved."""

    _fields_ = [("msg_hdr", MsgHdr), ("msg_len", ctypes.c_uint)]


@functools.cache
def _libc() -> ctypes.CDLL:
    """The process's C library, loaded once for every function taken from it."""
    return ctypes.CDLL(None, use_errno=True)


def libc_function(
    name: str, argtypes: Sequence[Any], restype: Any = ctypes.c_int
) -> Callable[..., Any] | None:
    """libc's ``name`` with its C signature (errno kept for ctypes.get_errno), or None where
    this is not Linux or libc has no such function."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = getattr(_libc(), name)
    except (OSError, AttributeError) as exc:
        logger.debug("%s unavailable: %s", name, exc)
        return None
    function.argtypes = list(argtypes)
    function.restype = restype
    return function
