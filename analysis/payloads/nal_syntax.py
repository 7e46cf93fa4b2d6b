"""The NAL unit syntax of H.264 and H.265 as their RTP payload formats use it: header
size, the types that aggregate and fragment, parameter sets, random access points, and
the SDP parameters that carry parameter sets and profile/level (RFC 6184, RFC 7798).

The checker's own reading, independent of the client's depacketizer.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

FORBIDDEN_BIT = 0x80  # H.264 §7.4.1 forbidden_zero_bit; H.265 §7.4.2.2 likewise
EMULATION_PREVENTION = b"\x00\x00\x03"  # H.264 §7.4.1, H.265 §7.4.2: removed from the RBSP


@dataclass(frozen=True)
class NalSyntax:
    """What differs between H.264 and H.265 for depacketization and the rules."""

    name: str  # "H.264" or "H.265"
    rfc: str
    header_len: int  # octets of the NAL unit header (and of the RTP payload header)
    aggregation: frozenset[int]  # payload header types that aggregate NAL units
    fragmentation: frozenset[int]  # payload header types that fragment one NAL unit
    parameter_sets: dict[int, str]  # NAL type -> name
    vcl: range  # NAL types of coded slices
    random_access: range  # NAL types a decoder may start at (IDR; IRAP)
    max_nal_type: int  # the largest type a single NAL unit packet may carry

    def nal_type(self, header: bytes) -> int:
        """The type field of a NAL unit (or payload) header."""
        return self.type_in(header[0])

    def type_in(self, first_octet):
        """The type field in a header's first octet: an int, or a numpy column of them."""
        if self.header_len == 1:
            return first_octet & 0x1F
        return (first_octet >> 1) & 0x3F

    def starts_picture(self, nal: bytes) -> bool:
        """True when the slice NAL unit opens a picture: H.264 first_mb_in_slice == 0 (its
        ue(v) code is a lone 1 bit), H.265 first_slice_segment_in_pic_flag == 1."""
        return len(nal) > self.header_len and bool(nal[self.header_len] & 0x80)

    def header_problem(self, header: bytes) -> str:
        """What is wrong with a NAL unit header (F bit, H.265's TID 0), or ""."""
        if header[0] & FORBIDDEN_BIT:
            return "F (forbidden_zero_bit) is 1"
        if self.header_len == 2 and header[1] & 0x07 == 0:
            return "TID (nuh_temporal_id_plus1) is 0"
        return ""

    def fragment_header(self, payload_header: bytes, fu_header: int) -> tuple[bytes, bool, bool]:
        """The fragmented NAL unit's own header, and the S and E bits of an FU header."""
        start, end = bool(fu_header & 0x80), bool(fu_header & 0x40)
        if (
            self.header_len == 1
        ):  # RFC 6184 §5.8: F and NRI from the indicator, type from the FU header
            return bytes([(payload_header[0] & 0xE0) | (fu_header & 0x1F)]), start, end
        first = (payload_header[0] & 0x81) | ((fu_header & 0x3F) << 1)  # RFC 7798 §4.4.3
        return bytes([first, payload_header[1]]), start, end


H264 = NalSyntax(
    "H.264",
    "RFC 6184",
    1,
    frozenset({24, 25, 26, 27}),  # STAP-A, STAP-B, MTAP16, MTAP24
    frozenset({28, 29}),  # FU-A, FU-B
    {7: "SPS", 8: "PPS"},
    range(1, 6),
    range(5, 6),  # IDR
    23,
)
H265 = NalSyntax(
    "H.265",
    "RFC 7798",
    2,
    frozenset({48}),  # AP
    frozenset({49}),  # FU
    {32: "VPS", 33: "SPS", 34: "PPS"},
    range(0, 32),
    range(16, 24),  # IRAP: BLA, IDR, CRA and reserved IRAP types
    47,
)
SYNTAX_BY_ENCODING = {"H264": H264, "H265": H265}

# RFC 6184 §6: which payload header types each packetization-mode allows (Table 3).
H264_MODE_TYPES = {
    0: frozenset(range(1, 24)),
    1: frozenset(range(1, 24)) | {24, 28},
    2: frozenset({25, 26, 27, 28, 29}),
}
H265_PACI = 50  # RFC 7798 §4.4.4: PACI packets, allowed in any mode
# SDP parameters that carry parameter sets, base64 and comma-separated (RFC 6184 §8.1, RFC 7798 §7.1).
SPROP_KEYS = {"H264": ("sprop-parameter-sets",), "H265": ("sprop-vps", "sprop-sps", "sprop-pps")}


def sdp_parameter_sets(encoding: str, parameters: dict[str, str]) -> tuple[list[bytes], list[str]]:
    """The parameter-set NAL units the SDP's fmtp carries, and what could not be read."""
    nals, problems = [], []
    for key in SPROP_KEYS.get(encoding, ()):
        for item in filter(None, parameters.get(key, "").split(",")):
            try:
                nal = base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError):
                problems.append(f"{key} item {item[:20]!r} is not base64")
                continue
            if nal:
                nals.append(nal)
    return nals, problems


def rbsp(nal: bytes, header_len: int) -> bytes:
    """The NAL unit's payload with emulation prevention bytes taken out."""
    body = nal[header_len:]
    return body.replace(EMULATION_PREVENTION, b"\x00\x00") if b"\x00\x00\x03" in body else body


def sps_profile_level(syntax: NalSyntax, sps: bytes) -> tuple[int, int] | None:
    """(profile_idc, level_idc) of an SPS, or None when it is too short to hold them."""
    data = rbsp(sps, syntax.header_len)
    if syntax is H264:  # H.264 §7.3.2.1.1: profile_idc, constraint flags, level_idc
        return (data[0], data[2]) if len(data) >= 3 else None
    # H.265 §7.3.2.2: one octet of ids, then profile_tier_level: profile at 1, level at 12.
    return (data[1] & 0x1F, data[12]) if len(data) >= 13 else None


def sdp_profile_level(encoding: str, parameters: dict[str, str]) -> tuple[int, int] | None:
    """(profile, level) the SDP declares (RFC 6184 §8.1 profile-level-id; RFC 7798 §7.1
    profile-id and level-id, defaults 1 and 93), or None when it declares nothing readable."""
    try:
        if encoding == "H264":
            plid = parameters.get("profile-level-id")
            if plid is None or len(plid) != 6:
                return None
            value = int(plid, 16)
            return value >> 16, value & 0xFF
        if "profile-id" not in parameters and "level-id" not in parameters:
            return None
        return int(parameters.get("profile-id", "1")), int(parameters.get("level-id", "93"))
    except ValueError:
        return None
