"""The records of one capture as columns: what the readers (classic pcap, pcapng) produce."""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field

import numpy as np

from analysis.errors import CaptureFileError

# No sane capture holds a record longer than this (Wireshark's own limit is 256 KiB).
MAX_RECORD_LEN = 262144 * 4


def _no_records() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class Records:
    """Raw records of one capture, indexed by packet number - 1.

    The file's bytes stay in ``buffer``; record i's captured bytes are
    ``buffer[offsets[i] : offsets[i] + lengths[i]]`` (``frame(i)``), so reading makes no
    copy per packet.
    """

    path: str
    format: str  # "pcap" or "pcapng"
    buffer: bytes | mmap.mmap = b""
    times: np.ndarray = field(default_factory=_no_records)
    offsets: np.ndarray = field(default_factory=_no_records)
    lengths: np.ndarray = field(default_factory=_no_records)
    linktypes: np.ndarray = field(default_factory=_no_records)
    # Bytes each packet had on the wire; more than ``lengths`` where the snap length cut it.
    original_lengths: np.ndarray = field(default_factory=_no_records)
    error: CaptureFileError | None = None
    compression: str | None = None  # "gzip", "zstd" or "lz4" when the file was compressed

    def __len__(self) -> int:
        return len(self.offsets)

    @property
    def cut(self) -> int:
        """How many records the snap length cut short."""
        return int(np.count_nonzero(self.original_lengths > self.lengths)) if len(self) else 0

    def frame(self, index: int) -> bytes:
        """The captured bytes of record ``index`` (packet number - 1)."""
        start = int(self.offsets[index])
        return self.buffer[start : start + int(self.lengths[index])]
