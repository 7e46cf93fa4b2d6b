"""RFC 6184 / RFC 7798 depacketizing: access units in Annex B form, losses counted, bad
payloads refused, never a crash and never a broken access unit handed out as whole."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtsp_common import h264, h265
from rtsp_common.access_units import AccessUnitDepacketizer
from rtsp_common.annex_b import join_nal_units, split_nal_units
from rtsp_common.errors import ParseError
from rtsp_common.h264 import H264Parameters, H264PayloadReader
from rtsp_common.h265 import H265Parameters, H265PayloadReader
from rtsp_common.nal_packetizer import packetize_h264, packetize_h265
from rtsp_common.payload_formats import UnsupportedPayloadFormat, payload_format

SPS = bytes([0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x02, 0x80])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
IDR = bytes([0x65]) + bytes(range(256)) * 12
P_SLICE = bytes([0x41]) + bytes(range(50))
VPS = bytes([0x40, 0x01, 0x0C, 0x01])
H265_SPS = bytes([0x42, 0x01, 0x01, 0x01])
H265_PPS = bytes([0x44, 0x01, 0xC1, 0x72])
H265_IDR = bytes([0x26, 0x01]) + bytes(range(256)) * 12  # IDR_W_RADL, type 19


def feed(depacketizer, payloads, timestamp=3000, first_sequence=0, skip=()):
    """Push one access unit's payloads (marker on the last); the units that came out."""
    out = []
    for index, payload in enumerate(payloads):
        if index in skip:
            continue
        last = index == len(payloads) - 1
        out += depacketizer.push(payload, timestamp, last, (first_sequence + index) % 65536)
    return out


CODECS = {
    "h264": (H264PayloadReader, packetize_h264, [SPS, PPS, IDR], h264.is_random_access),
    "h265": (lambda: H265PayloadReader(), packetize_h265, [VPS, H265_SPS, H265_PPS, H265_IDR],
             h265.is_random_access),
}  # fmt: skip


@pytest.mark.parametrize("codec", CODECS)
def test_access_unit_round_trip_with_aggregates_and_fragments(codec):
    reader, packetize, units, random_access = CODECS[codec]
    payloads = packetize(units, 1200)
    assert len(payloads) >= 4  # one aggregate of the parameter sets, fragments of the slice
    depacketizer = AccessUnitDepacketizer(reader())
    [(timestamp, access_unit)] = feed(depacketizer, payloads)
    assert timestamp == 3000
    assert access_unit == join_nal_units(units)
    assert split_nal_units(access_unit) == units
    assert random_access(access_unit)
    assert depacketizer.frames_dropped == 0


@pytest.mark.parametrize("codec", CODECS)
def test_a_lost_fragment_is_counted_and_its_access_unit_left_out(codec):
    reader, packetize, units, _ = CODECS[codec]
    payloads = packetize(units, 1200)
    depacketizer = AccessUnitDepacketizer(reader())
    assert feed(depacketizer, payloads, skip={2}) == []
    assert depacketizer.frames_dropped == 1
    # The next access unit, whole, comes through.
    assert feed(depacketizer, payloads, 6000, first_sequence=len(payloads))
    assert depacketizer.frames_dropped == 1


def test_lost_packets_between_access_units_drop_the_one_after_them():
    depacketizer = AccessUnitDepacketizer(H264PayloadReader())
    assert depacketizer.push(P_SLICE, 100, True, 1) == [(100, join_nal_units([P_SLICE]))]
    # Sequence 2 (say the SPS of the next access unit) is lost.
    assert depacketizer.push(P_SLICE, 200, True, 3) == []
    assert depacketizer.frames_dropped == 1


def test_access_unit_without_marker_ends_at_the_next_timestamp():
    depacketizer = AccessUnitDepacketizer(H264PayloadReader())
    assert depacketizer.push(P_SLICE, 100, False, 1) == []
    assert depacketizer.push(P_SLICE, 200, True, 2) == [
        (100, join_nal_units([P_SLICE])),
        (200, join_nal_units([P_SLICE])),
    ]


def test_the_first_packets_of_a_stream_that_started_mid_fragment_are_dropped():
    payloads = packetize_h264([IDR], 500)
    depacketizer = AccessUnitDepacketizer(H264PayloadReader())
    assert feed(depacketizer, payloads[1:]) == []
    assert depacketizer.frames_dropped == 1


def fu_a(start: bool, end: bool, data: bytes = b"abc") -> bytes:
    return bytes([0x7C, (0x80 if start else 0) | (0x40 if end else 0) | 5]) + data


