"""Splitting UDP GSO super-datagrams into the datagrams a receiver gets.

A sender using UDP generic segmentation offload (``UDP_SEGMENT``) hands the kernel one
large datagram that is cut into ``gso_size`` pieces on the way out. On loopback the cut
happens only at the receiving socket, so a packet socket sees the uncut super-datagram:
several RTP packets glued under one UDP header, which Wireshark cannot read. With
``PACKET_VNET_HDR`` the kernel prefixes each frame with a ``virtio_net_hdr`` that carries
the segment size; this module parses it and rebuilds each segment with its own IP and UDP
header and checksums, so the pcap holds what the receiver got.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from analysis.wire.inet import (
    ETHER_HEADER_LEN,
    ETHERTYPE_8021Q,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPE_OFFSET,
    IPPROTO_UDP,
    IPV4_MIN_HEADER_LEN,
    IPV4_PROTO_OFFSET,
    IPV6_HEADER_LEN,
    UDP_HEADER_LEN,
    VLAN_TAG_LEN,
    internet_checksum,
)

# linux/virtio_net.h: struct virtio_net_hdr (10 bytes) and its gso_type values.
VNET_HDR = struct.Struct("=BBHHHH")
VNET_HDR_SIZE = VNET_HDR.size
GSO_NONE = 0
GSO_UDP_L4 = 5


@dataclass(frozen=True)
class VnetHeader:
    """The fields of ``virtio_net_hdr`` the capture uses."""

    gso_type: int
    gso_size: int

    @classmethod
    def parse(cls, data: bytes | memoryview) -> VnetHeader:
        """Read the header at the start of ``data``."""
        _flags, gso_type, _hdr_len, gso_size, _csum_start, _csum_offset = VNET_HDR.unpack_from(data)
        return cls(gso_type, gso_size)


def split_udp_gso(frame: bytes, gso_size: int) -> list[bytes]:
    """Cut an Ethernet/IP/UDP super-datagram into ``gso_size``-byte datagrams.

    Returns ``[frame]`` unchanged when it is not IPv4/IPv6 UDP or needs no cut.
    """
    if gso_size <= 0 or len(frame) < ETHER_HEADER_LEN:
        return [frame]
    l3 = ETHER_HEADER_LEN
    (ethertype,) = struct.unpack_from("!H", frame, ETHERTYPE_OFFSET)
    if ethertype == ETHERTYPE_8021Q and len(frame) >= l3 + VLAN_TAG_LEN:
        (ethertype,) = struct.unpack_from("!H", frame, l3 + 2)
        l3 += VLAN_TAG_LEN
    if ethertype == ETHERTYPE_IPV4 and len(frame) >= l3 + IPV4_MIN_HEADER_LEN:
        ihl = (frame[l3] & 0x0F) * 4
        if frame[l3 + IPV4_PROTO_OFFSET] != IPPROTO_UDP:
            return [frame]
        l4 = l3 + ihl
        src, dst = frame[l3 + 12 : l3 + 16], frame[l3 + 16 : l3 + 20]
    elif ethertype == ETHERTYPE_IPV6 and len(frame) >= l3 + IPV6_HEADER_LEN:
        if frame[l3 + 6] != IPPROTO_UDP:
            return [frame]
        l4 = l3 + IPV6_HEADER_LEN
        src, dst = frame[l3 + 8 : l3 + 24], frame[l3 + 24 : l3 + 40]
    else:
        return [frame]
    payload_start = l4 + UDP_HEADER_LEN
    payload = frame[payload_start:]
    if len(frame) < payload_start or len(payload) <= gso_size:
        return [frame]
    sport, dport = struct.unpack_from("!HH", frame, l4)
    segments = []
    for index, start in enumerate(range(0, len(payload), gso_size)):
        chunk = payload[start : start + gso_size]
        udp_length = UDP_HEADER_LEN + len(chunk)
        if ethertype == ETHERTYPE_IPV4:
            ip = bytearray(frame[l3:l4])
            ip_id = (struct.unpack_from("!H", ip, 4)[0] + index) & 0xFFFF
            struct.pack_into("!HH", ip, 2, len(ip) + udp_length, ip_id)
            struct.pack_into("!H", ip, 10, 0)
            struct.pack_into("!H", ip, 10, internet_checksum(bytes(ip)))
            pseudo = src + dst + struct.pack("!BBH", 0, IPPROTO_UDP, udp_length)
        else:
            ip = bytearray(frame[l3:l4])
            struct.pack_into("!H", ip, 4, udp_length)
            pseudo = src + dst + struct.pack("!IxxxB", udp_length, IPPROTO_UDP)
        header = struct.pack("!HHHH", sport, dport, udp_length, 0)
        checksum = internet_checksum(pseudo + header + chunk) or 0xFFFF  # RFC 768: 0 means "none"
        header = struct.pack("!HHHH", sport, dport, udp_length, checksum)
        segments.append(bytes(frame[:l3]) + bytes(ip) + header + chunk)
    return segments
