"""RFC 6184: the RTP payload format for H.264, receive side, and its SDP parameters.

``H264PayloadReader`` reads single NAL unit packets, STAP-A (§5.7.1) and FU-A (§5.8) in
packetization modes 0 and 1. The interleaved mode 2 (STAP-B, MTAP16/24, FU-B) needs
decoding-order reordering this reader does not do: those packets are refused with a
ParseError, which the receiver counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtsp_common.annex_b import split_nal_units
from rtsp_common.errors import ParseError
from rtsp_common.nal_units import NalFragment, NalPiece, aggregated_units, decode_parameter_sets

ENCODING = "H264"
CLOCK_RATE = 90000  # RFC 6184 §8.2.1: the RTP clock is 90 kHz

# RFC 6184 §5.3: NAL unit header F(1) NRI(2) Type(5).
FORBIDDEN_BIT = 0x80
NRI_MASK = 0x60
TYPE_MASK = 0x1F
# RFC 6184 §5.2 Table 1 / H.264 Table 7-1.
NAL_IDR = 5
STAP_A = 24
STAP_B = 25
MTAP16 = 26
MTAP24 = 27
FU_A = 28
FU_B = 29
INTERLEAVED_TYPES = {STAP_B: "STAP-B", MTAP16: "MTAP16", MTAP24: "MTAP24", FU_B: "FU-B"}
# RFC 6184 §5.8: FU header S(1) E(1) R(1) Type(5).
FU_START = 0x80
FU_END = 0x40
FU_HEADER_SIZE = 2  # FU indicator + FU header
# RFC 6184 §8.1 packetization-mode.
SINGLE_NAL_MODE = 0  # the default; 1 adds STAP-A and FU-A
INTERLEAVED_MODE = 2


@dataclass(frozen=True)
class H264Parameters:
    """The H.264 fmtp parameters a receiver uses (RFC 6184 §8.1)."""

    packetization_mode: int = SINGLE_NAL_MODE
    parameter_sets: tuple[bytes, ...] = ()  # sprop-parameter-sets: SPS and PPS NAL units
    profile_level_id: str | None = None

    @classmethod
    def from_fmtp(cls, fmtp: dict[str, str]) -> H264Parameters:
        """From an SDP fmtp's parameters (names lower-case); ParseError on a mode that is
        not 0, 1 or 2."""
        mode_text = fmtp.get("packetization-mode", str(SINGLE_NAL_MODE)).strip()
        if mode_text not in ("0", "1", "2"):
            raise ParseError(f"H.264 packetization-mode must be 0, 1 or 2, got {mode_text!r}")
        sets = decode_parameter_sets(fmtp.get("sprop-parameter-sets", ""), "sprop-parameter-sets")
        return cls(int(mode_text), tuple(sets), fmtp.get("profile-level-id"))


def nal_type(nal: bytes | bytearray | memoryview) -> int:
    """The H.264 NAL unit type (RFC 6184 §5.3)."""
    return nal[0] & TYPE_MASK


def is_random_access(access_unit: bytes) -> bool:
    """Whether an Annex B access unit holds an IDR picture, where decoding can begin."""
    return any(nal_type(nal) == NAL_IDR for nal in split_nal_units(access_unit))


def check_nal_header(header: int) -> None:
    """ParseError when the F bit is set: RFC 6184 §5.3 lets a receiver discard such a unit,
    and a decoder must not be given one as if sound."""
    if header & FORBIDDEN_BIT:
        raise ParseError("H.264 NAL unit with the forbidden_zero_bit (F) set (RFC 6184 §5.3)")


class H264PayloadReader:
    """Reads RFC 6184 payloads of packetization mode 0 or 1 into NAL units and FU-A pieces.

    A STAP-A or FU-A in mode 0 is read all the same (senders that announce mode 0 and then
    fragment exist, and the units are sound); mode 2 types are refused.
    """

    codec = ENCODING

    def read(self, payload: bytes | bytearray | memoryview) -> list[NalPiece]:
        """The pieces of one payload; ParseError when it breaks RFC 6184."""
        body = memoryview(payload)
        if not body:
            raise ParseError("empty H.264 RTP payload")
        header = body[0]
        check_nal_header(header)
        kind = header & TYPE_MASK
        if kind == STAP_A:
            units = aggregated_units(body, 1, ENCODING)
            for unit in units:
                check_nal_header(unit[0])
            return list(units)
        if kind == FU_A:
            if len(body) <= FU_HEADER_SIZE:
                raise ParseError(f"H.264 FU-A of {len(body)} bytes carries no fragment")
            fu = body[1]
            start, end = bool(fu & FU_START), bool(fu & FU_END)
            if start and end:
                raise ParseError("H.264 FU-A with both start and end bits (RFC 6184 §5.8)")
            nal_header = bytes([(header & (FORBIDDEN_BIT | NRI_MASK)) | (fu & TYPE_MASK)])
            return [NalFragment(nal_header, bytes(body[FU_HEADER_SIZE:]), start, end)]
        if kind in INTERLEAVED_TYPES:
            raise ParseError(
                f"H.264 {INTERLEAVED_TYPES[kind]} packet: interleaved packetization "
                "(mode 2) is not supported"
            )
        if kind == 0 or kind > FU_B:
            raise ParseError(f"H.264 NAL unit type {kind} is reserved/undefined in RTP")
        return [bytes(body)]
