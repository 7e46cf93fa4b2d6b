"""Which access units a decoder can show from a captured H.264/H.265 stream, and the
least it needs to show one: what the report decodes for a screenshot, so that a capture of
hours costs a group of pictures per screenshot, not the whole stream."""

from __future__ import annotations

import io

import pytest

from analysis.craft.h26x import PARAMETER_SETS, access_unit, packetize
from analysis.payloads.h26x import read_h26x
from analysis.payloads.h26x_reading import START_CODE
from analysis.payloads.nal_syntax import H264, H265
from analysis.payloads.seq_columns import SeqColumns

GROUP = 6  # a random access point every 6 access units
UNITS = 18
MTU = 300
SIZE = 1000  # a slice in four fragments


def stream(syntax, lost_from: int | None = None):
    """The access units sent, and the reading of the stream with one middle packet of
    access unit ``lost_from`` lost."""
    aus = [access_unit(syntax, idr=i % GROUP == 0, size=SIZE) for i in range(UNITS)]
    packets, sent = [], 0
    for i, nals in enumerate(aus):
        payloads = packetize(syntax, nals, MTU)
        for k, payload in enumerate(payloads):
            if not (i == lost_from and k == len(payloads) // 2):
                marker = k == len(payloads) - 1
                packets.append((sent, sent + 1, sent / 1000, i * 3000, marker, payload))
            sent += 1
    encoding = "H264" if syntax is H264 else "H265"
    return aus, read_h26x(SeqColumns.of_packets(packets), syntax, encoding, {})


@pytest.mark.parametrize("syntax", [H264, H265], ids=["h264", "h265"])
def test_a_loss_hides_the_pictures_up_to_the_next_random_access_point(syntax):
    _, reading = stream(syntax, lost_from=8)
    shown = [reading.frames.index(f) for f in reading.decodable()]
    assert shown == [*range(0, 8), *range(12, UNITS)]  # 8..11 lean on the damaged 8


@pytest.mark.parametrize("syntax", [H264, H265], ids=["h264", "h265"])
def test_a_picture_is_written_from_the_random_access_point_before_it(syntax):
    aus, reading = stream(syntax)
    out = io.BytesIO()
    assert reading.write_decoding_of(out, reading.frames[15]) == 4  # units 12..15
    # In-band parameter sets sent before unit 12 come first: they may have changed since.
    known = [nal for au in aus[:12] for nal in au if nal in PARAMETER_SETS[syntax.name]]
    expected = [*known, *(nal for au in aus[12:16] for nal in au)]
    assert out.getvalue() == b"".join(START_CODE + nal for nal in expected)


def test_without_a_random_access_point_before_it_nothing_is_written():
    _, reading = stream(H264)
    del reading.frames[: GROUP + 1]  # the capture began just after the second IDR
    with pytest.raises(ValueError, match="no random access point"):
        reading.write_decoding_of(io.BytesIO(), reading.frames[2])
    assert reading.frames.index(reading.decodable()[0]) == GROUP - 1  # the third IDR
