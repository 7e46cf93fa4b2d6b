"""Malformed RTP/RFC 2435 and RTCP datagrams, by name, for robustness tests: each starts
from a valid packet (``valid_rtp_jpeg``, ``valid_rtcp_sr``) and breaks one thing a receiver
must survive. ``send_udp`` sends them to a receiver's port.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable

from scapy.contrib.rtcp import SenderInfo
from scapy.packet import Packet

from analysis.craft.jpeg import fragment_scan, make_test_jpeg, read_scan_image
from analysis.craft.session_builder import sdes_cname
from analysis.layers import JPEG, PT_JPEG, RTCP, RTP, JPEGQuantizationTable
from analysis.wire.rtcp import RTCP_RR, RTCP_SR

log = logging.getLogger(__name__)


# --- malformed RTP / RFC 2435 datagrams -----------------------------------------------------


def valid_rtp_jpeg(
    *,
    sequence: int = 1,
    timestamp: int = 90_000,
    ssrc: int = 0x11223344,
    width: int = 64,
    height: int = 48,
) -> bytes:
    """A single-packet RFC 2435 frame of a real JPEG (marker set): the baseline to mutate."""
    image = read_scan_image(make_test_jpeg(width, height))
    (payload,) = fragment_scan(image, max_payload=65000)
    return bytes(
        RTP(payload_type=PT_JPEG, sequence=sequence, timestamp=timestamp, sourcesync=ssrc, marker=1)
        / payload
    )


def _with_header_byte(data: bytes, index: int, value: int) -> bytes:
    return data[:index] + bytes([value]) + data[index + 1 :]


def _wrong_version() -> bytes:
    return bytes(RTP(version=1, payload_type=PT_JPEG) / JPEG() / (b"\x00" * 16))


def _bad_csrc_count() -> bytes:
    # CC says 15 CSRCs (60 bytes) but only the 12-byte fixed header and 8 bytes follow.
    return _with_header_byte(valid_rtp_jpeg()[:20], 0, 0x8F)


def _padding_beyond_payload() -> bytes:
    # P set and a padding count of 255 after a 12-byte payload.
    data = valid_rtp_jpeg()[: 12 + 12]
    return _with_header_byte(data, 0, data[0] | 0x20)[:-1] + b"\xff"


def _truncated_jpeg_header() -> bytes:
    return valid_rtp_jpeg()[: 12 + 5]


def _offset_past_end() -> bytes:
    data = valid_rtp_jpeg()
    return data[:13] + b"\xff\xff\xf0" + data[16:]


def _zero_width() -> bytes:
    return bytes(
        RTP(payload_type=PT_JPEG, marker=1) / JPEG(width=0, height=0, q=50) / (b"\x00" * 32)
    )


def _qtable_length_beyond_packet() -> bytes:
    return bytes(
        RTP(payload_type=PT_JPEG, marker=1)
        / JPEG(q=255)
        / JPEGQuantizationTable(length=4000, tables=bytes(128))
    )


def _header_only() -> bytes:
    return valid_rtp_jpeg()[:12]


def _too_short() -> bytes:
    return b"\x80\x1a\x00"


def _extension_beyond_packet() -> bytes:
    data = valid_rtp_jpeg()
    # X bit set; the "extension header" claims 0xFFFF words.
    return _with_header_byte(data, 0, data[0] | 0x10)[:12] + b"\xbe\xde\xff\xff" + data[12:40]


def _random_bytes() -> bytes:
    return bytes((i * 73 + 41) % 256 for i in range(200))


MALFORMED_RTP: dict[str, Callable[[], bytes]] = {
    "wrong_version": _wrong_version,
    "bad_csrc_count": _bad_csrc_count,
    "padding_beyond_payload": _padding_beyond_payload,
    "truncated_jpeg_header": _truncated_jpeg_header,
    "offset_past_end": _offset_past_end,
    "zero_width": _zero_width,
    "qtable_length_beyond_packet": _qtable_length_beyond_packet,
    "header_only": _header_only,
    "too_short": _too_short,
    "extension_beyond_packet": _extension_beyond_packet,
    "random_bytes": _random_bytes,
}
"""Hostile RTP datagrams, by name: each callable returns the bytes of one UDP payload."""


# --- malformed RTCP datagrams ----------------------------------------------------------------


def valid_rtcp_sr(ssrc: int = 0x11223344) -> bytes:
    """A compound SR + SDES CNAME (RFC 3550 §6.1): the baseline to mutate."""
    sr = RTCP(
        packet_type=RTCP_SR,
        sourcesync=ssrc,
        sender_info=SenderInfo(
            ntp_timestamp=0xE0000000_00000000,
            rtp_timestamp=90_000,
            sender_packet_count=10,
            sender_octet_count=10_000,
        ),
    )
    return bytes(sr / sdes_cname(ssrc, "crafted@server"))


def _rtcp_wrong_version() -> bytes:
    data = valid_rtcp_sr()
    return _with_header_byte(data, 0, (data[0] & 0x3F) | 0x40)


def _rtcp_length_beyond_datagram() -> bytes:
    data = valid_rtcp_sr()
    return data[:2] + b"\x00\xff" + data[4:]


def _rtcp_zero_length_word_count_mismatch() -> bytes:
    # Length 0 says "header only", but an SR needs 6 more words.
    data = valid_rtcp_sr()
    return data[:2] + b"\x00\x00" + data[4:]


def _rtcp_compound_starts_with_sdes() -> bytes:
    # RFC 3550 §6.1: a compound packet starts with SR or RR.
    return bytes(sdes_cname(0x11223344, "crafted@server"))


def _rtcp_report_count_beyond_length() -> bytes:
    # RC says 31 report blocks; none follow.
    data = bytes(RTCP(packet_type=RTCP_RR, sourcesync=1))
    return _with_header_byte(data, 0, 0x80 | 31)


def _rtcp_truncated_header() -> bytes:
    return valid_rtcp_sr()[:3]


def _rtcp_padding_count_beyond_packet() -> bytes:
    data = bytes(RTCP(packet_type=RTCP_RR, sourcesync=1))
    return _with_header_byte(data, 0, data[0] | 0x20)[:-1] + b"\xff"


def _rtcp_unknown_type() -> bytes:
    return b"\x80\x63\x00\x01" + b"\x00\x00\x00\x01"


MALFORMED_RTCP: dict[str, Callable[[], bytes]] = {
    "wrong_version": _rtcp_wrong_version,
    "length_beyond_datagram": _rtcp_length_beyond_datagram,
    "length_too_small": _rtcp_zero_length_word_count_mismatch,
    "compound_starts_with_sdes": _rtcp_compound_starts_with_sdes,
    "report_count_beyond_length": _rtcp_report_count_beyond_length,
    "truncated_header": _rtcp_truncated_header,
    "padding_count_beyond_packet": _rtcp_padding_count_beyond_packet,
    "unknown_type": _rtcp_unknown_type,
}
"""Hostile RTCP datagrams, by name: each callable returns the bytes of one UDP payload."""


def send_udp(datagrams: Iterable[bytes | Packet], host: str, port: int) -> int:
    """Send each datagram to ``host:port`` from an ephemeral UDP socket; returns the count."""
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(bytes(datagram), (host, port))
            sent += 1
    log.debug("sent %d datagrams to %s:%d", sent, host, port)
    return sent
