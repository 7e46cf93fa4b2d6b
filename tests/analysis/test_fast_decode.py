"""The decoder's vectorized path (Ethernet, IPv4, UDP for all records at once, headers
copied out in blocks) against its packet-by-packet path: the same flows, datagrams,
wire lengths and copies, whatever the block size."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.pcap.reader import read_records
from analysis.wire import flows
from analysis.wire.flows import decode

ETH = bytes(12) + b"\x08\x00"
PORTS = [(4000, 5004), (4002, 5006), (5004, 4000)]


def ethernet_udp(ipid: int, ports: tuple[int, int], payload: bytes, options: bool) -> bytes:
    udp = struct.pack("!HHHH", *ports, 8 + len(payload), 0) + payload
    ihl_extra = b"\x01\x01\x01\x00" if options else b""  # NOP NOP NOP EOL: a slow-path header
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45 + len(ihl_extra) // 4,
        0,
        20 + len(ihl_extra) + len(udp),
        ipid,
        0,
        64,
        17,
        0,
        bytes([10, 0, 0, 1]),
        bytes([10, 0, 0, 2]),
    )
    return ETH + ip + ihl_extra + udp


def capture(datagrams: list[tuple[int, int, bool, bool, int]]) -> bytes:
    """A classic pcap of datagrams (flow, payload length, copied, IP options, padding);
    a copy repeats its datagram's bytes 10 µs later, as a loopback capture does."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    usec = 0
    for n, (flow, length, copied, options, padding) in enumerate(datagrams):
        payload = n.to_bytes(4, "big") + bytes(length)  # distinct bytes, but for copies
        frame = ethernet_udp(n & 0xFFFF, PORTS[flow], payload, options) + bytes(padding)
        for _ in range(2 if copied else 1):
            out += struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame))
            out += frame
            usec += 10
        usec += 5_000  # beyond the duplicate window: the next datagram is no copy
    return out


def flows_as_lists(traffic) -> dict:
    return {
        key: (list(flow), flow.wire_lengths.tolist()) for key, flow in sorted(traffic.udp.items())
    }


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(PORTS) - 1),
            st.integers(0, 40),
            st.booleans(),
            st.booleans(),
            st.sampled_from([0, 0, 6]),  # Ethernet padding beyond the IP datagram
        ),
        max_size=30,
    ),
    st.integers(1, 8),
)
def test_vectorized_path_reads_what_the_packet_path_reads(datagrams, block):
    records = read_records(capture(datagrams))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flows, "HEADERS_AT_ONCE", block)
        fast = decode(records)
        patch.setattr(flows, "_fast_udp", lambda r, t: np.zeros(len(r), dtype=bool))
        slow = decode(records)
    assert flows_as_lists(fast) == flows_as_lists(slow)
    assert fast.duplicates is not None and slow.duplicates is not None
    assert fast.duplicates.pairs == slow.duplicates.pairs
    assert fast.duplicates.count == sum(copied for _, _, copied, _, _ in datagrams)
    assert sum(len(flow) for flow in fast.udp.values()) == len(datagrams)
