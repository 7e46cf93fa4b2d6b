"""Sessions from captures: interleaved RTP over RTSP, RTP without RTSP (heuristics or
given ports), the lab's whole-JPEG payloads, and RFC 2435 frames rebuilt into JPEGs that
decode to the same pixels as the originals."""

from __future__ import annotations

import struct

import pytest
from analysis_corpus import DEFECTS, clean_session, small_jpeg
from media_samples import decode, encode_jpeg
from PIL import Image, ImageChops

from analysis.check import check_capture
from analysis.craft.jpeg_parts import rfc2435_payloads, split_jpeg
from analysis.craft.synth import PcapSynth, SynthSession, rtp_header
from analysis.payloads import jpeg as rfc2435
from analysis.payloads.frames import PayloadFormat


def test_interleaved_rtp_belongs_to_its_session_by_channel(tmp_path):
    result = check_capture(clean_session(interleaved=True).write(tmp_path / "tcp.pcap"))
    assert [r.rule.id for r in result.rules if r.failed] == []
    (session,) = result.sessions
    (stream,) = session.streams
    assert stream.transport == "tcp" and stream.channel == 0
    assert stream.stats.frames == 45 and stream.session_id == session.id
    (rtcp,) = session.rtcp
    assert rtcp.channel == 1 and len(rtcp.sender_reports) == 2


def test_session_follows_setup_play_teardown(tmp_path):
    session = clean_session()
    result = check_capture(session.write(tmp_path / "s.pcap"))
    (rtsp,) = result.sessions
    assert rtsp.id == "5EC0A1B2"
    assert [ex.method for ex in rtsp.connection.exchanges] == [
        "OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN"
    ]  # fmt: skip
    assert all(ex.response is not None and not ex.cseq_problem for ex in rtsp.connection.exchanges)
    ((start, stop),) = rtsp.playing
    assert start == pytest.approx(session.play_time) and stop > start
    assert rtsp.sdp.media[0].rtpmap[26] == ("JPEG", 90000) and rtsp.sdp.media[0].framerate == 30
    ((play, info),) = rtsp.plays
    assert info[0].seq == session.rtp[0].seq and info[0].rtptime == session.rtp[0].ts


def rtp_only_capture(tmp_path, port: int = 5004, count: int = 20, pt: int = 26):
    parts = split_jpeg(small_jpeg(1))
    synth = PcapSynth()
    seq = 500
    for i in range(count):
        payloads = rfc2435_payloads(parts, 300)
        for k, payload in enumerate(payloads):
            synth.udp(
                10 + i / 30 + k * 1e-4, ("192.168.1.5", 7000), ("192.168.1.9", port),
                rtp_header(seq, 9000 + 3000 * i, 0xFEED, pt, k == len(payloads) - 1) + payload,
            )  # fmt: skip
            seq += 1
    synth.udp(10.5, ("192.168.1.5", 9999), ("192.168.1.9", 9998), b"not rtp at all, just noise")
    return synth.write(tmp_path / "rtp.pcap")


def test_rtp_without_rtsp_is_found_heuristically(tmp_path):
    result = check_capture(rtp_only_capture(tmp_path))
    (stream,) = result.streams
    assert stream.ssrc == 0xFEED and stream.format is PayloadFormat.RFC2435
    assert stream.stats.frames == 20 and stream.stats.complete_frames == 20
    assert result.failures() == []
    assert result.result("RTSP-PLAY-1").outcome.value == "not applicable"


def test_rtp_ports_given_explicitly(tmp_path):
    path = rtp_only_capture(tmp_path, count=1)  # one frame: too few packets for heuristics
    assert check_capture(path).streams == []
    (stream,) = check_capture(path, rtp_ports=[5004]).streams
    assert stream.stats.packets >= 2


