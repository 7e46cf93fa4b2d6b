"""RFC 2435 round trips on real JPEGs: depacketize(packetize(jpeg)) decodes to the same pixels."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jpeg_samples import dht_tables, dqt_tables, round_trip, segments
from media_samples import SUB_420, SUB_422, make_jpeg, pixels

from rtsp_common.jpeg import (
    JPEGFrame,
    build_jpeg,
    packetize,
    parse_jpeg,
    parse_payload,
    quant_tables,
)
from rtsp_common.jpeg_tables import STANDARD_HUFFMAN

ROUND_TRIP_CASES = [
    # width, height, Pillow options, expected RFC 2435 type
    (16, 16, {"subsampling": SUB_420}, 1),
    (16, 16, {"subsampling": SUB_422}, 0),
    (8, 8, {"subsampling": SUB_420}, 1),
    (48, 40, {"subsampling": SUB_420}, 1),  # height a multiple of 8, not of the 16-pixel MCU
    (40, 24, {"subsampling": SUB_422, "quality": 90}, 0),
    (640, 480, {"subsampling": SUB_420, "quality": 75}, 1),
    (640, 480, {"subsampling": SUB_422, "quality": 30}, 0),
    (2040, 16, {"subsampling": SUB_420, "quality": 60}, 1),
    (16, 2040, {"subsampling": SUB_422}, 0),
    (96, 64, {"subsampling": SUB_420, "quality": 100}, 1),
    (96, 64, {"subsampling": SUB_420, "quality": 1}, 1),
    (96, 64, {"subsampling": SUB_420, "restart_marker_rows": 1}, 65),
    (96, 64, {"subsampling": SUB_422, "restart_marker_blocks": 3}, 64),
    (320, 240, {"subsampling": SUB_420, "restart_marker_blocks": 1, "quality": 95}, 65),
]


@pytest.mark.parametrize(("width", "height", "options", "rtp_type"), ROUND_TRIP_CASES)
def test_round_trip_gives_identical_pixels(width, height, options, rtp_type):
    source = make_jpeg(width, height, **options)
    frame = parse_jpeg(source)
    assert (frame.width, frame.height, frame.type) == (width, height, rtp_type)
    rebuilt = round_trip(source, max_payload=1000)
    assert pixels(rebuilt) == pixels(source)


@pytest.mark.parametrize("mtu_payload", [150, 400, 1400, 9000, 65000])
def test_round_trip_at_several_payload_sizes(mtu_payload):
    source = make_jpeg(320, 240, quality=85)
    assert pixels(round_trip(source, mtu_payload)) == pixels(source)


def test_sixteen_bit_tables_round_trip():
    # Values over 255 force 16-bit DQT entries (and SOF1) in Pillow's encoder.
    luma = [300 if i > 10 else 4 for i in range(64)]
    chroma = [2] * 64
    source = make_jpeg(64, 48, qtables=[luma, chroma])
    assert any(m == 0xC1 for m, _ in segments(source)), "expected Pillow to write SOF1"
    frame = parse_jpeg(source)
    assert frame.precision == 0b01
    assert len(frame.qtables[0]) == 128 and len(frame.qtables[1]) == 64
    rebuilt = round_trip(source)
    assert dqt_tables(rebuilt)[0] == dqt_tables(source)[0]
    assert pixels(rebuilt) == pixels(source)


def test_one_table_for_all_components_is_sent_twice():
    source = make_jpeg(32, 32, qtables=[[3] * 64])
    frame = parse_jpeg(source)
    assert frame.qtables == (bytes([3] * 64), bytes([3] * 64))
    assert pixels(round_trip(source)) == pixels(source)


def test_parse_reads_tables_scan_and_restart_interval():
    source = make_jpeg(96, 64, quality=50, restart_marker_blocks=2)
    frame = parse_jpeg(source)
    assert frame.restart_interval == 2
    assert frame.qtables == (dqt_tables(source)[0], dqt_tables(source)[1])
    assert frame.precision == 0
    sos = source.index(b"\xff\xda")
    sos_end = sos + 2 + struct.unpack_from(">H", source, sos + 2)[0]
    assert bytes(frame.scan) == source[sos_end:-2]
    assert b"\xff\xd0" in bytes(frame.scan)  # RST markers stay in the scan


def test_packets_carry_the_rfc2435_headers():
    source = make_jpeg(320, 240, quality=80, restart_marker_rows=1)
    frame = parse_jpeg(source)
    payloads = packetize(source, 600)
    assert len(payloads) > 3
    offset = 0
    for index, payload in enumerate(payloads):
        word, rtp_type, q, w8, h8 = struct.unpack_from(">IBBBB", payload)
        assert word >> 24 == 0  # type-specific
        assert word & 0xFFFFFF == offset
        assert (rtp_type, q, w8, h8) == (65, 255, 40, 30)
        interval, flags = struct.unpack_from(">HH", payload, 8)  # on every packet of type 65
        assert interval == frame.restart_interval
        assert flags == 0xFFFF  # F=1, L=1, count 0x3FFF
        pos = 12
        if index == 0:
            mbz, precision, length = struct.unpack_from(">BBH", payload, pos)
            assert (mbz, precision, length) == (0, 0, 128)
            assert payload[pos + 4 : pos + 4 + 128] == dqt_tables(source)[0] + dqt_tables(source)[1]
            pos += 4 + 128
        data = payload[pos:]
        assert data == bytes(frame.scan[offset : offset + len(data)])
        offset += len(data)
    assert offset == len(frame.scan)


def test_packetize_accepts_a_parsed_frame():
    source = make_jpeg(64, 64)
    assert packetize(parse_jpeg(source), 500) == packetize(source, 500)


def test_packetize_refuses_a_payload_too_small_for_the_headers():
    with pytest.raises(ValueError, match="too small"):
        packetize(make_jpeg(16, 16), 140)


@settings(max_examples=60, deadline=None)
@given(max_payload=st.integers(min_value=145, max_value=3000))
def test_every_payload_fits_and_offsets_are_contiguous(max_payload):
    source = _RESTART_JPEG
    payloads = packetize(source, max_payload)
    expected = 0
    for payload in payloads:
        assert len(payload) <= max_payload
        parsed = parse_payload(payload)
        assert parsed.header.offset == expected
        expected += len(parsed.data)
    assert expected == len(parse_jpeg(source).scan)
    assert pixels(round_trip(source, max_payload)) == _RESTART_PIXELS


_RESTART_JPEG = make_jpeg(160, 120, quality=70, restart_marker_blocks=4)
_RESTART_PIXELS = pixels(_RESTART_JPEG)


# --- Appendix A tables and the standard Huffman tables against Pillow (libjpeg) ---


def test_quant_tables_are_in_zigzag_order():
    luma, chroma = quant_tables(50)
    # Q=50 leaves Table K.1 unscaled; zig-zag walks 0,1,8,16,9,2,3,10 of the natural order.
    assert list(luma[:8]) == [16, 11, 12, 14, 12, 10, 16, 14]
    assert list(chroma[:6]) == [17, 18, 18, 24, 21, 24]


@pytest.mark.parametrize("q", range(1, 100))
def test_quant_tables_match_pillow_dqt(q):
    tables = dqt_tables(make_jpeg(16, 16, quality=q))
    assert quant_tables(q) == (tables[0], tables[1])


@pytest.mark.parametrize("q", [0, 100, 128, -1])
def test_quant_tables_reject_q_outside_1_to_99(q):
    with pytest.raises(ValueError):
        quant_tables(q)


def test_standard_huffman_tables_match_pillow():
    tables = dht_tables(make_jpeg(16, 16))
    assert tables == dict(STANDARD_HUFFMAN)


def test_rebuilt_jpeg_from_q50_tables_matches_pillow_quality_50():
    source = make_jpeg(128, 96, quality=50)
    frame = parse_jpeg(source)
    rebuilt = build_jpeg(frame.type, 128, 96, quant_tables(50), 0, frame.scan)
    assert pixels(rebuilt) == pixels(source)
    # A reader that forgets the zig-zag order rebuilds a visibly different picture.
    luma, chroma = quant_tables(50)
    natural = bytes(luma[_INVERSE_ZIGZAG[i]] for i in range(64))
    wrong = build_jpeg(frame.type, 128, 96, (natural, chroma), 0, frame.scan)
    assert pixels(wrong) != pixels(source)


_ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34,
           27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37,
           44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63]  # fmt: skip
_INVERSE_ZIGZAG = [_ZIGZAG.index(i) for i in range(64)]


def test_build_jpeg_writes_a_complete_jfif():
    frame = parse_jpeg(make_jpeg(64, 48, restart_marker_blocks=2))
    rebuilt = build_jpeg(frame.type, 64, 48, frame.qtables, frame.restart_interval, frame.scan)
    assert rebuilt.startswith(b"\xff\xd8") and rebuilt.endswith(b"\xff\xd9")
    markers = [m for m, _ in segments(rebuilt)]
    assert markers == [0xE0, 0xDB, 0xC0, 0xC4, 0xDD, 0xDA]
    assert segments(rebuilt)[0][1].startswith(b"JFIF\x00")
    sof = dict(segments(rebuilt))[0xC0]
    assert struct.unpack_from(">BHHB", sof) == (8, 48, 64, 3)
    assert sof[6:] == bytes([1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1])
    assert dict(segments(rebuilt))[0xDD] == b"\x00\x02"


def test_build_jpeg_sampling_follows_type():
    frame = parse_jpeg(make_jpeg(64, 48, subsampling=SUB_422))
    rebuilt = build_jpeg(0, 64, 48, frame.qtables, 0, frame.scan)
    assert dict(segments(rebuilt))[0xC0][7] == 0x21


def test_build_jpeg_rejects_unknown_type():
    frame = parse_jpeg(make_jpeg(16, 16))
    with pytest.raises(ValueError):
        build_jpeg(7, 16, 16, frame.qtables, 0, frame.scan)


def test_frame_is_a_frozen_value():
    frame = parse_jpeg(make_jpeg(16, 16))
    assert isinstance(frame, JPEGFrame)
    with pytest.raises(AttributeError):
        frame.width = 8  # type: ignore[misc]


def test_parse_accepts_bytearray_and_memoryview():
    source = make_jpeg(32, 16)
    expected = bytes(parse_jpeg(source).scan)
    assert bytes(parse_jpeg(bytearray(source)).scan) == expected
    assert bytes(parse_jpeg(memoryview(source)).scan) == expected
    assert pixels(round_trip(bytearray(source))) == pixels(source)
