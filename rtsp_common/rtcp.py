"""RTCP packets (RFC 3550 §6): SR, RR, SDES, BYE, and compound packets.

Every packet starts with the common header V(2) P(1) count(5) PT(8) length(16), where the
length is the packet size in 32-bit words minus one (RFC 3550 §6.4.1). APP and any other
packet type are kept as :class:`UnknownRTCP` so a compound packet survives a round trip.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum

from rtsp_common.errors import ParseError

logger = logging.getLogger(__name__)

RTCP_VERSION = 2  # RFC 3550 §6.4.1
HEADER_SIZE = 4  # RFC 3550 §6.4.1: V/P/count, PT, length
WORD = 4  # RFC 3550 §6.4.1: lengths count 32-bit words
MAX_COUNT = 31  # RFC 3550 §6.4.1: RC / SC is a 5-bit field
SENDER_INFO_SIZE = 24  # RFC 3550 §6.4.1: SSRC + NTP(8) + RTP ts + packet count + octet count
REPORT_BLOCK_SIZE = 24  # RFC 3550 §6.4.1
SSRC_SIZE = 4
MAX_ITEM_LENGTH = 255  # RFC 3550 §6.5: SDES item length is one octet
MAX_REASON_LENGTH = 255  # RFC 3550 §6.6: BYE reason length is one octet
REPORT_INTERVAL = 5.0  # s: RFC 3550 §6.2, the minimum interval between a member's reports
CUMULATIVE_LOST_MIN = -(1 << 23)  # RFC 3550 §6.4.1: a signed 24-bit count
CUMULATIVE_LOST_MAX = (1 << 23) - 1

# RFC 868 / RFC 5905: NTP counts seconds from 1900-01-01, Unix from 1970-01-01.
NTP_UNIX_OFFSET = 2_208_988_800
NTP_FRACTION = 1 << 32
NTP_MOD = 1 << 64

_VERSION_SHIFT = 6
_PADDING_BIT = 0x20
_COUNT_MASK = 0x1F

_HEADER = struct.Struct("!BBH")
_SENDER_INFO = struct.Struct("!IQIII")
_REPORT_BLOCK = struct.Struct("!IIIIII")
_U32 = struct.Struct("!I")


class PacketType(IntEnum):
    """RTCP packet types (RFC 3550 §12.1)."""

    SR = 200
    RR = 201
    SDES = 202
    BYE = 203
    APP = 204


class SDESItem(IntEnum):
    """SDES item types (RFC 3550 §12.2)."""

    END = 0
    CNAME = 1
    NAME = 2
    EMAIL = 3
    PHONE = 4
    LOC = 5
    TOOL = 6
    NOTE = 7
    PRIV = 8


def _check_u32(name: str, value: int) -> None:
    if not 0 <= value < 1 << 32:
        raise ValueError(f"{name} {value} does not fit 32 bits")


def _header(count: int, packet_type: int, body_size: int) -> bytes:
    if not 0 <= count <= MAX_COUNT:
        raise ValueError(f"RTCP count {count} outside 0..{MAX_COUNT}")
    if body_size % WORD:
        raise ValueError(f"RTCP body of {body_size} bytes is not a multiple of 4")
    words = (HEADER_SIZE + body_size) // WORD - 1
    if words > 0xFFFF:
        raise ValueError("RTCP packet too long for its 16-bit length field")
    return _HEADER.pack((RTCP_VERSION << _VERSION_SHIFT) | count, packet_type, words)


@dataclass(frozen=True)
class ReportBlock:
    """Reception statistics about one source (RFC 3550 §6.4.1)."""

    ssrc: int
    fraction_lost: int  # 8-bit fixed point: lost / expected * 256
    cumulative_lost: int  # signed 24 bits
    highest_seq: int  # extended highest sequence number received
    jitter: int  # interarrival jitter in timestamp units
    lsr: int  # middle 32 bits of the last SR's NTP timestamp
    dlsr: int  # delay since last SR, units of 1/65536 s

    def to_bytes(self) -> bytes:
        """Serialize the 24-byte block."""
        if not 0 <= self.fraction_lost <= 0xFF:
            raise ValueError(f"fraction_lost {self.fraction_lost} outside 0..255")
        if not CUMULATIVE_LOST_MIN <= self.cumulative_lost <= CUMULATIVE_LOST_MAX:
            raise ValueError(f"cumulative_lost {self.cumulative_lost} does not fit signed 24 bits")
        for name in ("ssrc", "highest_seq", "jitter", "lsr", "dlsr"):
            _check_u32(name, getattr(self, name))
        lost = (self.fraction_lost << 24) | (self.cumulative_lost & 0xFFFFFF)
        return _REPORT_BLOCK.pack(
            self.ssrc, lost, self.highest_seq, self.jitter, self.lsr, self.dlsr
        )

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> ReportBlock:
        """Read one block at ``offset`` (the caller has checked the length)."""
        ssrc, lost, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        cumulative = lost & 0xFFFFFF
        if cumulative > CUMULATIVE_LOST_MAX:
            cumulative -= 1 << 24
        return cls(ssrc, lost >> 24, cumulative, highest, jitter, lsr, dlsr)


def _report_blocks(data: bytes, offset: int, count: int, what: str) -> tuple[ReportBlock, ...]:
    need = offset + count * REPORT_BLOCK_SIZE
    if need > len(data):
        raise ParseError(
            f"RTCP {what} announces {count} report blocks ({need} bytes) but has {len(data)}"
        )
    return tuple(ReportBlock.parse(data, offset + i * REPORT_BLOCK_SIZE) for i in range(count))


@dataclass(frozen=True)
class SenderReport:
    """SR: sender info plus report blocks (RFC 3550 §6.4.1)."""

    ssrc: int
    ntp_timestamp: int  # 64-bit NTP format
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()

    def to_bytes(self) -> bytes:
        """Serialize as one RTCP packet."""
        for name in ("ssrc", "rtp_timestamp", "packet_count", "octet_count"):
            _check_u32(name, getattr(self, name))
        if not 0 <= self.ntp_timestamp < NTP_MOD:
            raise ValueError(f"NTP timestamp {self.ntp_timestamp} does not fit 64 bits")
        body = _SENDER_INFO.pack(
            self.ssrc, self.ntp_timestamp, self.rtp_timestamp, self.packet_count, self.octet_count
        ) + b"".join(block.to_bytes() for block in self.reports)
        return _header(len(self.reports), PacketType.SR, len(body)) + body

    @classmethod
    def _from_body(cls, body: bytes, count: int) -> SenderReport:
        if len(body) < SENDER_INFO_SIZE:
            raise ParseError(f"RTCP SR body is {len(body)} bytes, sender info needs 24")
        ssrc, ntp, rtp_ts, packets, octets = _SENDER_INFO.unpack_from(body)
        reports = _report_blocks(body, SENDER_INFO_SIZE, count, "SR")
        return cls(ssrc, ntp, rtp_ts, packets, octets, reports)


@dataclass(frozen=True)
class ReceiverReport:
    """RR: the reporter's SSRC plus report blocks (RFC 3550 §6.4.2)."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()

    def to_bytes(self) -> bytes:
        """Serialize as one RTCP packet."""
        _check_u32("ssrc", self.ssrc)
        body = _U32.pack(self.ssrc) + b"".join(block.to_bytes() for block in self.reports)
        return _header(len(self.reports), PacketType.RR, len(body)) + body

    @classmethod
    def _from_body(cls, body: bytes, count: int) -> ReceiverReport:
        if len(body) < SSRC_SIZE:
            raise ParseError("RTCP RR too short to hold the reporter's SSRC")
        (ssrc,) = _U32.unpack_from(body)
        return cls(ssrc, _report_blocks(body, SSRC_SIZE, count, "RR"))