BAD_H264 = {
    "empty": b"",
    "F bit set": bytes([0xE5, 1, 2]),
    "STAP-A with a size past the end": bytes([0x78, 0x00, 0x40, 0x65, 0x01]),
    "STAP-A with a zero size": bytes([0x78, 0x00, 0x00]),
    "STAP-A cut in a size field": bytes([0x78, 0x00, 0x02, 0x65, 0x01, 0x00]),
    "STAP-A holding a unit with F set": bytes([0x78, 0x00, 0x02, 0xE5, 0x01]),
    "FU-A with start and end": fu_a(True, True),
    "FU-A without a fragment": bytes([0x7C, 0x85]),
    "STAP-B (mode 2)": bytes([0x79, 0, 0, 0, 2, 0x65, 1]),
    "MTAP16 (mode 2)": bytes([0x7A, 0, 0]),
    "FU-B (mode 2)": bytes([0x7D, 0x85, 0, 0, 1]),
    "reserved type 0": bytes([0x00, 1]),
    "reserved type 30": bytes([0x1E, 1]),
}


@pytest.mark.parametrize("payload", BAD_H264.values(), ids=BAD_H264.keys())
def test_bad_h264_payloads_are_refused_with_a_parse_error(payload):
    with pytest.raises(ParseError):
        H264PayloadReader().read(payload)


@pytest.mark.parametrize("payload", BAD_H264.values(), ids=BAD_H264.keys())
def test_a_bad_payload_drops_its_access_unit_and_is_counted(payload):
    depacketizer = AccessUnitDepacketizer(H264PayloadReader())
    out = depacketizer.push(P_SLICE, 100, False, 1) + depacketizer.push(payload, 100, True, 2)
    assert out == []
    assert depacketizer.packets_malformed == 1 and depacketizer.last_error
    assert depacketizer.frames_dropped == 1


def test_fu_a_faults_drop_the_access_unit():
    cases = {
        "no start": [fu_a(False, False), fu_a(False, True)],
        "two starts": [fu_a(True, False), fu_a(True, False), fu_a(False, True)],
        "no end": [fu_a(True, False), fu_a(False, False)],
        "NAL unit inside a run": [fu_a(True, False), P_SLICE, fu_a(False, True)],
    }
    for name, payloads in cases.items():
        depacketizer = AccessUnitDepacketizer(H264PayloadReader())
        assert feed(depacketizer, payloads) == [], name
        assert depacketizer.frames_dropped == 1, name


def test_an_access_unit_over_the_size_limit_is_dropped():
    depacketizer = AccessUnitDepacketizer(H264PayloadReader(), max_frame_bytes=1000)
    assert feed(depacketizer, packetize_h264([IDR], 400)) == []
    assert depacketizer.frames_dropped == 1


BAD_H265 = {
    "shorter than the header": b"\x26",
    "F bit set": bytes([0xA6, 0x01, 1]),
    "AP with a size past the end": bytes([0x60, 0x01, 0x00, 0x09, 0x26, 0x01]),
    "AP holding a 1-byte unit": bytes([0x60, 0x01, 0x00, 0x01, 0x26]),
    "FU with start and end": bytes([0x62, 0x01, 0xD3, 1, 2]),
    "FU without a fragment": bytes([0x62, 0x01, 0x93]),
    "FU of an aggregation packet": bytes([0x62, 0x01, 0x80 | 48, 1]),
    "PACI": bytes([0x64, 0x01, 0, 0]),
    "reserved type 60": bytes([0x78, 0x01, 1]),
}


@pytest.mark.parametrize("payload", BAD_H265.values(), ids=BAD_H265.keys())
def test_bad_h265_payloads_are_refused_with_a_parse_error(payload):
    with pytest.raises(ParseError):
        H265PayloadReader().read(payload)


def test_h265_donl_fields_are_skipped_when_max_don_diff_is_set():
    reader = H265PayloadReader(donl=True)
    assert reader.read(bytes([0x26, 0x01, 0x00, 0x07, 0xAA])) == [bytes([0x26, 0x01, 0xAA])]
    ap = bytes([0x60, 0x01, 0x00, 0x07, 0x00, 0x03, 0x40, 0x01, 0x0C,
                0x01, 0x00, 0x03, 0x42, 0x01, 0x01])  # fmt: skip
    assert reader.read(ap) == [bytes([0x40, 0x01, 0x0C]), bytes([0x42, 0x01, 0x01])]
    [first] = reader.read(bytes([0x62, 0x01, 0x80 | 19, 0x00, 0x07, 0xBB]))
    [second] = reader.read(bytes([0x62, 0x01, 0x40 | 19, 0xCC]))
    assert first.nal_header == bytes([0x26, 0x01]) and first.data == b"\xbb"
    assert second.data == b"\xcc"


def test_fmtp_parameters_are_read():
    sets = ",".join(base64.b64encode(u).decode() for u in (SPS, PPS))
    params = H264Parameters.from_fmtp(
        {"packetization-mode": "1", "sprop-parameter-sets": sets + ",%%%",
         "profile-level-id": "42c01e"}
    )  # fmt: skip
    assert params == H264Parameters(1, (SPS, PPS), "42c01e")
    h265_params = H265Parameters.from_fmtp(
        {"sprop-vps": base64.b64encode(VPS).decode(), "sprop-sps": "QgEB",
         "sprop-max-don-diff": "2"}
    )  # fmt: skip
    assert h265_params.parameter_sets == (VPS, b"\x42\x01\x01") and h265_params.donl
    with pytest.raises(ParseError):
        H264Parameters.from_fmtp({"packetization-mode": "3"})
    with pytest.raises(ParseError):
        H265Parameters.from_fmtp({"sprop-max-don-diff": "-1"})


