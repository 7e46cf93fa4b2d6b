"""Link, IP and transport headers of raw records, decoded in one fast pass.

Produces UDP datagrams grouped by flow and TCP segments grouped by direction; nothing
above the transport layer is looked at here.
"""

from __future__ import annotations

import ipaddress
import logging
import struct
from dataclasses import dataclass, field

from analysis.pcapfile import Records

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

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = (0x8100, 0x88A8)
ETHER_HEADER_LEN = 14
SLL_HEADER_LEN = 16
SLL2_HEADER_LEN = 20
VLAN_TAG_LEN = 4
# BSD address families for IPv6 differ by OS (OpenBSD 24, FreeBSD 28, macOS 30).
AF_INET_BSD = 2
AF_INET6_BSD = (24, 28, 30)

IPPROTO_TCP = 6
IPPROTO_UDP = 17
# IPv6 extension headers that may precede the transport header (RFC 8200 §4).
IPV6_EXTENSIONS = (0, 43, 60)
IPV6_FRAGMENT = 44
IPV6_HEADER_LEN = 40
UDP_HEADER_LEN = 8

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


def endpoints(key: FlowKey) -> tuple[Endpoint, Endpoint]:
    """The source and destination of a flow key, with printable addresses."""
    src, sport, dst, dport = key
    return (
        Endpoint(str(ipaddress.ip_address(src)), sport),
        Endpoint(str(ipaddress.ip_address(dst)), dport),
    )


@dataclass
class Traffic:
    """Transport-level view of a capture.

    ``udp[key]`` is a list of ``(packet number, time, payload)``; ``tcp[key]`` a list of
    ``(packet number, time, sequence number, flags, payload)``, both in capture order.
    """

    packets: int = 0
    udp: dict[FlowKey, list[tuple[int, float, bytes]]] = field(default_factory=dict)
    tcp: dict[FlowKey, list[tuple[int, float, int, int, bytes]]] = field(default_factory=dict)
    other: int = 0  # neither UDP nor TCP over IP (ARP, ICMP, ...)
    malformed: list[int] = field(default_factory=list)  # packet numbers too short to decode
    fragments: int = 0  # IP fragments (not reassembled)
    unsupported_linktypes: set[int] = field(default_factory=set)


def decode(records: Records) -> Traffic:
    """Decode link, IP and UDP/TCP headers of every record."""
    traffic = Traffic(packets=len(records))
    udp, tcp = traffic.udp, traffic.tcp
    times, frames, linktypes = records.times, records.frames, records.linktypes
    for index in range(len(frames)):
        data = frames[index]
        pktno = index + 1
        try:
            lt = linktypes[index]
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
                if frag & 0x3FFF:  # more-fragments flag or a fragment offset
                    traffic.fragments += 1
                    if frag & 0x1FFF:
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
                        if struct.unpack_from("!H", data, l4 + 2)[0] & 0xFFF8:
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
            if end > len(data):
                end = len(data)  # snapped capture: keep what is there
            if proto == IPPROTO_UDP:
                sport, dport = _PORTS(data, l4)
                key = (src, sport, dst, dport)
                flow = udp.get(key)
                if flow is None:
                    flow = udp[key] = []
                flow.append((pktno, times[index], data[l4 + UDP_HEADER_LEN : end]))
            elif proto == IPPROTO_TCP:
                sport, dport, seq, _ack, offflags = _TCP(data, l4)
                key = (src, sport, dst, dport)
                segs = tcp.get(key)
                if segs is None:
                    segs = tcp[key] = []
                segs.append(
                    (
                        pktno,
                        times[index],
                        seq,
                        offflags & 0x1FF,
                        data[l4 + (offflags >> 12) * 4 : end],
                    )
                )
            else:
                traffic.other += 1
        except (IndexError, struct.error):
            traffic.malformed.append(pktno)
    return traffic
