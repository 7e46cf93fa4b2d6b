"""Which captured frames belong to an RTSP session: a sans-I/O filter over raw Ethernet bytes.

It keeps the TCP connections on the RTSP port and the UDP flows their SETUP exchanges
negotiate (the Transport headers of requests and replies, RFC 2326 §12.39), and nothing else.
Headers are read with ``struct`` at fixed offsets, not with Scapy, so a capture thread keeps up
with many video streams.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field

from analysis.wire.inet import (
    ETHER_HEADER_LEN,
    ETHERTYPE_8021Q,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPE_OFFSET,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPV4_FRAGMENT_BITS,
    IPV4_FRAGMENT_OFFSET_MASK,
    IPV4_MIN_HEADER_LEN,
    IPV4_PROTO_OFFSET,
    IPV6_HEADER_LEN,
    UDP_HEADER_LEN,
    VLAN_TAG_LEN,
)
from analysis.wire.rtsp_headers import port_pairs, transport_header_values

log = logging.getLogger(__name__)

# Fragmented datagrams whose later fragments are still awaited (oldest forgotten first).
MAX_TRACKED_FRAGMENTS = 1024
# The Transport parameters that name UDP ports (interleaved channels stay on the TCP connection).
UDP_PORT_PARAMETERS = ("client_port", "server_port")
# Bytes of an unfinished header line kept per TCP direction while waiting for its end.
MAX_PENDING_LINE = 8192


@dataclass(frozen=True)
class FrameInfo:
    """The addresses and ports of one IPv4/IPv6 TCP or UDP frame, and where its payload starts."""

    proto: int
    src: bytes
    dst: bytes
    sport: int
    dport: int
    payload_offset: int
    # (src, dst, IP id) for IPv4 fragments: the first one carries the ports, later ones
    # (``is_later_fragment``) only this key.
    fragment_key: tuple[bytes, bytes, int] | None = None
    is_later_fragment: bool = False


def parse_frame(frame: bytes | memoryview) -> FrameInfo | None:
    """Read an Ethernet frame's IP and TCP/UDP headers; None for anything else."""
    if len(frame) < ETHER_HEADER_LEN:
        return None
    (ethertype,) = struct.unpack_from("!H", frame, ETHERTYPE_OFFSET)
    offset = ETHER_HEADER_LEN
    if ethertype == ETHERTYPE_8021Q and len(frame) >= offset + VLAN_TAG_LEN:
        (ethertype,) = struct.unpack_from("!H", frame, offset + 2)
        offset += VLAN_TAG_LEN
    fragment_key = None
    if ethertype == ETHERTYPE_IPV4:
        if len(frame) < offset + IPV4_MIN_HEADER_LEN:
            return None
        ihl = (frame[offset] & 0x0F) * 4
        ip_id, frag = struct.unpack_from("!HH", frame, offset + 4)
        proto = frame[offset + IPV4_PROTO_OFFSET]
        src = bytes(frame[offset + 12 : offset + 16])
        dst = bytes(frame[offset + 16 : offset + 20])
        if frag & IPV4_FRAGMENT_BITS:
            fragment_key = (src, dst, ip_id)
            if frag & IPV4_FRAGMENT_OFFSET_MASK:
                # A later fragment has no transport header: only its key says whose it is.
                return FrameInfo(proto, src, dst, 0, 0, offset + ihl, fragment_key, True)
        offset += ihl
    elif ethertype == ETHERTYPE_IPV6:
        if len(frame) < offset + IPV6_HEADER_LEN:
            return None
        proto = frame[offset + 6]
        src = bytes(frame[offset + 8 : offset + 24])
        dst = bytes(frame[offset + 24 : offset + 40])
        offset += IPV6_HEADER_LEN
    else:
        return None
    if proto == IPPROTO_UDP:
        if len(frame) < offset + UDP_HEADER_LEN:
            return None
        sport, dport = struct.unpack_from("!HH", frame, offset)
        return FrameInfo(proto, src, dst, sport, dport, offset + UDP_HEADER_LEN, fragment_key)
    if proto == IPPROTO_TCP:
        if len(frame) < offset + 20:
            return None
        sport, dport = struct.unpack_from("!HH", frame, offset)
        data_offset = (frame[offset + 12] >> 4) * 4
        return FrameInfo(proto, src, dst, sport, dport, offset + data_offset)
    return None


def transport_ports(header_value: bytes | str) -> dict[str, tuple[int, ...]]:
    """client_port/server_port of a Transport value; a single port n means n and n+1."""
    if isinstance(header_value, bytes):
        header_value = header_value.decode("latin-1")
    pairs = port_pairs(header_value)
    return {name: pairs[name] for name in UDP_PORT_PARAMETERS if name in pairs}


@dataclass
class _Direction:
    pending: bytes = b""


@dataclass
class SessionFlowFilter:
    """Accepts the frames of RTSP sessions on ``rtsp_port``: their TCP connection, and the UDP
    RTP/RTCP flows negotiated by the Transport headers seen so far on it."""

    rtsp_port: int
    endpoints: set[tuple[bytes, int]] = field(default_factory=set)
    # UDP ports kept on any address: RTP whose RTSP exchange is not on the wire.
    extra_udp_ports: frozenset[int] = frozenset()
    _streams: dict[tuple, _Direction] = field(default_factory=dict)
    _fragments: dict[tuple, None] = field(default_factory=dict)

    def accept(self, frame: bytes | memoryview) -> bool:
        """True when the frame belongs to a watched RTSP session; learns from RTSP text."""
        info = parse_frame(frame)
        if info is None:
            return False
        if info.is_later_fragment:
            return info.fragment_key in self._fragments
        if info.proto == IPPROTO_TCP:
            if self.rtsp_port not in (info.sport, info.dport):
                return False
            if len(frame) > info.payload_offset:
                self._learn(info, bytes(frame[info.payload_offset :]))
            return True
        keep = (
            (info.dst, info.dport) in self.endpoints
            or (info.src, info.sport) in self.endpoints
            or (
                info.proto == IPPROTO_UDP
                and (info.dport in self.extra_udp_ports or info.sport in self.extra_udp_ports)
            )
        )
        if keep and info.fragment_key is not None:
            self._fragments[info.fragment_key] = None
            if len(self._fragments) > MAX_TRACKED_FRAGMENTS:
                del self._fragments[next(iter(self._fragments))]
        return keep

    def _learn(self, info: FrameInfo, data: bytes) -> None:
        """Scan the complete lines of this TCP direction for Transport headers."""
        key = (info.src, info.sport, info.dst, info.dport)
        direction = self._streams.setdefault(key, _Direction())
        text = direction.pending + data
        end = text.rfind(b"\n")
        if end < 0:
            direction.pending = text[-MAX_PENDING_LINE:]
            return
        complete, direction.pending = text[: end + 1], text[end + 1 :][-MAX_PENDING_LINE:]
        values = transport_header_values(complete)
        if not values:
            return
        from_server = info.sport == self.rtsp_port
        client_ip = info.dst if from_server else info.src
        server_ip = info.src if from_server else info.dst
        for value in values:
            ports = transport_ports(value)
            for port in ports.get("client_port", ()):
                self.endpoints.add((client_ip, port))
            for port in ports.get("server_port", ()):
                self.endpoints.add((server_ip, port))
            if ports:
                log.info("negotiated UDP ports learned: %s", ports)
