"""Numbers read at many byte offsets of one buffer at once.

A capture's headers sit at arbitrary, unaligned offsets. The buffer is viewed as
overlapping blocks of a header's width, one starting at every byte, so every header is
copied out in one gather (``byte_rows``); its fields are then read from that compact copy
(``column``), not gathered from the buffer one by one.
"""

from __future__ import annotations

import numpy as np


def byte_rows(buffer, at: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bytes at each byte offset ``at`` (all within the buffer) as the rows
    of a ``(len(at), width)`` uint8 array: several fields of one header cost one pass
    over the buffer, not one each (each pass touches every page it reaches)."""
    if len(buffer) < width:
        return np.zeros((0, width), dtype=np.uint8)
    whole = np.ndarray((len(buffer) - width + 1,), dtype=f"V{width}", buffer=buffer, strides=(1,))
    return whole[at].view(np.uint8).reshape(len(at), width)


def column(table: np.ndarray, start: int, width: int, endian: str = ">") -> np.ndarray:
    """The ``width``-byte unsigned integers at byte ``start`` of every row of ``table``
    (from ``byte_rows``), as int64 (8-byte ones as uint64, which int64 cannot all hold)."""
    if width == 1:
        return table[:, start].astype(np.int64)
    field = np.ascontiguousarray(table[:, start : start + width])
    values = field.view(f"{endian}u{width}").reshape(-1)
    return values.astype(np.uint64 if width == 8 else np.int64)
