"""Link, IP and UDP/TCP header numbers, and the Internet checksum: named once for the
capture readers (netdecode, capture_filter, capture_bpf) and writers (capture_gso, synth)."""

from __future__ import annotations

import struct

# IEEE 802.3 Ethernet II: destination, source, ethertype.
ETHER_HEADER_LEN = 14
ETHERTYPE_OFFSET = 12
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_8021Q = 0x8100  # IEEE 802.1Q VLAN tag
ETHERTYPE_8021AD = 0x88A8  # IEEE 802.1ad outer (service) tag
ETHERTYPE_VLAN = (ETHERTYPE_8021Q, ETHERTYPE_8021AD)
VLAN_TAG_LEN = 4

# IANA protocol numbers.
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPV4_MIN_HEADER_LEN = 20  # RFC 791 §3.1, without options
IPV4_PROTO_OFFSET = 9
# RFC 791 §3.1: the flags/fragment-offset word; MF set or an offset means a fragment.
IPV4_MORE_FRAGMENTS = 0x2000
IPV4_FRAGMENT_OFFSET_MASK = 0x1FFF
IPV4_FRAGMENT_BITS = IPV4_MORE_FRAGMENTS | IPV4_FRAGMENT_OFFSET_MASK
IPV6_FRAGMENT_OFFSET_MASK = 0xFFF8  # RFC 8200 §4.5: 13-bit offset above Res and M
IPV6_HEADER_LEN = 40  # RFC 8200 §3
UDP_HEADER_LEN = 8  # RFC 768


def internet_checksum(data: bytes) -> int:
    """RFC 1071 ones'-complement sum of 16-bit words (an odd length is padded with zero)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
