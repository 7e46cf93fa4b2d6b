"""A stream's packets in sequence order as columns: payload ``i`` is
``source[start[i]:end[i]]``, left where the capture holds it.

Readers that keep what they find as spans of ``source`` (H.264/H.265 NAL units) hold a few
integers a packet, not a copy of every payload.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RTP_MARKER_SHIFT = 7  # RFC 3550 §5.1: M is the top bit of the second octet

# One packet in sequence order: extended seq, packet number, arrival, timestamp, marker, payload.
SeqPacket = tuple[int, int, float, int, bool, bytes]


def sequence_rows(order: np.ndarray, count: int) -> np.ndarray | slice:
    """Rows of a stream's ``count`` columns in sequence order: ``order``, or all of them
    as they are (a slice, which copies nothing) when they arrived in sequence."""
    if len(order) == count and (order == np.arange(count)).all():
        return slice(None)
    return order


@dataclass(frozen=True, eq=False)
class SeqColumns:
    """Packets in sequence order (first copies only): ``ext`` extended sequence number,
    ``pktno``, ``time`` of arrival, RTP ``ts``, ``marker`` (bool), and where each payload
    lies in ``source``."""

    source: bytes | memoryview
    ext: np.ndarray
    pktno: np.ndarray
    time: np.ndarray
    ts: np.ndarray
    marker: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.ext)

    @classmethod
    def of_stream(cls, stream, order: np.ndarray, ext: np.ndarray) -> SeqColumns:
        """Columns of an RTP stream's (``analysis.streams.rtp.CapturedStream``) packets
        in sequence ``order``, with their extended sequence numbers ``ext``."""
        rows = sequence_rows(order, len(stream.pstart))
        marker = (stream.b1[rows] >> RTP_MARKER_SHIFT).astype(bool)
        return cls(
            stream.buffer, ext, stream.pktno[rows], stream.time[rows], stream.ts[rows], marker,
            stream.pstart[rows], stream.pend[rows],
        )  # fmt: skip

    def packets(self) -> list[SeqPacket]:
        """The packets as tuples (each payload a copy), for the packet-by-packet readers."""
        source = self.source
        return [
            (e, pk, t, ts, m, bytes(source[a:b]))
            for e, pk, t, ts, m, a, b in zip(
                self.ext.tolist(), self.pktno.tolist(), self.time.tolist(), self.ts.tolist(),
                self.marker.tolist(), self.start.tolist(), self.end.tolist(),
            )
        ]  # fmt: skip

    @classmethod
    def of_packets(cls, packets: list[SeqPacket]) -> SeqColumns:
        """Columns of packet tuples (the inverse of :meth:`packets`), their payloads laid
        end to end in one new buffer."""
        sizes = np.fromiter((len(p[5]) for p in packets), dtype=np.int64, count=len(packets))
        end = np.cumsum(sizes)

        def field(index: int, dtype) -> np.ndarray:
            return np.fromiter((p[index] for p in packets), dtype=dtype, count=len(packets))

        return cls(
            b"".join(p[5] for p in packets),
            field(0, np.int64),
            field(1, np.int64),
            field(2, np.float64),
            field(3, np.int64),
            field(4, bool),
            end - sizes,
            end,
        )
