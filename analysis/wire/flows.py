"""Link, IP and transport headers of raw records, decoded in one fast pass.

Produces UDP datagrams grouped by flow and TCP segments grouped by direction; nothing
above the transport layer is looked at here.
"""

from __future__ import annotations

import ipaddress
import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis.pcap.byte_columns import byte_rows, column
from analysis.pcap.duplicates import (
    DUPLICATE_WINDOW_S,
    CaptureDuplicates,
    RecentRecords,
    confirm_copies,
)
from analysis.pcap.records import Records
from analysis.wire.inet import (
    ETHER_HEADER_LEN,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPE_OFFSET,
    ETHERTYPE_VLAN,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPV4_FRAGMENT_BITS,
    IPV4_FRAGMENT_OFFSET_MASK,
    IPV4_MIN_HEADER_LEN,
    IPV4_PROTO_OFFSET,
    IPV6_FRAGMENT_OFFSET_MASK,
    IPV6_HEADER_LEN,
    UDP_HEADER_LEN,
    VLAN_TAG_LEN,
)

log = logging.getLogger(__name__)

# Link types (pcap-linktype(7)).
LINKTYPE_NULL = 0  # BSD loopback: 4-byte address family in the writer's byte order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW_OPENBSD = 12
LINKTYPE_RAW_BSD = 14
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108  # like NULL, but the family is in network byte order
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

SLL_HEADER_LEN = 16
SLL2_HEADER_LEN = 20
# BSD address families for IPv6 differ by OS (OpenBSD 24, FreeBSD 28, macOS 30).
AF_INET_BSD = 2
AF_INET6_BSD = (24, 28, 30)

# IPv6 extension headers that may precede the transport header (RFC 8200 §4).
IPV6_EXTENSIONS = (0, 43, 60)
IPV6_FRAGMENT = 44

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04

_IP4 = struct.Struct("!BxHxxHxBxx4s4s").unpack_from  # vihl, total, frag, proto, src, dst
_PORTS = struct.Struct("!HH").unpack_from
_TCP = struct.Struct("!HHIIH").unpack_from


@dataclass(frozen=True)
class Endpoint:
    """An IP address and port."""

    ip: str
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


FlowKey = tuple[bytes, int, bytes, int]  # source address, source port, destination, port


def flow_label(src: Endpoint, dst: Endpoint, channel: int | None = None) -> str:
    """``src -> dst``, with the interleaved channel when there is one, for evidence texts."""
    where = f"{src} -> {dst}"
    return where if channel is None else f"{where} channel {channel}"


def endpoints(key: FlowKey) -> tuple[Endpoint, Endpoint]:
    """The source and destination of a flow key, with printable addresses."""
    src, sport, dst, dport = key
    return (
        Endpoint(str(ipaddress.ip_address(src)), sport),
        Endpoint(str(ipaddress.ip_address(dst)), dport),
    )


class UDPFlow(Sequence):
    """The datagrams of one UDP flow, as arrays: payload i is
    ``buffer[starts[i]:ends[i]]``, sent as packet ``pktnos[i]`` at ``times[i]``;
    ``wire_lengths[i]`` is the payload's length on the wire, more than the bytes captured
    when the capture's snap length cut the packet.

    Indexing yields ``(packet number, time, payload)`` tuples, so small consumers need not
    know about the arrays; bulk consumers use the arrays directly.
    """

    __slots__ = ("buffer", "pktnos", "times", "starts", "ends", "wire_lengths")

    def __init__(self, buffer, pktnos, times, starts, ends, wire_lengths=None) -> None:
        self.buffer = buffer
        self.pktnos = np.asarray(pktnos, dtype=np.int64)
        self.times = np.asarray(times, dtype=np.float64)
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.asarray(ends, dtype=np.int64)
        captured = self.ends - self.starts
        self.wire_lengths = (
            captured
            if wire_lengths is None
            else np.maximum(np.asarray(wire_lengths, dtype=np.int64), captured)
        )

    @classmethod
    def from_datagrams(cls, datagrams: list[tuple]) -> UDPFlow:
        """A flow from (packet number, time, payload[, wire length]) tuples, payloads joined
        in one buffer."""
        lengths = [len(d[2]) for d in datagrams]
        ends = np.cumsum(lengths, dtype=np.int64) if lengths else np.zeros(0, np.int64)
        return cls(
            b"".join(d[2] for d in datagrams),
            [d[0] for d in datagrams],
            [d[1] for d in datagrams],
            ends - np.asarray(lengths, dtype=np.int64),
            ends,
            [d[3] if len(d) > 3 else len(d[2]) for d in datagrams],
        )

    def __len__(self) -> int:
        return len(self.pktnos)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        start, end = int(self.starts[index]), int(self.ends[index])
        return int(self.pktnos[index]), float(self.times[index]), self.buffer[start:end]