SDESChunk = tuple[int, tuple[tuple[int, bytes], ...]]


@dataclass(frozen=True)
class SourceDescription:
    """SDES: per-source chunks of (item type, value) pairs (RFC 3550 §6.5)."""

    chunks: tuple[SDESChunk, ...]

    @classmethod
    def cname(cls, ssrc: int, cname: str) -> SourceDescription:
        """One chunk carrying only a CNAME item, as every compound packet needs (§6.1)."""
        return cls(((ssrc, ((SDESItem.CNAME, cname.encode()),)),))

    def cnames(self) -> dict[int, str]:
        """The CNAME of each source that has one."""
        found: dict[int, str] = {}
        for ssrc, items in self.chunks:
            for kind, value in items:
                if kind == SDESItem.CNAME:
                    found.setdefault(ssrc, value.decode("utf-8", "replace"))
        return found

    def to_bytes(self) -> bytes:
        """Serialize, ending each chunk with a null item and padding it to 32 bits."""
        parts = []
        for ssrc, items in self.chunks:
            _check_u32("ssrc", ssrc)
            chunk = bytearray(_U32.pack(ssrc))
            for kind, value in items:
                if not SDESItem.CNAME <= kind <= 0xFF:
                    raise ValueError(f"SDES item type {kind} outside 1..255")
                if len(value) > MAX_ITEM_LENGTH:
                    raise ValueError(f"SDES item of {len(value)} bytes; at most 255")
                chunk += bytes((kind, len(value))) + value
            # §6.5: at least one null octet ends the list, then pad to a word boundary.
            chunk += bytes(WORD - len(chunk) % WORD)
            parts.append(bytes(chunk))
        body = b"".join(parts)
        return _header(len(self.chunks), PacketType.SDES, len(body)) + body

    @classmethod
    def _from_body(cls, body: bytes, count: int) -> SourceDescription:
        chunks = []
        offset = 0
        for index in range(count):
            if offset + SSRC_SIZE > len(body):
                raise ParseError(f"RTCP SDES chunk {index} of {count} runs past the packet end")
            (ssrc,) = _U32.unpack_from(body, offset)
            offset += SSRC_SIZE
            items = []
            while True:
                if offset >= len(body):
                    raise ParseError(f"RTCP SDES chunk {index} has no terminating null item")
                kind = body[offset]
                if kind == SDESItem.END:
                    offset += 1
                    break
                if offset + 2 > len(body):
                    raise ParseError(f"RTCP SDES item in chunk {index} truncated")
                length = body[offset + 1]
                end = offset + 2 + length
                if end > len(body):
                    raise ParseError(
                        f"RTCP SDES item of {length} bytes in chunk {index} runs past the packet"
                    )
                items.append((kind, body[offset + 2 : end]))
                offset = end
            offset += -offset % WORD  # chunks start on a 32-bit boundary
            chunks.append((ssrc, tuple(items)))
        return cls(tuple(chunks))


