"""RTCP for a sending session (RFC 3550 §6): SR + SDES CNAME, BYE, reading receiver reports."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rtsp_common.rtcp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    RTCPPacket,
    SenderReport,
    SourceDescription,
    build_compound,
    ntp_from_unix,
)
from rtsp_server.stream import RTP_CLOCK_RATE, RTPStream

log = logging.getLogger(__name__)

FRACTION_SCALE = 256  # RFC 3550 §6.4.1: fraction lost is a fixed-point number /256
COUNTER_MOD = 1 << 32  # RFC 3550 §6.4.1: the SR packet and octet counts are 32 bits and wrap


def sender_report(stream: RTPStream, cname: str, wallclock: float, rtp_timestamp: int) -> bytes:
    """Compound SR + SDES CNAME mapping ``wallclock`` (Unix time) to ``rtp_timestamp``."""
    sr = SenderReport(
        ssrc=stream.ssrc,
        ntp_timestamp=ntp_from_unix(wallclock),
        rtp_timestamp=rtp_timestamp,
        packet_count=stream.packet_count % COUNTER_MOD,
        octet_count=stream.octet_count % COUNTER_MOD,
    )
    return build_compound([sr, SourceDescription.cname(stream.ssrc, cname)])


def goodbye(
    stream: RTPStream, cname: str, wallclock: float, rtp_timestamp: int, reason: str
) -> bytes:
    """Compound SR + SDES + BYE: RFC 3550 §6.1 wants every compound to start with a report."""
    # A compound packet is its packets back to back, so the BYE simply follows the report.
    report = sender_report(stream, cname, wallclock, rtp_timestamp)
    return report + Bye((stream.ssrc,), reason).to_bytes()


@dataclass(frozen=True)
class ReceptionReport:
    """What one client said about one of our streams."""

    reporter_ssrc: int
    block: ReportBlock

    @property
    def fraction_lost(self) -> float:
        """The fraction of packets lost since the reporter's last report, 0.0 to 1.0."""
        return self.block.fraction_lost / FRACTION_SCALE

    @property
    def jitter_ms(self) -> float:
        """Interarrival jitter in milliseconds (the block counts RTP timestamp units)."""
        return self.block.jitter * 1000 / RTP_CLOCK_RATE


def reception_reports(packets: list[RTCPPacket]) -> list[ReceptionReport]:
    """Report blocks of the RR/SR packets of a parsed compound (``parse_compound``)."""
    found: list[ReceptionReport] = []
    for packet in packets:
        if isinstance(packet, ReceiverReport | SenderReport):
            found.extend(ReceptionReport(packet.ssrc, block) for block in packet.reports)
    return found


def is_rtcp_report(packets: list[RTCPPacket]) -> bool:
    """True when the compound holds a receiver or sender report (activity, even without blocks)."""
    return any(isinstance(p, ReceiverReport | SenderReport) for p in packets)
