"""Packets a capture holds twice: an artefact of how it was taken, not of the network.

A raw socket on a loopback interface (Scapy's ``sniff(iface="lo")``, this project's own
AF_PACKET reader without its filter) sees each datagram once leaving and once arriving; a
capture merged from two interfaces of one path does the same. The two copies are the
same bytes (IP identification included, RFC 791 §3.1), microseconds apart. Left in, they
read as duplicated RTP (RFC 3550 A.3 then computes a negative loss) and as TCP
retransmissions. The decoder sets such copies aside, counts them, and reports them once.

A sender that really transmits a datagram twice gives it a new IP identification, or
sends it later than this window: those copies stay, and RTP-SEQ-2 judges them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from analysis.pcap.records import Records

# Both copies of a loopback datagram are taken within microseconds; two interfaces of one
# host path within a fraction of a millisecond. Beyond this they are two transmissions.
DUPLICATE_WINDOW_S = 0.002


@dataclass
class CaptureDuplicates:
    """The packet numbers of the records that repeat an earlier one, each with the packet
    it copies."""

    pairs: list[tuple[int, int]] = field(default_factory=list)  # (copy pktno, original pktno)

    @property
    def count(self) -> int:
        """How many records are copies."""
        return len(self.pairs)


def confirm_copies(
    records: Records, candidates: list[tuple[int, int]], duplicates: CaptureDuplicates
) -> set[int]:
    """Of (later, earlier) record indices whose headers match, those whose bytes are the
    same; they are added to ``duplicates`` and returned. A third copy names the first."""
    original: dict[int, int] = {}
    copies = set()
    for later, earlier in candidates:
        earlier = original.get(earlier, earlier)
        if records.frame(later) == records.frame(earlier):
            original[later] = earlier
            copies.add(later)
            duplicates.pairs.append((later + 1, earlier + 1))
    return copies


class RecentRecords:
    """The records of the last DUPLICATE_WINDOW_S, by their bytes: a record seen again
    within the window is a copy (for the decoder's packet-by-packet path)."""

    def __init__(self, duplicates: CaptureDuplicates) -> None:
        self._duplicates = duplicates
        self._by_bytes: dict[bytes, tuple[int, float]] = {}
        self._order: deque[tuple[float, bytes]] = deque()

    def is_copy(self, index: int, time: float, data: bytes) -> bool:
        """True when ``data`` repeats a record of the last window (and is then counted)."""
        while self._order and time - self._order[0][0] > DUPLICATE_WINDOW_S:
            _t, old = self._order.popleft()
            seen = self._by_bytes.get(old)
            if seen is not None and time - seen[1] > DUPLICATE_WINDOW_S:
                del self._by_bytes[old]
        seen = self._by_bytes.get(data)
        if seen is not None and 0 <= time - seen[1] <= DUPLICATE_WINDOW_S:
            self._duplicates.pairs.append((index + 1, seen[0] + 1))
            return True
        self._by_bytes[data] = (index, time)
        self._order.append((time, data))
        return False