def test_lab_format_frames_are_the_original_jpegs(tmp_path):
    session = clean_session()
    DEFECTS["the lab's format"][0](session)
    result = check_capture(session.write(tmp_path / "lab.pcap"))
    (stream,) = result.streams
    assert stream.format is PayloadFormat.WHOLE_JPEG
    assert [f.jpeg() for f in stream.frames[:3]] == [small_jpeg(i) for i in range(3)]
    assert "the lab's format, not RFC 2435" in result.result("LAB-FMT-1").evidence


@pytest.mark.parametrize("q", [255, 50, 75, 90])
def test_rebuilt_frames_decode_to_the_original_pixels(tmp_path, q):
    """In-band tables (Q=255), and the Appendix A tables for Q 1..99, which must equal the
    tables Pillow (libjpeg) writes at quality Q: zig-zag order and scaling both matter."""
    original = small_jpeg(3) if q == 255 else _pillow_jpeg(q)
    parts = split_jpeg(original)
    session = SynthSession([parts], count=3, max_payload=200, q=q)
    result = check_capture(session.write(tmp_path / "q.pcap"))
    (stream,) = result.streams
    frame = stream.frames[0]
    assert frame.q == q and (frame.width, frame.height) == (64, 48)
    rebuilt = decode(frame.jpeg())
    assert (
        ImageChops.difference(rebuilt.convert("RGB"), decode(original).convert("RGB")).getbbox()
        is None
    )
    assert result.result("JPEG-DEC-1").outcome.value == "passed"


def _pillow_jpeg(quality: int) -> bytes:
    return encode_jpeg(decode(small_jpeg(3)), quality=quality)


def _segments(jpeg: bytes, marker: int) -> list[bytes]:
    out, pos = [], 2
    while pos < len(jpeg) and jpeg[pos + 1] != rfc2435.SOS:
        length = struct.unpack_from("!H", jpeg, pos + 2)[0]
        if jpeg[pos + 1] == marker:
            out.append(jpeg[pos + 4 : pos + 2 + length])
        pos += 2 + length
    return out


def test_huffman_tables_are_the_standard_annex_k_ones():
    """The rebuilt DHT segments equal the ones libjpeg writes (Annex K, unoptimised)."""
    pillow = b"".join(_segments(small_jpeg(0), rfc2435.DHT))
    ours = b"".join(_segments(rfc2435.jfif_header(1, 64, 48, bytes(128)), rfc2435.DHT))
    tables_pillow = _split_dht(pillow)
    tables_ours = _split_dht(ours)
    assert tables_ours == tables_pillow


def _split_dht(body: bytes) -> dict[int, bytes]:
    tables, pos = {}, 0
    while pos < len(body):
        count = sum(body[pos + 1 : pos + 17])
        tables[body[pos]] = body[pos + 1 : pos + 17 + count]
        pos += 17 + count
    return tables


def test_transport_and_rtp_info_values():
    from analysis.wire.rtsp_headers import parse_rtp_info, parse_transport

    (spec,) = parse_transport("RTP/AVP;unicast;client_port=60\u00b30-6001;ssrc=zz;server_port=7000")
    assert spec.client_ports is None and spec.server_ports == (7000, 7001)
    assert len(spec.problems) == 2
    (tcp,) = parse_transport("RTP/AVP/TCP;interleaved=2-3")
    assert tcp.lower == "TCP" and tcp.interleaved == (2, 3)
    (entry,) = parse_rtp_info("url=rtsp://h/a/stream=0;seq=17;rtptime=900")
    assert (entry.url, entry.seq, entry.rtptime) == ("rtsp://h/a/stream=0", 17, 900)
    # Python's str.strip() takes \x1c-\x1f as spaces, int() does not: found by fuzzing.
    (entry,) = parse_rtp_info("url=x;seq=\x1d5;rtptime=\x1f9")
    assert (entry.seq, entry.rtptime) == (5, 9)
    (spec,) = parse_transport("RTP/AVP;client_port=\x1c60-\x1d61")
    assert spec.client_ports == (60, 61)