# A BYE reason is UTF-8 text (RFC 3550 §6.6), but a peer may send any bytes: bytes that are not
# UTF-8 are kept as surrogates, so the reason is written back exactly as it came.
SURROGATES = "surrogateescape"


@dataclass(frozen=True)
class Bye:
    """BYE: the sources leaving, with an optional reason (RFC 3550 §6.6)."""

    ssrcs: tuple[int, ...]
    reason: str | None = None

    def to_bytes(self) -> bytes:
        """Serialize as one RTCP packet, padding the reason to 32 bits."""
        for ssrc in self.ssrcs:
            _check_u32("ssrc", ssrc)
        body = b"".join(_U32.pack(ssrc) for ssrc in self.ssrcs)
        if self.reason is not None:
            text = self.reason.encode("utf-8", SURROGATES)
            if len(text) > MAX_REASON_LENGTH:
                raise ValueError(f"BYE reason of {len(text)} bytes; at most 255")
            reason = bytes((len(text),)) + text
            body += reason + bytes(-len(reason) % WORD)
        return _header(len(self.ssrcs), PacketType.BYE, len(body)) + body

    @classmethod
    def _from_body(cls, body: bytes, count: int) -> Bye:
        end = count * SSRC_SIZE
        if end > len(body):
            raise ParseError(f"RTCP BYE announces {count} sources but holds {len(body) // 4}")
        ssrcs = struct.unpack_from(f"!{count}I", body)
        reason = None
        if end < len(body):
            length = body[end]
            if end + 1 + length > len(body):
                raise ParseError(f"RTCP BYE reason of {length} bytes runs past the packet end")
            reason = body[end + 1 : end + 1 + length].decode("utf-8", SURROGATES)
        return cls(tuple(ssrcs), reason)


