"""analysis.layers: RFC 2435, RTP, RTCP and interleaved frames, field by field."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.rtp import RTP as ScapyRTP
from scapy.packet import Padding, Raw
from scapy.utils import rdpcap

from analysis.craft.session_builder import Lower, SessionBuilder
from analysis.layers import (
    JPEG,
    RTCP,
    RTP,
    UDP,
    JPEGQuantizationTable,
    JPEGRestartMarker,
    ReceptionReport,
    RTPHeaderExtension,
    RTSPInterleaved,
    RTSPOverTCP,
    RTSPResponse,
    SDESChunk,
    SDESItem,
    SenderInfo,
    WholeJPEG,
    decode_negotiated_flows,
    find_negotiated_flows,
)


def _rtp_header(
    pt: int = 26,
    marker: int = 1,
    seq: int = 7,
    ts: int = 9000,
    ssrc: int = 0xDEADBEEF,
    first: int = 0x80,
) -> bytes:
    return struct.pack("!BBHII", first, (marker << 7) | pt, seq, ts, ssrc)


def test_rtp_jpeg_main_and_qtable_headers_field_by_field():
    qt = bytes(range(128))
    raw = (
        _rtp_header()
        + bytes([0, 0, 0, 0, 1, 255, 80, 60])
        + bytes([0, 0])
        + struct.pack("!H", 128)
        + qt
        + b"\x12\x34scan"
    )
    pkt = RTP(raw)
    assert (pkt.version, pkt.marker, pkt.payload_type) == (2, 1, 26)
    assert (pkt.sequence, pkt.timestamp, pkt.sourcesync) == (7, 9000, 0xDEADBEEF)
    jpeg = pkt[JPEG]
    assert (jpeg.type_specific, jpeg.offset, jpeg.type, jpeg.q) == (0, 0, 1, 255)
    assert (jpeg.width, jpeg.height) == (80, 60)
    assert (jpeg.width_pixels, jpeg.height_pixels) == (640, 480)
    table = pkt[JPEGQuantizationTable]
    assert (table.mbz, int(table.precision), table.length, table.tables) == (0, 0, 128, qt)
    assert pkt[Raw].load == b"\x12\x34scan"


def test_width_shown_in_pixels():
    shown = JPEG(width=80, height=60).show(dump=True)
    assert "80 (640 px)" in shown and "60 (480 px)" in shown


def test_scapy_own_rtp_class_also_shows_jpeg():
    raw = _rtp_header() + bytes([0, 0, 5, 0, 1, 50, 80, 60]) + b"data"
    pkt = ScapyRTP(raw)
    assert pkt[JPEG].offset == 0x500 and pkt[JPEG].q == 50


def test_fragment_with_offset_has_no_qtable_header():
    raw = _rtp_header() + bytes([0, 0x01, 0x02, 0x03, 1, 255, 80, 60]) + b"more scan"
    pkt = RTP(raw)
    assert pkt[JPEG].offset == 0x010203
    assert JPEGQuantizationTable not in pkt
    assert pkt[Raw].load == b"more scan"


def test_low_q_has_no_qtable_header():
    pkt = RTP(_rtp_header() + bytes([0, 0, 0, 0, 1, 75, 80, 60]) + b"scan")
    assert JPEGQuantizationTable not in pkt and pkt[Raw].load == b"scan"


def test_restart_marker_header_for_types_64_to_127_then_qtable():
    raw = (
        _rtp_header()
        + bytes([0, 0, 0, 0, 65, 255, 40, 30])
        + struct.pack("!HH", 4, 0xC000 | 0x3FFF)
        + bytes([0, 1])
        + struct.pack("!H", 3)
        + b"abc"
        + b"scan"
    )
    pkt = RTP(raw)
    rst = pkt[JPEGRestartMarker]
    assert (rst.restart_interval, rst.first, rst.last, rst.restart_count) == (4, 1, 1, 0x3FFF)
    qt = pkt[JPEGQuantizationTable]
    assert (int(qt.precision), qt.length, qt.tables) == (1, 3, b"abc")
    assert pkt[Raw].load == b"scan"


def test_restart_marker_without_qtable_on_later_fragment():
    raw = (
        _rtp_header()
        + bytes([0, 0, 0, 100, 64, 255, 40, 30])
        + struct.pack("!HH", 8, 0x8005)
        + b"scan"
    )
    pkt = RTP(raw)
    rst = pkt[JPEGRestartMarker]
    assert (rst.first, rst.last, rst.restart_count) == (1, 0, 5)
    assert JPEGQuantizationTable not in pkt and pkt[Raw].load == b"scan"


def test_qtable_length_beyond_packet_keeps_what_is_there():
    raw = (
        _rtp_header()
        + bytes([0, 0, 0, 0, 1, 255, 80, 60, 0, 0])
        + struct.pack("!H", 4000)
        + b"x" * 10
    )
    pkt = RTP(raw)
    assert pkt[JPEGQuantizationTable].length == 4000
    assert pkt[JPEGQuantizationTable].tables == b"x" * 10


def test_rtp_padding_split_off_payload():
    body = bytes([0, 0, 0, 8, 1, 10, 80, 60]) + b"scan" + b"\x00\x00\x03"
    pkt = RTP(_rtp_header(first=0xA0) + body)
    assert pkt.padding == 1
    assert pkt[Raw].load == b"scan"
    assert pkt[Padding].load == b"\x00\x00\x03"


def test_rtp_padding_count_beyond_payload_kept_as_payload():
    body = bytes([0, 0, 0, 8, 1, 10, 80, 60]) + b"ab\xff"
    pkt = RTP(_rtp_header(first=0xA0) + body)
    assert Padding not in pkt
    assert pkt[Raw].load == b"ab\xff"


def test_build_then_dissect_round_trip():
    built = (
        RTP(payload_type=26, sequence=65535, timestamp=2**32 - 1, sourcesync=1, marker=1)
        / JPEG(type=65, q=200, width=255, height=1)
        / JPEGRestartMarker(restart_interval=2, first=0, last=1, restart_count=9)
        / JPEGQuantizationTable(precision=3, tables=bytes(256))
        / Raw(b"scan")
    )
    raw = bytes(built)
    again = RTP(raw)
    assert bytes(again) == raw
    assert again[JPEG].width_pixels == 2040
    assert again[JPEGQuantizationTable].length == 256
    assert again[JPEGRestartMarker].restart_count == 9


def test_rtcp_compound_split_and_read():
    sr = RTCP(
        packet_type=200,
        count=1,
        sourcesync=0x11,
        sender_info=SenderInfo(
            ntp_timestamp=5, rtp_timestamp=6, sender_packet_count=7, sender_octet_count=8
        ),
        report_blocks=[
            ReceptionReport(
                sourcesync=0x22,
                fraction_lost=1,
                cumulative_lost=2,
                highest_seqnum_recv=3,
                interarrival_jitter=4,
                last_SR_timestamp=5,
                delay_since_last_SR=6,
            )
        ],
    )
    bye = RTCP(packet_type=203, count=2, bye_sources=[0x11, 0x33])
    app = RTCP(packet_type=204, count=0, app_source=0x44, app_name=b"TEST", trailer=b"data")
    raw = bytes(sr / bye / app)
    # Each length field counts its own packet only (RFC 3550 §6.4.1).
    assert struct.unpack_from("!H", raw, 2)[0] == (28 + 24) // 4 - 1
    first = RTCP(raw)
    packets = [first, first.payload, first.payload.payload]
    assert [p.packet_type for p in packets] == [200, 203, 204]
    assert first.sender_info.sender_octet_count == 8
    assert first.report_blocks[0].highest_seqnum_recv == 3
    assert packets[1].bye_sources == [0x11, 0x33]
    assert (packets[2].app_source, packets[2].app_name, packets[2].trailer) == (
        0x44,
        b"TEST",
        b"data",
    )


def test_interleaved_frames_rtp_even_rtcp_odd_then_message():
    rtp = RTP(payload_type=26, sequence=3) / JPEG(q=20) / b"x"
    rtcp = RTCP(packet_type=201, sourcesync=9)
    data = (
        bytes(RTSPInterleaved(channel=2) / rtp)
        + bytes(RTSPInterleaved(channel=3) / rtcp)
        + b"RTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n"
    )
    pkt = RTSPOverTCP(data)
    assert isinstance(pkt, RTSPInterleaved)
    assert (pkt.channel, pkt.length) == (2, len(bytes(rtp)))
    assert pkt[RTP].sequence == 3 and pkt[JPEG].q == 20
    second = pkt.getlayer(RTSPInterleaved, 2)
    assert second.channel == 3 and second[RTCP].packet_type == 201
    assert second[RTSPResponse].Status_Code == b"200"


def test_interleaved_length_beyond_data_does_not_crash():
    pkt = RTSPOverTCP(b"$\x00\xff\xff" + bytes(_rtp_header()) + b"abc")
    assert pkt.length == 0xFFFF and pkt[RTP].sequence == 7


def test_negotiated_flows_from_setup_reply(tmp_path):
    builder = SessionBuilder(rtsp_port=7554, client_rtp_port=5100, server_rtp_port=6100)
    builder.start()
    builder.frames(2)
    builder.sender_report()
    builder.udp_noise(sport=5200, dport=5300)
    path = builder.write(tmp_path / "s.pcap")
    packets = rdpcap(str(path))
    flows = [f for f in find_negotiated_flows(packets) if f.server_ports]
    assert flows and flows[0].client_ports == (5100, 5101)
    assert flows[0].server_ports == (6100, 6101) and flows[0].rtsp_port == 7554
    decoded = decode_negotiated_flows(packets)
    rtp = [p for p in decoded if RTP in p]
    rtcp = [p for p in decoded if RTCP in p]
    assert len(rtp) == 2 and all(p[JPEG].width_pixels == 64 for p in rtp)
    assert len(rtcp) == 1 and rtcp[0][RTCP].packet_type == 200
    noise = [p for p in decoded if UDP in p and p[UDP].sport == 5200]
    assert RTP not in noise[0] and RTCP not in noise[0]


def test_interleaved_session_decodes_without_udp(tmp_path):
    builder = SessionBuilder(lower=Lower.TCP)
    builder.start()
    builder.frames(2)
    packets = rdpcap(str(builder.write(tmp_path / "t.pcap")))
    frames = [p for p in packets if RTSPInterleaved in p]
    assert len(frames) == 2 and all(p[JPEG].height_pixels == 48 for p in frames)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_arbitrary_bytes_after_rtp_header_never_crash(tail):
    pkt = RTP(_rtp_header() + tail)
    assert pkt.payload_type == 26
    bytes(pkt)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=4, max_size=120))
def test_arbitrary_rtcp_and_interleaved_never_crash(data):
    RTCP(data).summary()
    RTSPOverTCP(b"$" + data).summary()


@pytest.mark.parametrize(
    "q, offset, expected", [(255, 0, True), (128, 0, True), (127, 0, False), (255, 1, False)]
)
def test_qtable_presence_rule(q, offset, expected):
    raw = _rtp_header() + bytes([0]) + offset.to_bytes(3, "big") + bytes([1, q, 1, 1]) + bytes(8)
    assert (JPEGQuantizationTable in RTP(raw)) is expected


def test_header_extension_then_jpeg():
    raw = (
        _rtp_header(first=0x90)
        + struct.pack("!HH", 0xBEDE, 1)
        + b"\x01\x02\x03\x04"
        + bytes([0, 0, 0, 9, 1, 60, 80, 60])
        + b"scan"
    )
    pkt = RTP(raw)
    assert pkt[RTPHeaderExtension].header_len == 1
    assert pkt[RTPHeaderExtension].header == [0x01020304]
    assert pkt[JPEG].offset == 9 and pkt[Raw].load == b"scan"


def test_star_import_gives_the_shell_names():
    namespace: dict = {}
    exec("from analysis.layers import *", namespace)
    for name in (
        "RTP",
        "RTCP",
        "JPEG",
        "JPEGRestartMarker",
        "JPEGQuantizationTable",
        "RTSPInterleaved",
        "RTSP",
        "decode_negotiated_flows",
        "Ether",
        "UDP",
    ):
        assert name in namespace, name
    shown = namespace["RTP"](_rtp_header() + bytes([0, 0, 0, 0, 1, 20, 80, 60])).show(dump=True)
    assert "RFC 2435 JPEG" in shown and "80 (640 px)" in shown


def test_lab_whole_jpeg_payload_is_not_read_as_rfc2435():
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20) + b"\xff\xd9"
    pkt = RTP(_rtp_header(marker=0, ssrc=0) + jpeg)
    assert JPEG not in pkt
    assert pkt[WholeJPEG].jpeg == jpeg
    assert "no RFC 2435 header" in pkt.summary()


def test_interleaved_payload_kind_when_parity_is_not_enough():
    sr = bytes(RTCP(packet_type=200, sourcesync=1))
    # RTCP on an even channel (rtcp-mux style) is still RTCP.
    assert RTSPInterleaved(bytes(RTSPInterleaved(channel=0) / sr)).haslayer(RTCP)
    # Not version 2: left raw, not forced into RTP.
    pkt = RTSPInterleaved(b"$\x00\x00\x05hello")
    assert RTP not in pkt and pkt[Raw].load == b"hello"


def test_sdes_chunks_end_and_pad_to_32_bits():
    # Two chunks: END lands on different offsets, so the padding differs (RFC 3550 §6.5).
    raw = (
        bytes.fromhex("82ca0008")
        + struct.pack("!I", 1)
        + b"\x01\x02ab\x00\x00\x00\x00"
        + struct.pack("!I", 2)
        + b"\x01\x06abcdef\x06\x04tool\x00\x00"
    )
    pkt = RTCP(raw)
    first, second = pkt.sdes_chunks
    assert first.sourcesync == 1 and [i.chunk_type for i in first.items] == [1, 0]
    assert first.items[0].value == b"ab" and first.pad == b"\x00\x00\x00"
    assert second.sourcesync == 2 and [i.value for i in second.items[:2]] == [b"abcdef", b"tool"]
    assert pkt.trailer == b"" and bytes(pkt) == raw
    # Built without END or padding, a chunk adds both; long values keep an unsigned length.
    built = bytes(
        RTCP(
            packet_type=202,
            count=1,
            sdes_chunks=[SDESChunk(sourcesync=9, items=[SDESItem(chunk_type=1, value=b"x" * 200)])],
        )
    )
    assert len(built) % 4 == 0
    again = RTCP(built).sdes_chunks[0]
    assert again.items[0].length == 200 and again.items[-1].chunk_type == 0


def test_lab_session_decodes_from_the_request_transport(tmp_path):
    # The lab's server answers SETUP without a Transport header: the request's one is used.
    b = SessionBuilder(client_rtp_port=25000, server_rtp_port=6000)
    b.handshake()
    b.request(
        "SETUP", [("Transport", "RTP/UDP; client_port= 25000")], uri="movie.Mjpeg", line_end="\n"
    )
    b.server_bytes(b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456")
    b.lab_frames(2)
    packets = rdpcap(str(b.write(tmp_path / "lab.pcap")))
    (flow,) = find_negotiated_flows(packets)
    assert flow.client_ports == (25000, 25001) and flow.server_ports is None
    rtp = [p for p in decode_negotiated_flows(packets) if RTP in p]
    assert [p[RTP].sequence for p in rtp] == [1, 2]
    assert all(WholeJPEG in p and JPEG not in p for p in rtp)