@dataclass
class Traffic:
    """Transport-level view of a capture.

    ``udp[key]`` is a :class:`UDPFlow` (a sequence of ``(packet number, time, payload)``);
    ``tcp[key]`` a list of
    ``(packet number, time, sequence number, flags, payload)``, both in capture order.
    """

    packets: int = 0
    udp: dict[FlowKey, UDPFlow] = field(default_factory=dict)
    tcp: dict[FlowKey, list[tuple[int, float, int, int, bytes]]] = field(default_factory=dict)
    other: int = 0  # neither UDP nor TCP over IP (ARP, ICMP, ...)
    malformed: list[int] = field(default_factory=list)  # packet numbers too short to decode
    fragments: int = 0  # IP fragments (not reassembled)
    unsupported_linktypes: set[int] = field(default_factory=set)
    cut: int = 0  # records cut by the snap length
    duplicates: CaptureDuplicates | None = None  # records the capture holds twice (left out)


# Ethernet + IPv4 without options + UDP: where the bytes of interest sit (RFC 791, 768).
FAST_IP = ETHER_HEADER_LEN
FAST_UDP = ETHER_HEADER_LEN + IPV4_MIN_HEADER_LEN
FAST_PAYLOAD = FAST_UDP + UDP_HEADER_LEN
IPV4_NO_OPTIONS = 0x45


def _fast_udp(records: Records, traffic: Traffic) -> np.ndarray:
    """Decode the common case (Ethernet, IPv4 without options, unfragmented UDP) for all
    records at once; returns a mask of the records it handled. Copies the capture itself
    made (the same datagram twice within microseconds) are left out and counted."""
    n = len(records)
    handled = np.zeros(n, dtype=bool)
    if not n:
        return handled
    offs = np.asarray(records.offsets, dtype=np.int64)
    lens = np.asarray(records.lengths, dtype=np.int64)
    candidates = np.nonzero(
        (np.asarray(records.linktypes) == LINKTYPE_ETHERNET) & (lens >= FAST_PAYLOAD)
    )[0]
    if not len(candidates):
        return handled
    o = offs[candidates]
    parts = [
        _plain_udp(records.buffer, o[first : first + HEADERS_AT_ONCE])
        for first in range(0, len(o), HEADERS_AT_ONCE)
    ]
    ok, addresses, ports, ipid, total = (np.concatenate(field) for field in zip(*parts))
    del parts, o
    index = candidates[ok]
    del candidates, ok
    if not len(index):
        return handled
    handled[index] = True
    order = np.lexsort((ports, addresses))  # one stable sort groups flows, capture order kept
    addresses, ports = addresses[order], ports[order]
    new_flow = (addresses[1:] != addresses[:-1]) | (ports[1:] != ports[:-1])
    times = np.asarray(records.times, dtype=np.float64)
    copies = _fast_copies(records, traffic, ipid, total, times, order, new_flow, index)
    begins = np.concatenate(([True], new_flow))  # the datagrams that begin their flow
    if copies is not None:  # a copy never begins its flow: every flow keeps a datagram
        kept = ~copies[order]
        order, addresses, ports, begins = order[kept], addresses[kept], ports[kept], begins[kept]
    firsts = np.nonzero(begins)[0]
    flows = list(
        zip(
            addresses[firsts].tolist(),
            ports[firsts].tolist(),
            firsts.tolist(),
            [*firsts[1:].tolist(), len(order)],
            strict=True,
        )
    )
    # Each column is made once, in flow order, and every flow takes a slice of it.
    rows = index[order]
    wire = total[order].astype(np.int64) - (IPV4_MIN_HEADER_LEN + UDP_HEADER_LEN)
    del index, order, addresses, ports, ipid, total, new_flow, begins
    starts = offs[rows] + FAST_PAYLOAD
    ends = starts + np.minimum(wire, lens[rows] - FAST_PAYLOAD)
    pktnos, times = rows + 1, times[rows]
    del rows
    for pair, port_pair, first, stop in flows:
        key = (
            (pair >> 32).to_bytes(4, "big"),
            port_pair >> 16,
            (pair & 0xFFFFFFFF).to_bytes(4, "big"),
            port_pair & 0xFFFF,
        )
        traffic.udp[key] = UDPFlow(
            records.buffer,
            pktnos[first:stop],
            times[first:stop],
            starts[first:stop],
            ends[first:stop],
            wire[first:stop],
        )
    return handled