def test_formats_are_chosen_by_rtpmap_name_and_unknown_ones_refused():
    h264_format = payload_format("h264")
    depacketizer = h264_format.depacketizer(
        {"sprop-parameter-sets": base64.b64encode(SPS).decode()}, 1 << 20
    )
    assert depacketizer.stream_header == join_nal_units([SPS])
    assert payload_format("JPEG").is_jpeg and payload_format("H265").clock_rate == 90000
    with pytest.raises(UnsupportedPayloadFormat, match="MP4V-ES"):
        payload_format("MP4V-ES")
    with pytest.raises(UnsupportedPayloadFormat, match="mode 0 or 1"):
        h264_format.depacketizer({"packetization-mode": "2"}, 1 << 20)


nal_bodies = st.binary(min_size=1, max_size=3000)


@settings(max_examples=150, deadline=None)
@given(
    codec=st.sampled_from(sorted(CODECS)),
    bodies=st.lists(nal_bodies, min_size=1, max_size=6),
    max_payload=st.integers(min_value=8, max_value=1500),
    lost=st.sets(st.integers(min_value=0, max_value=200), max_size=5),
)
def test_any_access_unit_any_mtu_any_loss(codec, bodies, max_payload, lost):
    reader, packetize, _, _ = CODECS[codec]
    header = b"\x41" if codec == "h264" else b"\x02\x01"  # non-IDR slice headers, F bit 0
    units = [header + body for body in bodies]
    payloads = packetize(units, max_payload)
    assert all(len(p) <= max_payload for p in payloads)
    depacketizer = AccessUnitDepacketizer(reader())
    count = len(payloads)
    # Before and after the lossy access unit a whole one, so the sequence numbers around it
    # are known (a loss before the first packet of a stream cannot be seen).
    out = feed(depacketizer, payloads, 0, first_sequence=0)
    out += feed(depacketizer, payloads, 3000, first_sequence=count, skip=lost)
    out += feed(depacketizer, payloads, 6000, first_sequence=2 * count)
    annex_b = join_nal_units(units)
    lost = lost & set(range(count))
    # A lossy access unit is left out (one lost whole was never seen, so is not counted);
    # the one after it too when the gap reaches its first packet, as then nobody can tell
    # whose packets were lost.
    lossy_seen = bool(lost) and len(lost) < count
    next_dropped = count - 1 in lost
    expected = [(0, annex_b)] + ([] if lost else [(3000, annex_b)])
    expected += [] if next_dropped else [(6000, annex_b)]
    assert out == expected
    assert depacketizer.frames_dropped == lossy_seen + next_dropped


@settings(max_examples=300, deadline=None)
@given(
    codec=st.sampled_from(sorted(CODECS)),
    packets=st.lists(
        st.tuples(st.binary(max_size=64), st.integers(0, 3), st.booleans(), st.integers(0, 5)),
        max_size=30,
    ),
)
def test_arbitrary_payloads_never_raise(codec, packets):
    reader, _, _, _ = CODECS[codec]
    depacketizer = AccessUnitDepacketizer(reader())
    for payload, timestamp, marker, sequence in packets:
        for _, unit in depacketizer.push(payload, timestamp, marker, sequence):
            assert unit.startswith(b"\x00\x00\x00\x01")
    depacketizer.flush()


@pytest.mark.parametrize("codec", CODECS)
def test_a_run_of_packets_completes_what_they_complete_one_by_one(codec):
    # Two access units in one run from a sequence number that wraps, then a run after a
    # gap: the unit the gap broke is dropped, as push drops it.
    reader, packetize, units, _ = CODECS[codec]
    payloads = packetize(units, 1200)
    timestamps = [3000] * len(payloads) + [6000] * len(payloads)
    markers = [i == len(payloads) - 1 for i in range(len(payloads))] * 2
    first = 65536 - 3
    by_run = AccessUnitDepacketizer(reader())
    completed = by_run.push_run(payloads * 2, timestamps, markers, first)
    assert [(i, ts) for i, ts, _ in completed] == [
        (len(payloads) - 1, 3000),
        (2 * len(payloads) - 1, 6000),
    ]
    assert all(unit == join_nal_units(units) for _, _, unit in completed)
    later = (first + 2 * len(payloads) + 1) % 65536  # one packet lost before this run
    rest = len(payloads) - 1
    assert by_run.push_run(payloads[1:], [9000] * rest, markers[1 : rest + 1], later) == []
    assert by_run.frames_dropped == 1
