"""The bulk struct reading and Scapy's layers read the same bytes alike, field by field:
RTP fixed header (scapy.layers.rtp and analysis.layers), CSRC/extension/padding lengths,
and the RFC 2435 main header."""

from __future__ import annotations

from analysis_corpus import clean_session
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import UDP
from scapy.layers.rtp import RTP as ScapyRTP
from scapy.layers.rtp import RTPExtension
from scapy.utils import rdpcap

from analysis import layers
from analysis.check import check_capture
from analysis.payloads.jpeg import parse_main
from analysis.streams.rtp import split_by_ssrc
from analysis.wire.flows import Endpoint

HERE = Endpoint("10.0.0.1", 1)
THERE = Endpoint("10.0.0.2", 2)


def test_capture_read_alike_by_struct_and_scapy(tmp_path):
    path = clean_session().write(tmp_path / "clean.pcap")
    result = check_capture(path)
    ours = {p[0]: p for s in result.streams for p in s.packets}
    scapy_packets = rdpcap(str(path))
    compared = 0
    for number, pkt in enumerate(scapy_packets, start=1):
        if number not in ours:
            continue
        raw = bytes(pkt[UDP].payload)
        generic = ScapyRTP(raw)
        ours_pkt = ours[number]
        _pktno, _t, seq, ts, b1, size, payload = ours_pkt
        assert (generic.sequence, generic.timestamp, generic.payload_type, generic.marker) == (
            seq, ts, b1 & 0x7F, b1 >> 7
        )  # fmt: skip
        assert generic.version == 2 and size == len(raw)
        ours_jpeg = parse_main(payload)
        theirs = layers.RTP(raw)[layers.JPEG]
        assert ours_jpeg == (
            theirs.offset, theirs.type, theirs.q, theirs.width_pixels, theirs.height_pixels
        )  # fmt: skip
        compared += 1
    assert compared == sum(s.stats.packets for s in result.streams) == 90


@settings(max_examples=200, deadline=None)
@given(
    version=st.integers(0, 3),
    marker=st.integers(0, 1),
    pt=st.integers(0, 127),
    seq=st.integers(0, 0xFFFF),
    ts=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    csrcs=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
    extension=st.one_of(st.none(), st.lists(st.integers(0, 0xFFFFFFFF), max_size=4)),
    padding=st.integers(0, 20),
    payload=st.binary(max_size=40),
)
def test_rtp_headers_read_alike(
    version, marker, pt, seq, ts, ssrc, csrcs, extension, padding, payload
):
    pkt = ScapyRTP(
        version=version, marker=marker, payload_type=pt, sequence=seq, timestamp=ts,
        sourcesync=ssrc, sync=csrcs, numsync=len(csrcs),
    )  # fmt: skip
    body = payload + (bytes(padding - 1) + bytes([padding]) if padding else b"")
    if padding:
        pkt.padding = 1
    if extension is not None:
        pkt.extension = 1
        pkt = pkt / RTPExtension(header_id=0xBEDE, header=extension)
    raw = bytes(pkt / body)
    (stream,) = split_by_ssrc(HERE, THERE, [(1, 0.0, raw)])
    theirs = ScapyRTP(raw)
    (_pktno, _t, our_seq, our_ts, b1, size, our_payload) = stream.packets[0]
    assert (our_seq, our_ts, stream.ssrc, b1 >> 7, b1 & 0x7F) == (
        theirs.sequence, theirs.timestamp, theirs.sourcesync, theirs.marker, theirs.payload_type
    )  # fmt: skip
    assert (stream.bad_version == [1]) == (theirs.version != 2)
    assert our_payload == payload and size == len(raw)
    assert stream.length_problems == []