HEADERS_AT_ONCE = 1 << 18  # records whose headers are copied out together: 11 MB of rows


def _plain_udp(buffer, at: np.ndarray) -> tuple[np.ndarray, ...]:
    """Which records at offsets ``at`` are Ethernet, IPv4 without options and unfragmented
    UDP; and for those, the addresses (source then destination), ports (likewise), IP
    identification and IP total length."""
    headers = byte_rows(buffer, at, FAST_PAYLOAD)  # Ethernet, IPv4 and UDP headers
    total = column(headers, FAST_IP + 2, 2)
    ok = (
        (column(headers, ETHERTYPE_OFFSET, 2) == ETHERTYPE_IPV4)
        & (headers[:, FAST_IP] == IPV4_NO_OPTIONS)
        & (headers[:, FAST_IP + IPV4_PROTO_OFFSET] == IPPROTO_UDP)
        & ((column(headers, FAST_IP + 6, 2) & IPV4_FRAGMENT_BITS) == 0)
        & (total >= IPV4_MIN_HEADER_LEN + UDP_HEADER_LEN)
    )
    kept = headers[ok]
    return (
        ok,
        column(kept, FAST_IP + 12, 8),
        column(kept, FAST_UDP, 4).astype(np.uint32),
        column(kept, FAST_IP + 4, 2).astype(np.uint16),
        total[ok].astype(np.uint16),
    )


def _fast_copies(
    records: Records,
    traffic: Traffic,
    ipid: np.ndarray,
    total: np.ndarray,
    times: np.ndarray,
    order: np.ndarray,
    new_flow: np.ndarray,
    index: np.ndarray,
) -> np.ndarray | None:
    """Which fast-path datagrams repeat the one before them in their flow: the same IP
    identification and length within DUPLICATE_WINDOW_S, and the same bytes. ``times``
    are the records' times; the others are the fast path's columns."""
    later, earlier = order[1:], order[:-1]
    alike = ~new_flow & (ipid[later] == ipid[earlier]) & (total[later] == total[earlier])
    later, earlier = index[later[alike]], index[earlier[alike]]  # as record numbers
    delay = times[later] - times[earlier]
    within = (delay >= 0) & (delay <= DUPLICATE_WINDOW_S)
    if not within.any():
        return None
    pairs = list(zip(later[within].tolist(), earlier[within].tolist(), strict=True))
    assert traffic.duplicates is not None  # set before any record is read
    copied = confirm_copies(records, pairs, traffic.duplicates)
    copies = np.zeros(len(index), dtype=bool)
    copies[np.isin(index, sorted(copied))] = True
    return copies


