"""Packets a capture holds twice: an artefact of how it was taken, not of the network.

A raw socket on a loopback interface (Scapy's ``sniff(iface="lo")``, this project's own
AF_PACKET reader without its filter) sees each datagram once leaving and once arriving; a
capture merged from two interfaces of one path does the same. The two copies are the
same bytes (IP identification included, RFC 791 §3.1), microseconds apart. Left in, they
read as duplicated RTP (RFC 3550 A.3 then computes a negative loss) and as TCP
retransmissions. Such copies are set aside before decoding, counted, and reported once.

A sender that really transmits a datagram twice gives it a new IP identification, or
sends it later than this window: those copies stay, and RTP-SEQ-2 judges them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis.pcapfile import Records

# Both copies of a loopback datagram are taken within microseconds; two interfaces of one
# host path within a fraction of a millisecond. Beyond this they are two transmissions.
DUPLICATE_WINDOW_S = 0.002
# How many records back a copy is looked for: other flows' packets may fall in between.
DUPLICATE_LOOKBACK = 8
# Bytes sampled per record for a quick fingerprint before whole records are compared:
# where Ethernet + IPv4 keep the IP identification, where RTP keeps sequence number and
# timestamp, and the record's last bytes.
FINGERPRINT_AT = (18, 44, -8)
FINGERPRINT_BYTES = 8


@dataclass
class CaptureDuplicates:
    """Records that repeat an earlier one: ``mask[i]`` for record i, and the packet numbers
    of the copies with the packet each copies."""

    mask: np.ndarray
    pairs: list[tuple[int, int]] = field(default_factory=list)  # (copy pktno, original pktno)

    @property
    def count(self) -> int:
        """How many records are copies."""
        return len(self.pairs)


def _fingerprints(records: Records) -> np.ndarray:
    """One 64-bit sample per FINGERPRINT_AT position per record (clipped to the record)."""
    buf = np.frombuffer(records.buffer, dtype=np.uint8)
    offs = np.asarray(records.offsets, dtype=np.int64)
    lens = np.asarray(records.lengths, dtype=np.int64)
    step = np.arange(FINGERPRINT_BYTES)
    columns = []
    for at in FINGERPRINT_AT:
        start = lens + at if at < 0 else np.full(len(lens), at)
        start = np.clip(start, 0, np.maximum(lens - FINGERPRINT_BYTES, 0))
        index = np.minimum(start[:, None] + step, np.maximum(lens - 1, 0)[:, None])
        # An empty record samples the buffer's first byte: it is never a candidate anyway.
        sample = buf[np.where(lens[:, None] > 0, offs[:, None] + index, 0)]
        columns.append(np.ascontiguousarray(sample).view(np.uint64).ravel())
    return np.stack(columns, axis=1)


def find_duplicates(records: Records) -> CaptureDuplicates:
    """Every record whose bytes equal a record shortly before it."""
    n = len(records)
    mask = np.zeros(n, dtype=bool)
    if n < 2:
        return CaptureDuplicates(mask)
    lens = np.asarray(records.lengths, dtype=np.int64)
    times = np.asarray(records.times, dtype=np.float64)
    prints = _fingerprints(records)
    found: dict[int, int] = {}
    for back in range(1, min(DUPLICATE_LOOKBACK, n - 1) + 1):
        later = np.arange(back, n)
        earlier = later - back
        delay = times[later] - times[earlier]
        candidate = (
            (lens[later] == lens[earlier])
            & (lens[later] > 0)
            & (delay >= 0)
            & (delay <= DUPLICATE_WINDOW_S)
            & (prints[later] == prints[earlier]).all(axis=1)
        )
        for i, j in zip(later[candidate].tolist(), earlier[candidate].tolist(), strict=True):
            if i in found or mask[j]:
                continue  # already a copy, or a copy of a copy
            if records.frame(i) == records.frame(j):
                found[i] = j
                mask[i] = True
    pairs = sorted((i + 1, j + 1) for i, j in found.items())
    return CaptureDuplicates(mask, pairs)
