"""What an H.264/H.265 RTP payload holds once read: whole NAL units and fragments of one.

The RFC 6184 and RFC 7798 readers (``rtsp_common.h264``, ``rtsp_common.h265``) both turn a
payload into these, and ``rtsp_common.access_units`` builds access units from them.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Protocol

from rtsp_common.errors import ParseError

logger = logging.getLogger(__name__)

NAL_SIZE_BYTES = 2  # RFC 6184 §5.7.1 / RFC 7798 §4.4.2: 16-bit NAL unit size in aggregates


@dataclass(frozen=True, slots=True)
class NalFragment:
    """One fragmentation unit: a piece of a NAL unit whose header it rebuilds."""

    nal_header: bytes  # the fragmented NAL unit's own header, rebuilt from the FU's
    data: bytes
    start: bool  # S bit: the first piece
    end: bool  # E bit: the last piece


NalPiece = bytes | NalFragment


class PayloadReader(Protocol):
    """Reads one RTP payload of a NAL-unit format into whole NAL units and fragments."""

    codec: str  # "H264" or "H265"

    def read(self, payload: bytes | bytearray | memoryview) -> list[NalPiece]:
        """The payload's pieces in order; ParseError when it breaks the payload format."""
        ...  # pragma: no cover


def decode_parameter_sets(text: str, parameter: str) -> list[bytes]:
    """Comma-separated base64 NAL units of an SDP fmtp parameter (RFC 6184 §8.1,
    RFC 7798 §7.1); an entry that is not base64 is skipped with a warning, since the stream
    may still carry the parameter sets in band."""
    units: list[bytes] = []
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            units.append(base64.b64decode(entry + "=" * (-len(entry) % 4), validate=True))
        except (binascii.Error, ValueError):
            logger.warning("ignoring %s entry %r: not base64", parameter, entry[:40])
    return [unit for unit in units if unit]


def aggregated_units(
    body: memoryview, offset: int, codec: str, skip_between: int = 0
) -> list[bytes]:
    """NAL units of an aggregation packet body from ``offset``: each a 16-bit size and the
    unit, ``skip_between`` bytes (RFC 7798's DOND) before every size but the first."""
    units: list[bytes] = []
    while offset < len(body):
        if units:
            offset += skip_between
        if offset + NAL_SIZE_BYTES > len(body):
            raise ParseError(f"{codec} aggregation packet cut inside a NAL unit size field")
        size = int.from_bytes(body[offset : offset + NAL_SIZE_BYTES], "big")
        offset += NAL_SIZE_BYTES
        if size == 0 or offset + size > len(body):
            raise ParseError(
                f"{codec} aggregation packet names a {size}-byte NAL unit where "
                f"{len(body) - offset} bytes remain"
            )
        units.append(bytes(body[offset : offset + size]))
        offset += size
    if not units:
        raise ParseError(f"{codec} aggregation packet holds no NAL unit")
    return units