def decode(records: Records) -> Traffic:
    """Decode link, IP and UDP/TCP headers of every record."""
    traffic = Traffic(packets=len(records))
    if len(records):
        traffic.cut = records.cut
    traffic.duplicates = CaptureDuplicates()
    handled = _fast_udp(records, traffic)
    recent = RecentRecords(traffic.duplicates)
    udp: dict[FlowKey, list] = {}
    tcp = traffic.tcp
    buffer = records.buffer
    slow = np.nonzero(~handled)[0]
    for index, start, length, lt, t in zip(
        slow.tolist(),
        np.asarray(records.offsets)[slow].tolist(),
        np.asarray(records.lengths)[slow].tolist(),
        np.asarray(records.linktypes)[slow].tolist(),
        np.asarray(records.times)[slow].tolist(),
        strict=True,
    ):
        data = buffer[start : start + length]
        pktno = index + 1
        if recent.is_copy(index, t, data):
            continue
        try:
            if lt == LINKTYPE_ETHERNET:
                off = ETHER_HEADER_LEN
                etype = (data[12] << 8) | data[13]
                while etype in ETHERTYPE_VLAN:
                    etype = (data[off + 2] << 8) | data[off + 3]
                    off += VLAN_TAG_LEN
                version = 4 if etype == ETHERTYPE_IPV4 else 6 if etype == ETHERTYPE_IPV6 else 0
            elif lt == LINKTYPE_LINUX_SLL:
                off = SLL_HEADER_LEN
                etype = (data[14] << 8) | data[15]
                version = 4 if etype == ETHERTYPE_IPV4 else 6 if etype == ETHERTYPE_IPV6 else 0
            elif lt == LINKTYPE_LINUX_SLL2:
                off = SLL2_HEADER_LEN
                etype = (data[0] << 8) | data[1]
                version = 4 if etype == ETHERTYPE_IPV4 else 6 if etype == ETHERTYPE_IPV6 else 0
            elif lt in (LINKTYPE_RAW, LINKTYPE_RAW_OPENBSD, LINKTYPE_RAW_BSD):
                off = 0
                version = data[0] >> 4
            elif lt == LINKTYPE_IPV4:
                off, version = 0, 4
            elif lt == LINKTYPE_IPV6:
                off, version = 0, 6
            elif lt in (LINKTYPE_NULL, LINKTYPE_LOOP):
                off = 4
                family = struct.unpack_from(">I" if lt == LINKTYPE_LOOP else "<I", data)[0]
                if lt == LINKTYPE_NULL and family > 0xFFFF:
                    family = struct.unpack_from(">I", data)[0]  # written big-endian
                version = 4 if family == AF_INET_BSD else 6 if family in AF_INET6_BSD else 0
            else:
                traffic.unsupported_linktypes.add(lt)
                traffic.other += 1
                continue
            if version == 4:
                vihl, total, frag, proto, src, dst = _IP4(data, off)
                l4 = off + (vihl & 0x0F) * 4
                end = off + total
                if frag & IPV4_FRAGMENT_BITS:
                    traffic.fragments += 1
                    if frag & IPV4_FRAGMENT_OFFSET_MASK:
                        continue
            elif version == 6:
                proto = data[off + 6]
                end = off + IPV6_HEADER_LEN + ((data[off + 4] << 8) | data[off + 5])
                src = data[off + 8 : off + 24]
                dst = data[off + 24 : off + 40]
                l4 = off + IPV6_HEADER_LEN
                while proto in IPV6_EXTENSIONS or proto == IPV6_FRAGMENT:
                    if proto == IPV6_FRAGMENT:
                        traffic.fragments += 1
                        if struct.unpack_from("!H", data, l4 + 2)[0] & IPV6_FRAGMENT_OFFSET_MASK:
                            break
                        nxt, hlen = data[l4], 8
                    else:
                        nxt, hlen = data[l4], (data[l4 + 1] + 1) * 8
                    proto = nxt
                    l4 += hlen
                if proto == IPV6_FRAGMENT:
                    continue
            else:
                traffic.other += 1
                continue
            wire_end = end
            if end > len(data):
                end = len(data)  # snapped capture: keep what is there
            if proto == IPPROTO_UDP:
                sport, dport = _PORTS(data, l4)
                key = (src, sport, dst, dport)
                flow = udp.get(key)
                if flow is None:
                    flow = udp[key] = []
                payload_at = l4 + UDP_HEADER_LEN
                flow.append((pktno, t, data[payload_at:end], wire_end - payload_at))
            elif proto == IPPROTO_TCP:
                sport, dport, seq, _ack, offflags = _TCP(data, l4)
                key = (src, sport, dst, dport)
                segs = tcp.get(key)
                if segs is None:
                    segs = tcp[key] = []
                segs.append(
                    (
                        pktno,
                        t,
                        seq,
                        offflags & 0x1FF,
                        data[l4 + (offflags >> 12) * 4 : end],
                    )
                )
            else:
                traffic.other += 1
        except (IndexError, struct.error):
            traffic.malformed.append(pktno)
    for key, datagrams in udp.items():
        fast = traffic.udp.get(key)
        if fast is not None:  # a flow seen on both paths: merge in capture order
            wire = fast.wire_lengths.tolist()
            datagrams = sorted(
                [(*d, wire[i]) for i, d in enumerate(fast)] + datagrams, key=lambda d: d[0]
            )
        traffic.udp[key] = UDPFlow.from_datagrams(datagrams)
    traffic.duplicates.pairs.sort()
    return traffic