def test_ipv6_session_is_linked_and_clean(tmp_path):
    session = clean_session(client_ip="2001:db8::2", server_ip="2001:db8::1")
    result = check_capture(session.write(tmp_path / "v6.pcap"))
    assert [r.rule.id for r in result.rules if r.failed] == []
    (rtsp,) = result.sessions
    (stream,) = rtsp.streams
    assert str(stream.dst) == "[2001:db8::2]:50000" and stream.stats.frames == 45
    assert rtsp.rtcp and rtsp.rtcp[0].sender_reports


def test_pause_and_resume_is_clean(tmp_path):
    from analysis_corpus import paused_session

    result = check_capture(paused_session().write(tmp_path / "pause.pcap"))
    assert [(r.rule.id, r.evidence) for r in result.rules if r.failed] == []
    (rtsp,) = result.sessions
    assert len(rtsp.playing) == 2 and all(stop is not None for _, stop in rtsp.playing)
    (stream,) = rtsp.streams
    assert stream.stats.max_jitter_ms < 1  # the pause is not jitter
    assert abs(stream.stats.drift_ppm) < 1000  # nor drift
    assert result.result("RTSP-INFO-1").evidence.startswith("2 RTP-Info")


def test_rtp_sent_while_paused_is_named(tmp_path):
    from analysis_corpus import paused_session

    result = check_capture(paused_session(stray_frames=3).write(tmp_path / "stray.pcap"))
    assert {r.rule.id for r in result.failures()} == {"RTSP-PLAY-1"}
    assert result.result("RTSP-PLAY-1").count == 3 * 2  # three frames of two packets


def test_gso_super_datagrams_are_cut_into_packets(tmp_path):
    """A capture taken on a sender using UDP GSO holds one datagram per frame: the checker
    cuts it where the next RTP header (same SSRC and timestamp, next sequence) begins."""
    jpeg = encode_jpeg(Image.effect_noise((160, 120), 80).convert("RGB"), quality=80)
    session = SynthSession([split_jpeg(jpeg)], count=10, max_payload=1000)
    synth = PcapSynth()
    for f in range(10):
        packets = session.frame_packets(f)
        assert len(packets) > 2
        datagram = b"".join(p.to_bytes() for p in packets)
        synth.udp(packets[0].t, ("10.0.0.1", 6000), ("10.0.0.2", 50000), datagram)
    result = check_capture(synth.write(tmp_path / "gso.pcap"), rtp_ports=[50000])
    (stream,) = result.streams
    assert stream.stats.gso_datagrams == 10
    assert stream.stats.packets == len(session.rtp) and stream.stats.lost == 0
    assert stream.stats.complete_frames == 10
    assert [r.rule.id for r in result.failures()] == []


def test_large_lab_datagrams_are_not_mistaken_for_gso(tmp_path):
    session = clean_session()
    DEFECTS["the lab's format"][0](session)
    for p in session.rtp:
        p.payload = p.payload + bytes(2000)  # whole JPEGs well above the GSO threshold
    result = check_capture(session.write(tmp_path / "lab.pcap"))
    (stream,) = result.streams
    assert stream.stats.gso_datagrams == 0 and stream.stats.packets == 45


def test_split_jpeg_refuses_what_synthetic_streams_cannot_send():
    """Restart intervals would need a Restart Marker header the synthesizer does not write."""
    from analysis.craft.jpeg import make_test_jpeg
    from analysis.craft.jpeg_source import JPEGSourceError

    parts = split_jpeg(make_test_jpeg(64, 48))
    assert (parts.jtype, parts.width, parts.height, len(parts.tables)) == (1, 64, 48, 128)
    with pytest.raises(JPEGSourceError, match="Restart Marker"):
        split_jpeg(make_test_jpeg(64, 48, restart_blocks=2))
    with pytest.raises(ValueError, match="SOI"):
        split_jpeg(b"not a jpeg")
