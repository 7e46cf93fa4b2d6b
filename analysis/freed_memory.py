"""Handing memory the checker has freed back to the system, between its phases.

Each phase of a check frees large numpy temporaries. glibc serves blocks below its mmap
threshold from the heap, and that threshold rises to 32 MB once large arrays come and go,
so the freed blocks stay resident as holes in the heap: after reading and decoding a
capture of a million packets, about a hundred MB the checker no longer holds.
``malloc_trim`` gives those pages back (glibc ≥ 2.8 releases holes, not only the top).
Where the C library has no ``malloc_trim`` (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:  # no C library by that name (Windows)
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release_freed_memory() -> bool:
    """Return the heap's free pages to the system; True when some were returned."""
    return bool(_TRIM(0)) if _TRIM is not None else False
