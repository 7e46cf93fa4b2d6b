"""The vectorized RFC 2435 frame builder accepts only what the packet-by-packet reader
accepts without a problem, and then builds the same frames."""

from __future__ import annotations

import numpy as np
import pytest
from analysis_corpus import DEFECTS, clean_session
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.payloads.frames import PayloadFormat, assemble, fast_rfc2435
from analysis.payloads.jpeg import PT_JPEG
from analysis.pcap.reader import read_records
from analysis.sessions.build import build
from analysis.streams.media_format import media_format
from analysis.streams.rtp import split_by_ssrc
from analysis.streams.statistics import analyse
from analysis.wire.flows import decode

FIELDS = (
    "timestamp", "first_pktno", "last_pktno", "first_ext", "last_ext", "packets", "size",
    "complete", "marker_last", "jpeg_type", "q", "width", "height", "dri", "tables", "precision",
)  # fmt: skip


def slow_frames(stream):
    """The packet-by-packet reader's frames for a stream, from the same columns."""
    steps = (np.diff(stream.seq) + 0x8000) % 0x10000 - 0x8000
    ext = np.concatenate(([0], np.cumsum(steps))) + int(stream.seq[0])
    uniq, order = np.unique(ext, return_index=True)
    packets = [
        (int(e), int(stream.pktno[i]), float(stream.time[i]), int(stream.ts[i]),
         bool(stream.b1[i] >> 7), stream.payload(i))
        for e, i in zip(uniq, order, strict=True)
    ]  # fmt: skip
    return assemble(packets, PayloadFormat.RFC2435), order, uniq


def assert_same(fast, slow):
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        assert [getattr(a, f) for f in FIELDS] == [getattr(b, f) for f in FIELDS]
        assert a.jpeg() == b.jpeg()
        assert b.structurally_sound and not b.marker_inside and not b.timestamp_changes


def streams_of(path):
    capture = build(decode(read_records(path)))
    return [s for s in capture.streams if s.format is PayloadFormat.RFC2435]


@pytest.mark.parametrize("defect", [None, *sorted(DEFECTS)])
def test_fast_path_matches_the_reader_on_the_corpus(tmp_path, defect):
    session = clean_session()
    if defect:
        DEFECTS[defect][0](session)
    for stream in streams_of(session.write(tmp_path / "c.pcap")):
        slow, order, uniq = slow_frames(stream)
        fast = fast_rfc2435(stream, order, uniq)
        if fast is None:
            assert defect is not None  # the clean session must take the fast path
            continue
        assert_same(fast, slow)


@settings(max_examples=120, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 89), st.integers(0, 30), st.integers(0, 255)),
        min_size=1,
        max_size=3,
    )
)
def test_fast_path_never_accepts_what_the_reader_flags(tmp_path_factory, edits):
    """Overwrite bytes of RTP payload headers: the fast path either declines or agrees."""
    session = clean_session(count=30)
    for index, position, value in edits:
        packet = session.rtp[index % len(session.rtp)]
        if position < len(packet.payload):
            data = bytearray(packet.payload)
            data[position] = value
            packet.payload = bytes(data)
    path = session.write(tmp_path_factory.mktemp("m") / "m.pcap")
    udp = decode(read_records(path)).udp
    (flow,) = [f for key, f in udp.items() if key[3] == session.client_rtp_port]
    for stream in split_by_ssrc(None, None, flow):
        analyse(stream, media_format(PT_JPEG))
        slow, order, uniq = slow_frames(stream)
        fast = fast_rfc2435(stream, order, uniq)
        if fast is not None:
            assert_same(fast, slow)
