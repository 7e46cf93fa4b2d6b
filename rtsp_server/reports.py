"""RTCP for a sending session (RFC 3550 §6): SR + SDES CNAME, BYE, reading receiver reports."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rtsp_common.rtcp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    SenderReport,
    SourceDescription,
    build_compound,
    ntp_from_unix,
    parse_compound,
)
from rtsp_server.stream import RTPStream

log = logging.getLogger(__name__)

REPORT_INTERVAL = 5.0  # s: RFC 3550 §6.2 recommends a 5 s minimum between reports
JITTER_CLOCK = 90_000  # RFC 2435 §3: jitter is in RTP timestamp units of the 90 kHz clock
FRACTION_SCALE = 256  # RFC 3550 §6.4.1: fraction lost is a fixed-point number /256


def sender_report(stream: RTPStream, cname: str, wallclock: float, rtp_timestamp: int) -> bytes:
    """Compound SR + SDES CNAME mapping ``wallclock`` (Unix time) to ``rtp_timestamp``."""
    sr = SenderReport(
        ssrc=stream.ssrc,
        ntp_timestamp=ntp_from_unix(wallclock),
        rtp_timestamp=rtp_timestamp,
        packet_count=stream.packet_count & 0xFFFFFFFF,
        octet_count=stream.octet_count & 0xFFFFFFFF,
    )
    return build_compound([sr, SourceDescription.cname(stream.ssrc, cname)])


def goodbye(
    stream: RTPStream, cname: str, wallclock: float, rtp_timestamp: int, reason: str
) -> bytes:
    """Compound SR + SDES + BYE: RFC 3550 §6.1 wants every compound to start with a report."""
    sr = SenderReport(
        ssrc=stream.ssrc,
        ntp_timestamp=ntp_from_unix(wallclock),
        rtp_timestamp=rtp_timestamp,
        packet_count=stream.packet_count & 0xFFFFFFFF,
        octet_count=stream.octet_count & 0xFFFFFFFF,
    )
    return build_compound(
        [sr, SourceDescription.cname(stream.ssrc, cname), Bye((stream.ssrc,), reason)]
    )


@dataclass(frozen=True)
class ReceptionReport:
    """What one client said about one of our streams."""

    reporter_ssrc: int
    block: ReportBlock

    @property
    def fraction_lost(self) -> float:
        return self.block.fraction_lost / FRACTION_SCALE

    @property
    def jitter_ms(self) -> float:
        return self.block.jitter * 1000 / JITTER_CLOCK


def reception_reports(data: bytes) -> list[ReceptionReport]:
    """Report blocks of the RR/SR packets in an RTCP compound; ParseError on malformed input."""
    found = []
    for packet in parse_compound(data):
        if isinstance(packet, ReceiverReport | SenderReport):
            found.extend(ReceptionReport(packet.ssrc, block) for block in packet.reports)
    return found


def is_rtcp_report(data: bytes) -> bool:
    """True when the compound holds a receiver or sender report (activity, even without blocks)."""
    return any(isinstance(p, ReceiverReport | SenderReport) for p in parse_compound(data))