@dataclass(frozen=True)
class UnknownRTCP:
    """APP or any other packet type, kept as its header fields and body bytes."""

    packet_type: int
    count: int  # the 5-bit field (APP calls it subtype)
    body: bytes  # everything after the 4-byte common header, without padding

    def to_bytes(self) -> bytes:
        """Serialize; a body off the 32-bit grid is padded with the P bit set (§6.4.1)."""
        if not 0 <= self.packet_type <= 0xFF:
            raise ValueError(f"packet type {self.packet_type} outside 0..255")
        pad = -len(self.body) % WORD
        if not pad:
            return _header(self.count, self.packet_type, len(self.body)) + self.body
        body = self.body + bytes(pad - 1) + bytes((pad,))
        header = bytearray(_header(self.count, self.packet_type, len(body)))
        header[0] |= _PADDING_BIT
        return bytes(header) + body


RTCPPacket = SenderReport | ReceiverReport | SourceDescription | Bye | UnknownRTCP

_PARSERS: dict[int, Callable[[bytes, int], RTCPPacket]] = {
    PacketType.SR: SenderReport._from_body,
    PacketType.RR: ReceiverReport._from_body,
    PacketType.SDES: SourceDescription._from_body,
    PacketType.BYE: Bye._from_body,
}


def parse_compound(data: bytes | memoryview) -> list[RTCPPacket]:
    """Parse a compound RTCP packet (one or more packets back to back).

    Raises ParseError on a wrong version, a length running past the datagram, bad padding,
    or a body too short for what its header announces.
    """
    data = bytes(data)
    if not data:
        raise ParseError("empty RTCP packet")
    packets: list[RTCPPacket] = []
    offset = 0
    while offset < len(data):
        if offset + HEADER_SIZE > len(data):
            raise ParseError(
                f"RTCP header truncated at offset {offset}: {len(data) - offset} bytes left"
            )
        first, packet_type, words = _HEADER.unpack_from(data, offset)
        version = first >> _VERSION_SHIFT
        if version != RTCP_VERSION:
            raise ParseError(f"RTCP version {version} at offset {offset}, expected 2")
        end = offset + (words + 1) * WORD
        if end > len(data):
            raise ParseError(
                f"RTCP length {words} at offset {offset} ends at byte {end}, "
                f"past the datagram end ({len(data)})"
            )
        body = data[offset + HEADER_SIZE : end]
        if first & _PADDING_BIT:
            pad = body[-1] if body else 0
            if pad == 0 or pad > len(body):
                raise ParseError(
                    f"RTCP padding count {pad} invalid for a {len(body)}-byte body at offset {offset}"
                )
            body = body[:-pad]
        count = first & _COUNT_MASK
        parser = _PARSERS.get(packet_type)
        if parser is None:
            packets.append(UnknownRTCP(packet_type, count, body))
        else:
            packets.append(parser(body, count))
        offset = end
    return packets


def compound_problems(packets: list[RTCPPacket]) -> list[str]:
    """What a parsed compound packet lacks by RFC 3550 §6.1; an empty list when none.

    Every compound packet starts with an SR or RR and carries an SDES with a CNAME.
    """
    problems = []
    if not packets or not isinstance(packets[0], SenderReport | ReceiverReport):
        first = type(packets[0]).__name__ if packets else "nothing"
        problems.append(f"compound RTCP starts with {first}, not an SR or RR (RFC 3550 §6.1)")
    if not any(isinstance(p, SourceDescription) and p.cnames() for p in packets):
        problems.append("compound RTCP carries no SDES CNAME (RFC 3550 §6.1)")
    return problems


def build_compound(packets: Iterable[RTCPPacket]) -> bytes:
    """Concatenate packets into one compound datagram."""
    return b"".join(packet.to_bytes() for packet in packets)


def ntp_from_unix(t: float) -> int:
    """64-bit NTP timestamp (32.32 fixed point since 1900) for a Unix time."""
    return round((t + NTP_UNIX_OFFSET) * NTP_FRACTION) % NTP_MOD


def unix_from_ntp(ntp: int) -> float:
    """Unix time for a 64-bit NTP timestamp."""
    return ntp / NTP_FRACTION - NTP_UNIX_OFFSET


def ntp_middle32(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp: the LSR/DLSR form (RFC 3550 §6.4.1)."""
    return (ntp >> 16) & 0xFFFFFFFF
