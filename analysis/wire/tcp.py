"""TCP stream reassembly, one direction at a time.

Segments are ordered by sequence number (modulo 2^32, relative to the initial sequence
number), retransmitted bytes are kept once (the first copy seen wins, as a receiver
would), and every byte of the rebuilt stream can be traced to the packet that carried it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from analysis.wire.flows import TCP_FIN, TCP_RST, TCP_SYN, FlowKey

SEQ_MODULUS = 1 << 32
SEQ_HALF = 1 << 31


@dataclass
class TCPStream:
    """The bytes one side of a TCP connection sent, in order.

    ``starts[i]`` is the stream offset where the data of packet ``pktnos[i]`` (seen at
    ``times[i]``) begins; ``gaps`` lists ``(offset, missing bytes)`` where the capture
    holds no copy of the data (the stream is joined across them).
    """

    key: FlowKey
    data: bytes = b""
    starts: list[int] = field(default_factory=list)
    pktnos: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)
    retransmissions: int = 0
    out_of_order: int = 0
    syn_seen: bool = False
    closed: bool = False  # the capture holds this side's FIN or RST: it sent nothing more

    def packet_at(self, offset: int) -> tuple[int, float]:
        """Packet number and time of the segment holding stream byte ``offset``."""
        if not self.starts:
            return 0, 0.0
        i = max(bisect.bisect_right(self.starts, offset) - 1, 0)
        return self.pktnos[i], self.times[i]


def reassemble(key: FlowKey, segments: list[tuple[int, float, int, int, bytes]]) -> TCPStream:
    """Rebuild one direction's byte stream from its segments (capture order)."""
    stream = TCPStream(key)
    if not segments:
        return stream
    stream.closed = any(flags & (TCP_FIN | TCP_RST) for _p, _t, _s, flags, _d in segments)
    isn = None
    for _pktno, _t, seq, flags, _payload in segments:
        if flags & TCP_SYN:
            isn = (seq + 1) % SEQ_MODULUS
            stream.syn_seen = True
            break
    if isn is None:
        # No SYN captured: start at the lowest sequence number seen (signed distance).
        first = segments[0][2]
        distances = [((s[2] - first + SEQ_HALF) % SEQ_MODULUS) - SEQ_HALF for s in segments if s[4]]
        isn = (first + min(distances)) % SEQ_MODULUS if distances else first
    ordered = []
    covered_end = 0  # highest stream offset received so far, in arrival order
    holes: list[tuple[int, int]] = []  # ranges below covered_end still missing
    for order, (pktno, t, seq, flags, payload) in enumerate(segments):
        if not payload:
            continue
        rel = (seq - isn) % SEQ_MODULUS
        if flags & TCP_SYN:
            rel = (rel + 1) % SEQ_MODULUS
        if rel >= SEQ_HALF:  # before the stream's start: a stale retransmission
            stream.retransmissions += 1
            continue
        end = rel + len(payload)
        if rel >= covered_end:
            if rel > covered_end:
                holes.append((covered_end, rel))
            covered_end = end
        elif holes and _fills_hole(holes, rel, end):
            stream.out_of_order += 1
            if end > covered_end:
                covered_end = end
        else:
            stream.retransmissions += 1
            if end <= covered_end:
                continue
            covered_end = end
        ordered.append((rel, order, pktno, t, payload))
    ordered.sort()
    chunks = []
    pos = 0  # next sequence-space offset expected
    shift = 0  # bytes missing so far: sequence offset minus joined-data offset
    for rel, _order, pktno, t, payload in ordered:
        if rel + len(payload) <= pos:
            continue
        if rel > pos:
            stream.gaps.append((pos - shift, rel - pos))
            shift += rel - pos
            pos = rel
        piece = payload[pos - rel :]
        stream.starts.append(pos - shift)
        stream.pktnos.append(pktno)
        stream.times.append(t)
        chunks.append(piece)
        pos += len(piece)
    stream.data = b"".join(chunks)
    return stream


def _fills_hole(holes: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) fills part of a missing range; updates ``holes``."""
    filled = False
    kept = []
    for a, b in holes:
        if end <= a or start >= b:
            kept.append((a, b))
            continue
        filled = True
        if a < start:
            kept.append((a, start))
        if end < b:
            kept.append((end, b))
    holes[:] = kept
    return filled
