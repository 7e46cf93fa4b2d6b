"""RTP fixed header, CSRC list, header extension and padding (RFC 3550 §5.1, §5.3.1).

Parse and build whole packets, build the 12-byte fixed header fast for the sender's hot
path, and do the modular arithmetic that sequence numbers and timestamps need.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass

from rtsp_common.errors import ParseError

logger = logging.getLogger(__name__)

RTP_VERSION = 2  # RFC 3550 §5.1: V field
RTP_HEADER_SIZE = 12  # RFC 3550 §5.1: fixed header without CSRCs
MAX_UDP_PAYLOAD = 65_507  # RFC 768 length field minus IPv4 and UDP headers
CSRC_SIZE = 4  # RFC 3550 §5.1: each CSRC identifier is 32 bits
MAX_CSRC = 15  # RFC 3550 §5.1: CC is a 4-bit count
EXTENSION_HEADER_SIZE = 4  # RFC 3550 §5.3.1: 16-bit profile field + 16-bit length in words
WORD = 4  # RFC 3550 §5.3.1: extension length counts 32-bit words
MAX_PAYLOAD_TYPE = 0x7F  # RFC 3550 §5.1: PT is 7 bits
MAX_PADDING = 0xFF  # RFC 3550 §5.1: the padding count is one octet

SEQ_MOD = 1 << 16  # RFC 3550 §5.1: sequence number is 16 bits
TS_MOD = 1 << 32  # RFC 3550 §5.1: timestamp is 32 bits
SSRC_MOD = 1 << 32

# First octet: V(2) P(1) X(1) CC(4); second: M(1) PT(7) (RFC 3550 §5.1).
_VERSION_SHIFT = 6
_PADDING_BIT = 0x20
_EXTENSION_BIT = 0x10
_CC_MASK = 0x0F
_MARKER_BIT = 0x80
_PT_MASK = 0x7F

_FIXED = struct.Struct("!BBHII")
_EXT = struct.Struct("!HH")
_FIRST_OCTET = RTP_VERSION << _VERSION_SHIFT


def pack_header(payload_type: int, sequence: int, timestamp: int, ssrc: int, marker: bool) -> bytes:
    """Return the 12-byte fixed header (no CSRC, extension or padding) for the send path."""
    return _FIXED.pack(
        _FIRST_OCTET,
        (_MARKER_BIT if marker else 0) | payload_type,
        sequence & 0xFFFF,
        timestamp & 0xFFFFFFFF,
        ssrc,
    )


@dataclass(frozen=True)
class RTPPacket:
    """One RTP packet: fixed header fields, optional CSRCs, extension and padding, payload."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool = False
    payload: bytes = b""
    csrcs: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None  # (profile-defined 16 bits, data, multiple of 4)
    padding: int = 0  # padding bytes at the end, including the final count octet

    @classmethod
    def parse(cls, data: bytes | memoryview) -> RTPPacket:
        """Parse one packet; raise ParseError naming what is truncated or invalid."""
        data = bytes(data)
        size = len(data)
        if size < RTP_HEADER_SIZE:
            raise ParseError(
                f"RTP packet truncated: {size} bytes, the fixed header needs {RTP_HEADER_SIZE}"
            )
        first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(data)
        version = first >> _VERSION_SHIFT
        if version != RTP_VERSION:
            raise ParseError(f"RTP version {version}, expected {RTP_VERSION}")
        count = first & _CC_MASK
        offset = RTP_HEADER_SIZE + count * CSRC_SIZE
        if offset > size:
            raise ParseError(
                f"RTP CSRC count {count} needs {offset} header bytes but the packet has {size}"
            )
        csrcs = struct.unpack_from(f"!{count}I", data, RTP_HEADER_SIZE) if count else ()
        extension = None
        if first & _EXTENSION_BIT:
            if offset + EXTENSION_HEADER_SIZE > size:
                raise ParseError(
                    f"RTP extension header at offset {offset} runs past the packet end ({size})"
                )
            profile, words = _EXT.unpack_from(data, offset)
            offset += EXTENSION_HEADER_SIZE
            end = offset + words * WORD
            if end > size:
                raise ParseError(
                    f"RTP extension length {words} words ends at {end}, past the packet end ({size})"
                )
            extension = (profile, data[offset:end])
            offset = end
        padding = 0
        end = size
        if first & _PADDING_BIT:
            if size == offset:
                raise ParseError("RTP padding bit set but no payload holds the padding count")
            padding = data[-1]
            if padding == 0:
                raise ParseError("RTP padding count is 0; it must count itself (RFC 3550 §5.1)")
            if padding > size - offset:
                raise ParseError(
                    f"RTP padding count {padding} exceeds the {size - offset} bytes after the header"
                )
            end = size - padding
        return cls(
            payload_type=second & _PT_MASK,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            marker=bool(second & _MARKER_BIT),
            payload=data[offset:end],
            csrcs=tuple(csrcs),
            extension=extension,
            padding=padding,
        )

    def to_bytes(self) -> bytes:
        """Serialize; raise ValueError when a field does not fit its RFC 3550 width."""
        self._check()
        first = _FIRST_OCTET | len(self.csrcs)
        if self.padding:
            first |= _PADDING_BIT
        if self.extension is not None:
            first |= _EXTENSION_BIT
        parts = [
            _FIXED.pack(
                first,
                (_MARKER_BIT if self.marker else 0) | self.payload_type,
                self.sequence,
                self.timestamp,
                self.ssrc,
            )
        ]
        if self.csrcs:
            parts.append(struct.pack(f"!{len(self.csrcs)}I", *self.csrcs))
        if self.extension is not None:
            profile, ext = self.extension
            parts.append(_EXT.pack(profile, len(ext) // WORD))
            parts.append(bytes(ext))
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)

    def _check(self) -> None:
        if not 0 <= self.payload_type <= MAX_PAYLOAD_TYPE:
            raise ValueError(f"payload type {self.payload_type} outside 0..{MAX_PAYLOAD_TYPE}")
        if not 0 <= self.sequence < SEQ_MOD:
            raise ValueError(f"sequence {self.sequence} outside 0..{SEQ_MOD - 1}")
        if not 0 <= self.timestamp < TS_MOD:
            raise ValueError(f"timestamp {self.timestamp} outside 0..{TS_MOD - 1}")
        if not 0 <= self.ssrc < SSRC_MOD:
            raise ValueError(f"SSRC {self.ssrc} outside 0..{SSRC_MOD - 1}")
        if len(self.csrcs) > MAX_CSRC:
            raise ValueError(f"{len(self.csrcs)} CSRCs; at most {MAX_CSRC} fit the CC field")
        if self.extension is not None:
            profile, ext = self.extension
            if not 0 <= profile <= 0xFFFF:
                raise ValueError(f"extension profile {profile} does not fit 16 bits")
            if len(ext) % WORD or len(ext) // WORD > 0xFFFF:
                raise ValueError("extension data must be a multiple of 4 bytes, under 256 KiB")
        if not 0 <= self.padding <= MAX_PADDING:
            raise ValueError(f"padding {self.padding} outside 0..{MAX_PADDING}")


def seq_diff(a: int, b: int) -> int:
    """Signed ``a - b`` modulo 2^16, in [-32768, 32767]."""
    return (a - b + SEQ_MOD // 2) % SEQ_MOD - SEQ_MOD // 2


def ts_diff(a: int, b: int) -> int:
    """Signed ``a - b`` modulo 2^32, in [-2^31, 2^31 - 1]."""
    return (a - b + TS_MOD // 2) % TS_MOD - TS_MOD // 2


def seq_add(seq: int, n: int) -> int:
    """``seq + n`` wrapped to 16 bits."""
    return (seq + n) % SEQ_MOD


def ts_add(ts: int, n: int) -> int:
    """``ts + n`` wrapped to 32 bits."""
    return (ts + n) % TS_MOD
