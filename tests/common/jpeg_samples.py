"""Helpers for the RFC 2435 tests: JPEG segments and tables, and delivering packets.

The pictures themselves come from tests/media_samples.py. The helpers that read JPEG
segments here are written independently of rtsp_common.jfif, so the tests do not check
the parser against itself.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from rtsp_common.jpeg import packetize, parse_jpeg
from rtsp_common.jpeg_depacketizer import Depacketizer


def segments(jpeg: bytes) -> list[tuple[int, bytes]]:
    """(marker, body) of every segment before the scan."""
    out = []
    pos = 2
    while pos < len(jpeg):
        marker = jpeg[pos + 1]
        (length,) = struct.unpack_from(">H", jpeg, pos + 2)
        out.append((marker, jpeg[pos + 4 : pos + 2 + length]))
        if marker == 0xDA:
            break
        pos += 2 + length
    return out


def dqt_tables(jpeg: bytes) -> dict[int, bytes]:
    """Quantization tables by id, as stored in the DQT segments (zig-zag order)."""
    tables = {}
    for marker, body in segments(jpeg):
        if marker != 0xDB:
            continue
        i = 0
        while i < len(body):
            size = 128 if body[i] >> 4 else 64
            tables[body[i] & 15] = body[i + 1 : i + 1 + size]
            i += 1 + size
    return tables


def dht_tables(jpeg: bytes) -> dict[tuple[int, int], tuple[bytes, bytes]]:
    """Huffman tables by (class, id) as (16 code counts, symbols)."""
    tables = {}
    for marker, body in segments(jpeg):
        if marker != 0xC4:
            continue
        i = 0
        while i < len(body):
            bits = body[i + 1 : i + 17]
            count = sum(bits)
            tables[(body[i] >> 4, body[i] & 15)] = (bits, body[i + 17 : i + 17 + count])
            i += 17 + count
    return tables


def marked(payloads: list[bytes]) -> list[tuple[bytes, bool]]:
    """Pair each payload of one frame with its RTP marker bit (set on the last)."""
    return [(p, i == len(payloads) - 1) for i, p in enumerate(payloads)]


def deliver(
    packets: Iterable[tuple[bytes, bool]],
    timestamp: int = 0,
    depacketizer: Depacketizer | None = None,
) -> list[bytes]:
    """Push (payload, marker) pairs of one frame in the given order; collect what comes out."""
    dep = depacketizer or Depacketizer()
    out = []
    for payload, marker in packets:
        result = dep.push(payload, timestamp, marker)
        if result is not None:
            out.append(result)
    return out


def round_trip(jpeg: bytes, max_payload: int = 1400) -> bytes:
    """depacketize(packetize(jpeg)) in order; fails unless exactly one frame comes out."""
    frames = deliver(marked(packetize(jpeg, max_payload)))
    assert len(frames) == 1, f"expected one frame, got {len(frames)}"
    return frames[0]


def payloads_with_q(jpeg: bytes, q: int, tables: bytes | None, chunk: int = 500) -> list[bytes]:
    """RFC 2435 payloads of one JPEG written here by hand with a chosen Q: 1-99 (Appendix A
    tables), 128-254 (``tables`` in band, or none: cached from an earlier frame) or 255."""
    frame = parse_jpeg(jpeg)
    scan = bytes(frame.scan)
    payloads = []
    for offset in range(0, len(scan), chunk):
        header = struct.pack(">IBBBB", offset, frame.type, q, frame.width // 8, frame.height // 8)
        if q >= 128 and offset == 0:
            data = tables or b""
            header += struct.pack(">BBH", 0, frame.precision, len(data)) + data
        payloads.append(header + scan[offset : offset + chunk])
    return payloads
