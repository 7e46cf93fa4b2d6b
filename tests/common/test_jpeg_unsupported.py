"""Every JPEG RFC 2435 cannot carry raises UnsupportedJPEG naming the reason; junk raises ParseError."""

from __future__ import annotations

import struct

import pytest
from media_samples import SUB_420, SUB_444, make_jpeg

from rtsp_common.errors import ParseError, UnsupportedJPEG
from rtsp_common.jpeg import packetize, parse_jpeg


def _segment_span(jpeg: bytes, marker: int) -> tuple[int, int]:
    """Start of the marker and end of the segment it opens."""
    start = jpeg.index(bytes([0xFF, marker]))
    (length,) = struct.unpack_from(">H", jpeg, start + 2)
    return start, start + 2 + length


def _patch_sof(jpeg: bytes, offset: int, value: int, marker: int = 0xC0) -> bytes:
    """Change one byte of the SOF body (offset counts from the body's first byte)."""
    start, _ = _segment_span(jpeg, marker)
    data = bytearray(jpeg)
    data[start + 4 + offset] = value
    return bytes(data)


def _insert_after_soi(jpeg: bytes, segment: bytes) -> bytes:
    return jpeg[:2] + segment + jpeg[2:]


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


BASE = make_jpeg(64, 48, subsampling=SUB_420)

UNSUPPORTED = {
    "progressive": (make_jpeg(64, 48, progressive=True), "progressive"),
    "optimized huffman": (
        make_jpeg(64, 48, optimize=True),
        "non-standard Huffman tables: re-encode with standard tables",
    ),
    "4:4:4": (make_jpeg(64, 48, subsampling=SUB_444), "4:4:4"),
    "grayscale": (make_jpeg(64, 48, mode="L"), "grayscale"),
    "cmyk": (make_jpeg(64, 48, mode="CMYK"), "4 colour components"),
    "three tables": (
        make_jpeg(64, 48, qtables=[[2] * 64, [3] * 64, [4] * 64]),
        "three quantization tables",
    ),
    "too wide": (make_jpeg(2048, 16), "width 2048 is over 2040"),
    "too tall": (make_jpeg(16, 2056), "height 2056 is over 2040"),
    "width not multiple of 8": (make_jpeg(20, 16), "width 20 is not a multiple of 8"),
    "height not multiple of 8": (make_jpeg(16, 36), "height 36 is not a multiple of 8"),
    "arithmetic SOF9": (BASE.replace(b"\xff\xc0", b"\xff\xc9", 1), "arithmetic"),
    "arithmetic DAC": (_insert_after_soi(BASE, _segment(0xCC, b"\x00\x10")), "arithmetic"),
    "lossless SOF3": (BASE.replace(b"\xff\xc0", b"\xff\xc3", 1), "lossless"),
    "hierarchical SOF5": (BASE.replace(b"\xff\xc0", b"\xff\xc5", 1), "hierarchical"),
    "12-bit": (_patch_sof(BASE, 0, 12), "12-bit"),
    "DNL height": (_patch_sof(_patch_sof(BASE, 1, 0), 2, 0), "DNL"),
    "4:1:1": (_patch_sof(BASE, 7, 0x41), "sampling factors 4x1,1x1,1x1"),
    "chroma subsampled twice": (_patch_sof(BASE, 10, 0x21), "sampling factors"),
    "Cb and Cr tables differ": (_patch_sof(BASE, 14, 0), "Cb and Cr use different"),
    "Adobe RGB": (
        _insert_after_soi(BASE, _segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x00")),
        "RGB",
    ),
    "second scan": (BASE[:-2] + _segment(0xDA, bytes(10)) + b"\x00\xff\xd9", "multi-scan"),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_unsupported_jpeg_names_the_reason(case):
    data, reason = UNSUPPORTED[case]
    with pytest.raises(UnsupportedJPEG, match=reason) as info:
        parse_jpeg(data)
    assert info.value.status == 415
    assert isinstance(info.value, ParseError)
    with pytest.raises(UnsupportedJPEG):
        packetize(data, 1400)


def test_sof1_extended_sequential_with_standard_tables_is_accepted():
    frame = parse_jpeg(BASE.replace(b"\xff\xc0", b"\xff\xc1", 1))
    assert (frame.width, frame.height, frame.type) == (64, 48, 1)


def test_jpeg_without_huffman_tables_uses_the_standard_ones():
    # Motion-JPEG frames from cameras often omit DHT and rely on Annex K.
    start = BASE.index(b"\xff\xc4")
    end = BASE.index(b"\xff\xda")
    stripped = BASE[:start] + BASE[end:]
    frame = parse_jpeg(stripped)
    assert bytes(frame.scan) == bytes(parse_jpeg(BASE).scan)


def _drop_segments(jpeg: bytes, marker: int) -> bytes:
    while bytes([0xFF, marker]) in jpeg[: jpeg.index(b"\xff\xda")]:
        start, end = _segment_span(jpeg, marker)
        jpeg = jpeg[:start] + jpeg[end:]
    return jpeg


NOT_JPEG = {
    "empty": (b"", "not a JPEG"),
    "text": (b"hello world, not a picture", "not a JPEG"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(30), "not a JPEG"),
    "only SOI": (b"\xff\xd8\xff\xff", "truncated"),
    "header cut": (BASE[:40], "bad length|truncated"),
    "scan cut": (BASE[: len(BASE) // 2 + 300], "no EOI"),
    "no DQT": (_drop_segments(BASE, 0xDB), "never defined"),
    "no SOF": (_drop_segments(BASE, 0xC0), "SOS before any SOF"),
    "junk between segments": (BASE[:2] + b"\x12\x34" + BASE[2:], "expected a marker"),
    "bad DQT id": (
        _insert_after_soi(BASE, _segment(0xDB, b"\x25" + bytes(64))),
        "invalid precision",
    ),
    "bad DHT class": (
        _insert_after_soi(BASE, _segment(0xC4, b"\x30" + bytes(16))),
        "invalid class",
    ),
    "segment length 1": (BASE[:2] + b"\xff\xe0\x00\x01" + BASE[2:], "bad length"),
}


@pytest.mark.parametrize("case", sorted(NOT_JPEG))
def test_malformed_jpeg_raises_parse_error(case):
    data, reason = NOT_JPEG[case]
    with pytest.raises(ParseError, match=reason) as info:
        parse_jpeg(data)
    assert type(info.value) is ParseError
