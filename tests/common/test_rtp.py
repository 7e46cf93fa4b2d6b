"""RTP packets (RFC 3550 §5.1): round trips, hostile input, wrap-around arithmetic."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtsp_common.errors import ParseError
from rtsp_common.rtp import (
    RTP_HEADER_SIZE,
    SEQ_MOD,
    TS_MOD,
    RTPPacket,
    pack_header,
    seq_add,
    seq_diff,
    ts_add,
    ts_diff,
)

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)

packets = st.builds(
    RTPPacket,
    payload_type=st.integers(0, 127),
    sequence=u16,
    timestamp=u32,
    ssrc=u32,
    marker=st.booleans(),
    payload=st.binary(max_size=64),
    csrcs=st.lists(u32, max_size=15).map(tuple),
    extension=st.none()
    | st.tuples(
        u16, st.integers(0, 8).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))
    ),
    padding=st.integers(0, 255),
)


@given(packets)
def test_round_trip(packet):
    assert RTPPacket.parse(packet.to_bytes()) == packet


@given(packets)
def test_parse_accepts_memoryview(packet):
    assert RTPPacket.parse(memoryview(packet.to_bytes())) == packet


@given(st.integers(0, 127), u16, u32, u32, st.booleans())
def test_pack_header_matches_full_serializer(pt, seq, ts, ssrc, marker):
    header = pack_header(pt, seq, ts, ssrc, marker)
    assert len(header) == RTP_HEADER_SIZE
    assert header == RTPPacket(pt, seq, ts, ssrc, marker).to_bytes()


def test_pack_header_known_bytes():
    # V=2, M=1, PT=26 (JPEG), seq 0x1234, ts 0x01020304, ssrc 0xDEADBEEF
    assert pack_header(26, 0x1234, 0x01020304, 0xDEADBEEF, True) == bytes.fromhex(
        "809a123401020304deadbeef"
    )


def test_pack_header_wraps_sequence_and_timestamp():
    header = pack_header(26, SEQ_MOD + 5, TS_MOD + 7, 1, False)
    packet = RTPPacket.parse(header)
    assert (packet.sequence, packet.timestamp) == (5, 7)


@given(st.binary(max_size=80))
def test_arbitrary_bytes_raise_only_parse_error(data):
    try:
        packet = RTPPacket.parse(data)
    except ParseError:
        return
    # What parses re-serializes to the same packet; the bytes match unless padding
    # (whose filler content is not kept) was present.
    assert RTPPacket.parse(packet.to_bytes()) == packet
    if not packet.padding:
        assert packet.to_bytes() == data


def _header(first: int, rest: bytes = b"") -> bytes:
    return bytes((first, 26)) + struct.pack("!HII", 1, 2, 3) + rest


@pytest.mark.parametrize(
    "data, words",
    [
        (b"\x80\x1a\x00", "truncated"),
        (bytes([0x40]) + bytes(11), "version 1"),
        (bytes([0xC0]) + bytes(11), "version 3"),
        (_header(0x83, bytes(8)), "CSRC count 3"),
        (_header(0x90, b"\x00\x01"), "extension header"),
        (_header(0x90, b"\xbe\xde\x00\x02" + bytes(4)), "extension length 2"),
        (_header(0xA0, b"abc\x00"), "padding count is 0"),
        (_header(0xA0, b"abc\x09"), "padding count 9"),
        (_header(0xA0), "no payload"),
    ],
)
def test_invalid_packets_say_what_is_wrong(data, words):
    with pytest.raises(ParseError, match=words):
        RTPPacket.parse(data)


def test_padding_is_stripped_from_payload():
    packet = RTPPacket.parse(_header(0xA0, b"data\x00\x00\x03"))
    assert packet.payload == b"data" and packet.padding == 3


@pytest.mark.parametrize(
    "field, value",
    [
        ("payload_type", 128),
        ("sequence", SEQ_MOD),
        ("timestamp", -1),
        ("ssrc", TS_MOD),
        ("padding", 256),
    ],
)
def test_serializer_rejects_out_of_range_fields(field, value):
    fields = dict(payload_type=26, sequence=0, timestamp=0, ssrc=0)
    fields[field] = value
    with pytest.raises(ValueError, match=field.split("_")[0].replace("ssrc", "SSRC")):
        RTPPacket(**fields).to_bytes()


def test_serializer_rejects_bad_extension_and_csrcs():
    with pytest.raises(ValueError, match="multiple of 4"):
        RTPPacket(26, 0, 0, 0, extension=(1, b"abc")).to_bytes()
    with pytest.raises(ValueError, match="16 CSRCs"):
        RTPPacket(26, 0, 0, 0, csrcs=tuple(range(16))).to_bytes()


def test_sequence_wrap_around():
    assert seq_diff(0, 0xFFFF) == 1
    assert seq_diff(0xFFFF, 0) == -1
    assert seq_diff(5, 5) == 0
    assert seq_diff(0x8000 + 10, 10) == -32768
    assert seq_add(0xFFFF, 1) == 0
    assert seq_add(3, -5) == 0xFFFE


def test_timestamp_wrap_around():
    assert ts_diff(10, TS_MOD - 80) == 90
    assert ts_diff(TS_MOD - 80, 10) == -90
    assert ts_add(TS_MOD - 1, 3600) == 3599


@given(u16, st.integers(-32768, 32767))
def test_seq_add_and_diff_are_inverse(seq, n):
    assert seq_diff(seq_add(seq, n), seq) == n
    assert 0 <= seq_add(seq, n) < SEQ_MOD


@given(u32, st.integers(-(2**31), 2**31 - 1))
def test_ts_add_and_diff_are_inverse(ts, n):
    assert ts_diff(ts_add(ts, n), ts) == n
    assert 0 <= ts_add(ts, n) < TS_MOD
