"""RFC 7798: the RTP payload format for H.265, receive side, and its SDP parameters.

``H265PayloadReader`` reads single NAL unit packets, aggregation packets (AP, type 48,
§4.4.2) and fragmentation units (FU, type 49, §4.4.3), with the DONL/DOND fields present
when ``sprop-max-don-diff`` is above 0 (§4.4). Units are delivered in transmission order;
PACI packets (type 50) are refused with a ParseError, which the receiver counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtsp_common.annex_b import split_nal_units
from rtsp_common.errors import ParseError
from rtsp_common.nal_units import NalFragment, NalPiece, aggregated_units, decode_parameter_sets

ENCODING = "H265"
CLOCK_RATE = 90000  # RFC 7798 §7.1: the RTP clock is 90 kHz

# RFC 7798 §1.1.4: NAL unit header F(1) Type(6) LayerId(6) TID(3), two bytes.
NAL_HEADER_SIZE = 2
FORBIDDEN_BIT = 0x80
TYPE_SHIFT = 1
TYPE_MASK = 0x3F
# H.265 Table 7-1 and RFC 7798 §4.4.
NAL_IRAP_FIRST = 16  # BLA_W_LP .. 23 are IRAP pictures
NAL_IRAP_LAST = 23
AGGREGATION_PACKET = 48
FRAGMENTATION_UNIT = 49
PACI = 50
DONL_SIZE = 2  # §4.4.1: decoding order number, 16 bits
DOND_SIZE = 1  # §4.4.2: difference to the previous DON, 8 bits
# RFC 7798 §4.4.3: FU header S(1) E(1) FuType(6).
FU_START = 0x80
FU_END = 0x40
FU_TYPE_MASK = 0x3F
FU_HEADER_SIZE = 1


@dataclass(frozen=True)
class H265Parameters:
    """The H.265 fmtp parameters a receiver uses (RFC 7798 §7.1)."""

    parameter_sets: tuple[bytes, ...] = ()  # sprop-vps, sprop-sps, sprop-pps, in that order
    max_don_diff: int = 0  # sprop-max-don-diff: above 0, DONL/DOND fields are present

    @property
    def donl(self) -> bool:
        """Whether packets carry DONL/DOND fields."""
        return self.max_don_diff > 0

    @classmethod
    def from_fmtp(cls, fmtp: dict[str, str]) -> H265Parameters:
        """From an SDP fmtp's parameters (names lower-case); ParseError on a
        sprop-max-don-diff that is not a number of 0 to 32767 (RFC 7798 §7.1)."""
        sets: list[bytes] = []
        for name in ("sprop-vps", "sprop-sps", "sprop-pps"):
            sets += decode_parameter_sets(fmtp.get(name, ""), name)
        diff_text = fmtp.get("sprop-max-don-diff", "0").strip()
        if not diff_text.isdigit() or len(diff_text) > 5 or int(diff_text) > 32767:
            raise ParseError(f"H.265 sprop-max-don-diff must be 0-32767, got {diff_text!r}")
        return cls(tuple(sets), int(diff_text))


def nal_type(nal: bytes | bytearray | memoryview) -> int:
    """The H.265 NAL unit type (RFC 7798 §1.1.4)."""
    return (nal[0] >> TYPE_SHIFT) & TYPE_MASK


def is_random_access(access_unit: bytes) -> bool:
    """Whether an Annex B access unit holds an IRAP picture, where decoding can begin."""
    return any(
        NAL_IRAP_FIRST <= nal_type(nal) <= NAL_IRAP_LAST for nal in split_nal_units(access_unit)
    )


def check_nal_header(unit: bytes | memoryview) -> None:
    """ParseError when a NAL unit is shorter than its header or has the F bit set
    (RFC 7798 §1.1.4: F must be 0)."""
    if len(unit) < NAL_HEADER_SIZE:
        raise ParseError(f"H.265 NAL unit of {len(unit)} bytes: shorter than its header")
    if unit[0] & FORBIDDEN_BIT:
        raise ParseError("H.265 NAL unit with the forbidden_zero_bit (F) set (RFC 7798 §1.1.4)")


class H265PayloadReader:
    """Reads RFC 7798 payloads into NAL units and FU pieces; ``donl`` when the session's
    sprop-max-don-diff is above 0."""

    codec = ENCODING

    def __init__(self, donl: bool = False) -> None:
        self.donl = donl

    def read(self, payload: bytes | bytearray | memoryview) -> list[NalPiece]:
        """The pieces of one payload; ParseError when it breaks RFC 7798."""
        body = memoryview(payload)
        check_nal_header(body)
        kind = nal_type(body)
        donl = DONL_SIZE if self.donl else 0
        if kind == AGGREGATION_PACKET:
            units = aggregated_units(
                body, NAL_HEADER_SIZE + donl, ENCODING, DOND_SIZE if donl else 0
            )
            for unit in units:
                check_nal_header(unit)
            return list(units)
        if kind == FRAGMENTATION_UNIT:
            head = NAL_HEADER_SIZE + FU_HEADER_SIZE
            if len(body) < head:
                raise ParseError(f"H.265 FU of {len(body)} bytes has no FU header")
            fu = body[NAL_HEADER_SIZE]
            start, end = bool(fu & FU_START), bool(fu & FU_END)
            if start and end:
                raise ParseError("H.265 FU with both start and end bits (RFC 7798 §4.4.3)")
            fu_type = fu & FU_TYPE_MASK
            if fu_type in (AGGREGATION_PACKET, FRAGMENTATION_UNIT, PACI):
                raise ParseError(f"H.265 FU carries type {fu_type}, which cannot be fragmented")
            # §4.4.3: DONL only in the first fragment.
            data_at = head + (donl if start else 0)
            if len(body) <= data_at:
                raise ParseError(f"H.265 FU of {len(body)} bytes carries no fragment")
            nal_header = bytes([(body[0] & 0x81) | (fu_type << TYPE_SHIFT), body[1]])
            return [NalFragment(nal_header, bytes(body[data_at:]), start, end)]
        if kind == PACI:
            raise ParseError("H.265 PACI packet (type 50) is not supported")
        if kind > PACI:
            raise ParseError(f"H.265 NAL unit type {kind} is reserved/unspecified in RTP")
        if donl:
            if len(body) <= NAL_HEADER_SIZE + DONL_SIZE:
                raise ParseError("H.265 single NAL unit packet too short for its DONL field")
            return [bytes(body[:NAL_HEADER_SIZE]) + bytes(body[NAL_HEADER_SIZE + DONL_SIZE :])]
        return [bytes(body)]
