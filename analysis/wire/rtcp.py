"""RTCP compound packets (RFC 3550 §6): the checker's reading of their headers and of
sender reports, with every length and version problem kept for the rules.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from analysis.streams.rtp import RTP_VERSION_SHIFT  # V sits where RTP has it (§6.4.1)
from analysis.wire.flows import Endpoint, flow_label

RTCP_VERSION = 2
RTCP_HEADER_LEN = 4
RTCP_WORD = 4  # §6.4.1: the length field counts 32-bit words, minus one
RTCP_SR = 200  # §6.4.1
RTCP_RR = 201  # §6.4.2
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204
RTCP_TYPES = range(RTCP_SR, RTCP_APP + 1)
SR_SENDER_INFO_LEN = 24  # SSRC + NTP (8) + RTP timestamp + packet count + octet count
NTP_FRACTION = 2.0**32
# §4: NTP timestamps count seconds from 1900, Unix time from 1970 (RFC 868's offset).
NTP_UNIX_OFFSET = 2_208_988_800
SDES_CNAME = 1  # §6.5.1


@dataclass(frozen=True)
class SenderReport:
    """The sender info of one SR (§6.4.1)."""

    pktno: int
    time: float
    ssrc: int
    ntp: float  # seconds since 1900, as a float
    rtp_timestamp: int
    packet_count: int
    octet_count: int


@dataclass
class RTCPFlow:
    """The RTCP compound packets of one UDP flow or interleaved channel."""

    src: Endpoint
    dst: Endpoint
    channel: int | None = None
    compounds: list[tuple[int, float, list[int]]] = field(default_factory=list)  # pktno, t, PTs
    sender_reports: list[SenderReport] = field(default_factory=list)
    bad_version: list[int] = field(default_factory=list)
    bad_first: list[tuple[int, int]] = field(default_factory=list)  # (pktno, first PT)
    length_problems: list[tuple[int, str]] = field(default_factory=list)
    session_id: str | None = None

    @property
    def label(self) -> str:
        """Where the flow runs, for evidence texts."""
        return flow_label(self.src, self.dst, self.channel)


def looks_like_rtcp(payload: bytes) -> bool:
    """Version 2 and a payload type of SR, RR, SDES, BYE or APP in the first header."""
    return (
        len(payload) >= RTCP_HEADER_LEN + RTCP_WORD  # header and sender SSRC
        and payload[0] >> RTP_VERSION_SHIFT == RTCP_VERSION
        and payload[1] in RTCP_TYPES
    )


def read_flow(flow: RTCPFlow, datagrams: Sequence[tuple[int, float, bytes]]) -> None:
    """Read every compound packet of a flow into ``flow``."""
    for pktno, t, data in datagrams:
        read_compound(flow, pktno, t, data)


def read_compound(flow: RTCPFlow, pktno: int, t: float, data: bytes) -> None:
    """Read one compound packet, noting each deviation (§6.1)."""
    pos = 0
    n = len(data)
    types: list[int] = []
    while pos < n:
        if pos + RTCP_HEADER_LEN > n:
            flow.length_problems.append((pktno, f"{n - pos} stray bytes after the last packet"))
            break
        first, ptype, words = struct.unpack_from("!BBH", data, pos)
        size = (words + 1) * RTCP_WORD
        if first >> RTP_VERSION_SHIFT != RTCP_VERSION and pktno not in flow.bad_version:
            flow.bad_version.append(pktno)
        if pos + size > n:
            flow.length_problems.append(
                (pktno, f"length field says {size} bytes, {n - pos} remain in the datagram")
            )
            break
        types.append(ptype)
        if ptype == RTCP_SR and size >= RTCP_HEADER_LEN + SR_SENDER_INFO_LEN:
            ssrc, msw, lsw, rtp_ts, count, octets = struct.unpack_from("!IIIIII", data, pos + 4)
            flow.sender_reports.append(
                SenderReport(pktno, t, ssrc, msw + lsw / NTP_FRACTION, rtp_ts, count, octets)
            )
        pos += size
    if types and types[0] not in (RTCP_SR, RTCP_RR):
        flow.bad_first.append((pktno, types[0]))
    flow.compounds.append((pktno, t, types))
