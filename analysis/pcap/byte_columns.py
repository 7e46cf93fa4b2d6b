"""Numbers read at many byte offsets of one buffer at once.

A capture's headers sit at arbitrary, unaligned offsets. Rather than gathering each byte
and shifting (four gathers and three ors for a 32-bit field), the buffer is viewed as
overlapping unaligned integers, one starting at every byte, and a field is one gather.
"""

from __future__ import annotations

import numpy as np


def words(buffer, width: int, endian: str = ">") -> np.ndarray:
    """The buffer seen as ``width``-byte unsigned integers starting at every byte offset:
    element ``i`` is the integer in ``buffer[i : i + width]`` (``endian`` ``>`` for
    network order, ``<`` for little-endian). A view: nothing is copied."""
    size = len(buffer) - width + 1
    if size <= 0:
        return np.zeros(0, dtype=f"{endian}u{width}")
    return np.ndarray((size,), dtype=f"{endian}u{width}", buffer=buffer, strides=(1,))


def gather(buffer, at: np.ndarray, width: int, endian: str = ">") -> np.ndarray:
    """The ``width``-byte unsigned integers at byte offsets ``at``, as int64."""
    return words(buffer, width, endian)[at].astype(np.int64)
