"""H.264/H.265 access units into RTP payloads (RFC 6184 mode 1, RFC 7798), sans-I/O.

Small NAL units that fit together go into one STAP-A / AP, a NAL unit larger than a packet is
split into FU-A / FU pieces, the rest travel as single NAL unit packets. The receive side is
``rtsp_common.access_units``; a sender (and the tests' round trips) use this.
"""

from __future__ import annotations

from collections.abc import Sequence

from rtsp_common import h264, h265
from rtsp_common.nal_units import NAL_SIZE_BYTES


def _check(nal_units: Sequence[bytes], header_size: int, max_payload: int, fu_overhead: int):
    if max_payload <= fu_overhead:
        raise ValueError(f"max_payload {max_payload} leaves no room for a fragment")
    for nal in nal_units:
        if len(nal) <= header_size:
            raise ValueError("a NAL unit must hold more than its header")


def _aggregate_or_single(
    nal_units: Sequence[bytes], max_payload: int, aggregate_header: bytes, fragment
) -> list[bytes]:
    """Group runs of small units into aggregation packets; fragment the oversized."""
    payloads: list[bytes] = []
    group: list[bytes] = []

    def close_group() -> None:
        if len(group) == 1:
            payloads.append(group[0])
        elif group:
            body = b"".join(len(u).to_bytes(NAL_SIZE_BYTES, "big") + u for u in group)
            payloads.append(aggregate_header + body)
        group.clear()

    for nal in nal_units:
        if len(nal) > max_payload:
            close_group()
            payloads += fragment(nal)
            continue
        size = len(aggregate_header) + sum(NAL_SIZE_BYTES + len(u) for u in group)
        if group and size + NAL_SIZE_BYTES + len(nal) > max_payload:
            close_group()
        group.append(nal)
    close_group()
    return payloads


def packetize_h264(nal_units: Sequence[bytes], max_payload: int) -> list[bytes]:
    """RFC 6184 packetization mode 1 payloads for one access unit's NAL units, none longer
    than ``max_payload``."""
    _check(nal_units, 1, max_payload, h264.FU_HEADER_SIZE)
    nri = max((nal[0] & h264.NRI_MASK for nal in nal_units), default=0)
    stap_a = bytes([nri | h264.STAP_A])

    def fragment(nal: bytes) -> list[bytes]:
        indicator = (nal[0] & (h264.FORBIDDEN_BIT | h264.NRI_MASK)) | h264.FU_A
        kind = nal[0] & h264.TYPE_MASK
        return _fragments(nal[1:], max_payload - h264.FU_HEADER_SIZE, bytes([indicator]), kind)

    return _aggregate_or_single(nal_units, max_payload, stap_a, fragment)


def packetize_h265(nal_units: Sequence[bytes], max_payload: int) -> list[bytes]:
    """RFC 7798 payloads (without DONL: sprop-max-don-diff 0) for one access unit's NAL
    units, none longer than ``max_payload``."""
    header = h265.NAL_HEADER_SIZE
    _check(nal_units, header, max_payload, header + h265.FU_HEADER_SIZE)
    first = nal_units[0] if nal_units else b"\x00\x01"
    ap = bytes([(first[0] & 0x81) | h265.AGGREGATION_PACKET << h265.TYPE_SHIFT, first[1]])

    def fragment(nal: bytes) -> list[bytes]:
        payload_header = bytes(
            [(nal[0] & 0x81) | h265.FRAGMENTATION_UNIT << h265.TYPE_SHIFT, nal[1]]
        )
        room = max_payload - header - h265.FU_HEADER_SIZE
        return _fragments(nal[header:], room, payload_header, h265.nal_type(nal))

    return _aggregate_or_single(nal_units, max_payload, ap, fragment)


def _fragments(body: bytes, room: int, prefix: bytes, kind: int) -> list[bytes]:
    """FU payloads: ``prefix`` (FU indicator / payload header), FU header S E type, a piece.

    RFC 6184 §5.8 and RFC 7798 §4.4.3 place S and E at the same bits (0x80, 0x40).
    """
    # Only a NAL unit longer than a packet is fragmented, so there are always two or more.
    pieces = [body[i : i + room] for i in range(0, len(body), room)]
    out = []
    for index, piece in enumerate(pieces):
        fu = kind | (h264.FU_START if index == 0 else 0)
        fu |= h264.FU_END if index == len(pieces) - 1 else 0
        out.append(prefix + bytes([fu]) + piece)
    return out
