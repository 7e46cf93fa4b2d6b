"""RTCP (RFC 3550 §6): every packet type and compound packets, round trips, hostile input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtsp_common.errors import ParseError
from rtsp_common.rtcp import (
    Bye,
    PacketType,
    ReceiverReport,
    ReportBlock,
    SDESItem,
    SenderReport,
    SourceDescription,
    UnknownRTCP,
    build_compound,
    compound_problems,
    ntp_from_unix,
    ntp_middle32,
    parse_compound,
    unix_from_ntp,
)

u32 = st.integers(0, 0xFFFFFFFF)

blocks = st.builds(
    ReportBlock,
    ssrc=u32,
    fraction_lost=st.integers(0, 255),
    cumulative_lost=st.integers(-(2**23), 2**23 - 1),
    highest_seq=u32,
    jitter=u32,
    lsr=u32,
    dlsr=u32,
)
block_lists = st.lists(blocks, max_size=31).map(tuple)
sender_reports = st.builds(
    SenderReport,
    ssrc=u32,
    ntp_timestamp=st.integers(0, 2**64 - 1),
    rtp_timestamp=u32,
    packet_count=u32,
    octet_count=u32,
    reports=block_lists,
)
receiver_reports = st.builds(ReceiverReport, ssrc=u32, reports=block_lists)
items = st.tuples(st.integers(1, 255), st.binary(max_size=255))
chunks = st.tuples(u32, st.lists(items, max_size=4).map(tuple))
sdes = st.builds(SourceDescription, chunks=st.lists(chunks, max_size=31).map(tuple))
reasons = st.none() | st.text(max_size=60)
byes = st.builds(Bye, ssrcs=st.lists(u32, max_size=31).map(tuple), reason=reasons)
unknowns = st.builds(
    UnknownRTCP,
    packet_type=st.sampled_from([PacketType.APP.value, 205, 206, 207, 0, 255]),
    count=st.integers(0, 31),
    body=st.binary(max_size=40),
)
any_packet = st.one_of(sender_reports, receiver_reports, sdes, byes, unknowns)


@pytest.mark.parametrize("strategy", [sender_reports, receiver_reports, sdes, byes, unknowns])
def test_each_packet_type_round_trips(strategy):
    @given(strategy)
    def check(packet):
        data = packet.to_bytes()
        assert len(data) % 4 == 0
        assert parse_compound(data) == [packet]

    check()


@given(st.lists(any_packet, min_size=1, max_size=6))
def test_compound_round_trip(packets):
    assert parse_compound(build_compound(packets)) == packets


@given(st.binary(max_size=120))
def test_arbitrary_bytes_raise_only_parse_error(data):
    try:
        packets = parse_compound(data)
    except ParseError:
        return
    assert parse_compound(build_compound(packets)) == packets


def test_sender_report_known_bytes():
    sr = SenderReport(0x11223344, 0x0102030405060708, 90000, 10, 1000)
    assert sr.to_bytes() == bytes.fromhex(
        "80c80006 11223344 0102030405060708 00015f90 0000000a 000003e8"
    )


def test_receiver_report_with_block_known_bytes():
    block = ReportBlock(0xAABBCCDD, 64, -1, 0x0001FFFF, 20, 0x12345678, 65536)
    rr = ReceiverReport(1, (block,))
    data = rr.to_bytes()
    assert data[:4] == bytes.fromhex("81c90007")
    assert data[8:12] == bytes.fromhex("aabbccdd")
    assert data[12:16] == bytes.fromhex("40ffffff")  # fraction 64, cumulative -1 (signed 24)
    assert parse_compound(data) == [rr]


def test_sdes_cname_chunk_padded_to_word():
    packet = SourceDescription.cname(0x01020304, "u@h")
    data = packet.to_bytes()
    # header(4) + ssrc(4) + type,len,"u@h"(5) + null + pad to 16
    assert data == bytes.fromhex("81ca0003 01020304") + b"\x01\x03u@h\x00\x00\x00"
    assert parse_compound(data)[0].cnames() == {0x01020304: "u@h"}


def test_sdes_other_items_kept():
    packet = SourceDescription(
        ((7, ((SDESItem.NAME, b"cam"), (SDESItem.TOOL, b"rtsp-workbench"))),)
    )
    [parsed] = parse_compound(packet.to_bytes())
    assert parsed.chunks[0][1][1] == (SDESItem.TOOL, b"rtsp-workbench")
    assert parsed.cnames() == {}


def test_bye_reason_and_without():
    assert parse_compound(Bye((1, 2), "teardown").to_bytes()) == [Bye((1, 2), "teardown")]
    assert Bye((1,)).to_bytes() == bytes.fromhex("81cb0001 00000001")


def test_bye_reason_that_is_not_utf8_is_written_back_byte_for_byte():
    # Found by fuzzing: replacement characters made a 200-byte reason 600 bytes long.
    reason = bytes(range(128, 256)) + b"\xff" * 72
    wire = bytes.fromhex("81cb0034 00000001") + bytes((len(reason),)) + reason + b"\0\0\0"
    [bye] = parse_compound(wire)
    assert bye.to_bytes() == wire


def test_app_packet_kept_as_unknown():
    app = bytes.fromhex("81cc0003 00000001") + b"NAME" + b"data"
    [packet] = parse_compound(app)
    assert packet == UnknownRTCP(PacketType.APP, 1, bytes.fromhex("00000001") + b"NAMEdata")
    assert packet.to_bytes() == app


def test_typical_compound_sr_sdes_bye():
    compound = build_compound(
        [
            SenderReport(5, ntp_from_unix(1_700_000_000.5), 1234, 3, 300),
            SourceDescription.cname(5, "server@example"),
            Bye((5,), "end of stream"),
        ]
    )
    sr, sd, bye = parse_compound(compound)
    assert isinstance(sr, SenderReport) and sr.packet_count == 3
    assert sd.cnames() == {5: "server@example"}
    assert bye.reason == "end of stream"


def test_padding_on_last_packet_is_removed():
    body = struct.pack("!I", 9) + b"\x00\x00\x00\x04"
    data = bytes((0xA0, PacketType.RR, 0, 2)) + body
    assert parse_compound(data) == [ReceiverReport(9)]


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"\x80\xc9", "header truncated"),
        (bytes.fromhex("40c90001 00000001"), "version 1"),
        (bytes.fromhex("80c90005 00000001"), "past the datagram end"),
        (bytes.fromhex("81c90001 00000001"), "1 report blocks"),
        (bytes.fromhex("80c80001 00000001"), "sender info needs 24"),
        (bytes.fromhex("80c90000"), "RR too short"),
        (bytes.fromhex("a0c90001 00000000"), "padding count 0"),
        (bytes.fromhex("a0c90001 00000009"), "padding count 9"),
        (bytes.fromhex("81ca0001 00000001"), "no terminating null"),
        (bytes.fromhex("81ca0002 00000001 0109 6162"), "runs past the packet"),
        (bytes.fromhex("82cb0001 00000001"), "announces 2 sources"),
        (bytes.fromhex("81cb0002 00000001 09616263"), "reason of 9 bytes"),
    ],
)
def test_bad_packets_say_what_is_wrong(data, words):
    with pytest.raises(ParseError, match=words):
        parse_compound(data)


def test_serializers_reject_fields_that_do_not_fit():
    with pytest.raises(ValueError, match="signed 24"):
        ReportBlock(1, 0, 2**23, 0, 0, 0, 0).to_bytes()
    with pytest.raises(ValueError, match="0..31"):
        ReceiverReport(1, (ReportBlock(1, 0, 0, 0, 0, 0, 0),) * 32).to_bytes()
    with pytest.raises(ValueError, match="at most 255"):
        Bye((1,), "x" * 256).to_bytes()
    with pytest.raises(ValueError, match="at most 255"):
        SourceDescription(((1, ((SDESItem.NOTE, bytes(256)),)),)).to_bytes()


def test_ntp_helpers():
    ntp = ntp_from_unix(0.0)
    assert ntp == 2_208_988_800 << 32
    assert ntp_from_unix(1.5) - ntp == (1 << 32) + (1 << 31)
    assert unix_from_ntp(ntp_from_unix(1_700_000_000.25)) == pytest.approx(
        1_700_000_000.25, abs=1e-6
    )
    assert ntp_middle32(0x0102030405060708) == 0x03040506


def test_compound_problems_per_rfc3550_section_6_1():
    good = [ReceiverReport(1), SourceDescription.cname(1, "c@h")]
    assert compound_problems(good) == []
    assert compound_problems(parse_compound(build_compound(good))) == []
    bye_only = compound_problems([Bye((1,))])
    assert len(bye_only) == 2
    assert "starts with Bye" in bye_only[0] and "no SDES CNAME" in bye_only[1]
    assert compound_problems([SenderReport(1, 0, 0, 0, 0)]) == [
        "compound RTCP carries no SDES CNAME (RFC 3550 §6.1)"
    ]
    assert "starts with nothing" in compound_problems([])[0]
