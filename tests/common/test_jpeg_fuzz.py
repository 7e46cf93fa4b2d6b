"""Hostile input to the JPEG parser and the RFC 2435 depacketizer raises only ParseError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jpeg_samples import marked
from media_samples import make_jpeg

from rtsp_common.errors import ParseError
from rtsp_common.jpeg import packetize, parse_jpeg
from rtsp_common.jpeg_depacketizer import Depacketizer

VALID = make_jpeg(48, 32, quality=70, restart_marker_blocks=2)
VALID_PACKETS = marked(packetize(VALID, 300))
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_or_parse_error(data: bytes) -> None:
    try:
        frame = parse_jpeg(data)
    except ParseError:
        return
    # Whatever parses must be carried: packetize must not fail on it.
    assert frame.width % 8 == 0 and 0 < frame.width <= 2040
    packetize(frame, 1400)


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_to_parse_jpeg(data):
    _parse_or_parse_error(data)


@FUZZ
@given(st.binary(max_size=600))
def test_soi_then_arbitrary_bytes(data):
    _parse_or_parse_error(b"\xff\xd8" + data)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=6))
def test_mutated_real_jpeg(mutations):
    data = bytearray(VALID)
    for pos, value in mutations:
        data[pos] = value
    _parse_or_parse_error(bytes(data))


@FUZZ
@given(st.integers(0, len(VALID)))
def test_truncated_real_jpeg(cut):
    _parse_or_parse_error(VALID[:cut])


def _is_jpeg(frame: bytes) -> bool:
    return frame.startswith(b"\xff\xd8") and frame.endswith(b"\xff\xd9")


@FUZZ
@given(st.lists(st.tuples(st.binary(max_size=300), st.integers(0, 3), st.booleans()), max_size=20))
def test_arbitrary_payloads_to_depacketizer(pushes):
    dep = Depacketizer(max_frame_bytes=4096)
    for payload, timestamp, marker in pushes:
        try:
            frame = dep.push(payload, timestamp, marker)
        except ParseError:
            continue
        assert frame is None or _is_jpeg(frame)
    assert dep.pending <= 2


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(VALID_PACKETS) - 1),
            st.integers(0, 40),
            st.integers(0, 255),
            st.integers(0, 2),
        ),
        max_size=25,
    )
)
def test_mutated_real_payloads_to_depacketizer(pushes):
    dep = Depacketizer()
    for index, pos, value, timestamp in pushes:
        payload, marker = VALID_PACKETS[index]
        data = bytearray(payload)
        data[pos % len(data)] = value
        try:
            frame = dep.push(bytes(data), timestamp, marker)
        except ParseError:
            continue
        assert frame is None or _is_jpeg(frame)


_header_fields = st.tuples(
    st.sampled_from([0, 0, 3, 0xFF]),  # offset high byte: mostly small offsets
    st.integers(0, 0xFFFF),  # offset low bits
    st.sampled_from([0, 1, 64, 65, 2, 130]),  # type
    st.sampled_from([1, 50, 99, 0, 100, 128, 200, 255]),  # Q
    st.integers(0, 3),  # width / 8
    st.integers(0, 3),  # height / 8
    st.integers(0, 255),  # precision
    st.sampled_from([0, 64, 128, 192, 256, 10, 4000]),  # table length
    st.binary(max_size=300),
    st.booleans(),
)


@FUZZ
@given(st.lists(_header_fields, max_size=12))
def test_structured_headers_to_depacketizer(fields):
    """Plausible RFC 2435 headers with hostile values: only ParseError, and only JPEGs out."""
    dep = Depacketizer(max_frame_bytes=1 << 16)
    for high, low, rtp_type, q, w8, h8, precision, length, rest, marker in fields:
        offset = high << 16 | low
        payload = bytes([0, high, low >> 8, low & 0xFF, rtp_type, q, w8, h8])
        if rtp_type >= 64:
            payload += b"\x00\x02\xff\xff"
        if q >= 128 and offset == 0:
            payload += bytes([0, precision]) + length.to_bytes(2, "big")
        payload += rest
        try:
            frame = dep.push(payload, 0, marker)
        except ParseError:
            continue
        assert frame is None or _is_jpeg(frame)
