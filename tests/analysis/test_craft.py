"""analysis.craft.session_builder: synthetic session captures and malformed RTP datagrams."""

from __future__ import annotations

import io
import socket
import struct
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from realtools import require_tool
from scapy.packet import Raw
from scapy.utils import rdpcap

from analysis.craft.jpeg import (
    JPEGSourceError,
    fragment_scan,
    make_test_jpeg,
    read_scan_image,
)
from analysis.craft.malformed import (
    MALFORMED_RTCP,
    MALFORMED_RTP,
    send_udp,
    valid_rtcp_sr,
    valid_rtp_jpeg,
)
from analysis.craft.session_builder import Lower, SessionBuilder
from analysis.layers import (
    JPEG,
    RTCP,
    RTP,
    TCP,
    UDP,
    JPEGQuantizationTable,
    JPEGRestartMarker,
    RTSPInterleaved,
    decode_negotiated_flows,
)


def _rtp_packets(path):
    return [p for p in decode_negotiated_flows(rdpcap(str(path))) if RTP in p]


def test_fragments_carry_the_whole_scan_and_the_tables():
    jpeg = make_test_jpeg(160, 120, index=3)
    image = read_scan_image(jpeg)
    assert (image.width_pixels, image.height_pixels, image.jpeg_type) == (160, 120, 1)
    assert len(image.qtables) == 128
    payloads = fragment_scan(image, max_payload=200)
    assert len(payloads) > 2
    assert JPEGQuantizationTable in payloads[0]
    assert all(JPEGQuantizationTable not in p for p in payloads[1:])
    assert b"".join(p[Raw].load for p in payloads) == image.scan
    offsets = [p[JPEG].offset for p in payloads]
    sizes = [len(p[Raw].load) for p in payloads]
    assert offsets == [sum(sizes[:i]) for i in range(len(sizes))]
    # The scan bytes behind the original headers decode to the announced size.
    header_end = jpeg.index(image.scan)
    decoded = Image.open(io.BytesIO(jpeg[:header_end] + image.scan + b"\xff\xd9"))
    decoded.load()
    assert decoded.size == (160, 120)


def test_restart_marker_jpeg_gets_type_65_and_restart_header():
    image = read_scan_image(make_test_jpeg(64, 48, restart_blocks=2))
    assert image.jpeg_type == 65 and image.restart_interval == 2
    payloads = fragment_scan(image, max_payload=200)
    assert len(payloads) > 1
    assert all(p[JPEGRestartMarker].restart_interval == 2 for p in payloads)


def test_unsuitable_jpegs_are_refused_with_a_reason():
    with pytest.raises(JPEGSourceError, match="SOI"):
        read_scan_image(b"not a jpeg")
    gray = io.BytesIO()
    Image.new("L", (16, 16)).save(gray, "JPEG")
    with pytest.raises(JPEGSourceError, match="3-component"):
        read_scan_image(gray.getvalue())
    odd = io.BytesIO()
    Image.new("RGB", (20, 16)).save(odd, "JPEG")
    with pytest.raises(JPEGSourceError, match="multiple of 8"):
        read_scan_image(odd.getvalue())


def test_session_capture_has_consistent_tcp_and_rtp(tmp_path):
    b = SessionBuilder(initial_seq=65534, initial_timestamp=2**32 - 3000)
    b.start()
    frames = b.frames(3, width=320, height=240)
    b.sender_report()
    b.teardown()
    b.close()
    packets = rdpcap(str(b.write(tmp_path / "s.pcap")))
    # TCP: every segment starts where the sender's previous one ended.
    expected: dict[int, int] = {}
    for p in (p for p in packets if TCP in p):
        t = p[TCP]
        if t.sport in expected:
            assert t.seq == expected[t.sport]
        length = len(t.payload) + (1 if t.flags.S or t.flags.F else 0)
        expected[t.sport] = (t.seq + length) % 2**32
    text = b"".join(bytes(p[TCP].payload) for p in packets if TCP in p)
    for method in (b"OPTIONS", b"DESCRIBE", b"SETUP", b"PLAY", b"TEARDOWN"):
        assert method + b" rtsp://" in text
    assert b"m=video 0 RTP/AVP 26" in text and b"server_port=6000-6001" in text
    rtp = _rtp_packets(tmp_path / "s.pcap")
    assert len(rtp) == sum(len(f) for f in frames) > 3
    seqs = [p[RTP].sequence for p in rtp]
    assert seqs == [(65534 + i) % 65536 for i in range(len(rtp))]
    for frame in frames:
        stamps = {p[RTP].timestamp for p in frame}
        assert len(stamps) == 1
        assert [p[RTP].marker for p in frame] == [0] * (len(frame) - 1) + [1]
    stamps = [f[0][RTP].timestamp for f in frames]
    assert [(b - a) % 2**32 for a, b in zip(stamps, stamps[1:])] == [3000, 3000]
    sr = [p for p in decode_negotiated_flows(packets) if RTCP in p][0][RTCP]
    assert sr.sender_info.sender_packet_count == len(rtp)
    assert all(p.time > q.time for p, q in zip(packets[1:], packets))


def test_defect_knobs_drop_duplicate_swap_and_field_edit(tmp_path):
    b = SessionBuilder()
    b.start(handshake=False)
    pkts = [p for f in b.frames(6) for p in f]
    b.drop(pkts[1])
    b.duplicate(pkts[2])
    b.swap(pkts[3], pkts[4])
    pkts[5][RTP].version = 1
    rtp = _rtp_packets(b.write(tmp_path / "d.pcap"))
    base = b.stream.seq0
    assert [p[RTP].sequence - base for p in rtp] == [0, 2, 2, 4, 3, 5]
    assert rtp[-1][RTP].version == 1


def test_interleaved_session_carries_rtp_in_the_rtsp_connection(tmp_path):
    b = SessionBuilder(lower=Lower.TCP)
    b.start()
    b.frames(2)
    b.sender_report()
    b.receiver_report()
    packets = rdpcap(str(b.write(tmp_path / "i.pcap")))
    assert not any(UDP in p for p in packets)
    frames = [p[RTSPInterleaved] for p in packets if RTSPInterleaved in p]
    assert [f.channel for f in frames] == [0, 0, 1, 1]
    assert RTCP in frames[2] and frames[2][RTCP].packet_type == 200
    assert frames[3][RTCP].packet_type == 201


def test_lab_frame_is_a_whole_jpeg_with_ssrc_zero(tmp_path):
    b = SessionBuilder()
    b.start(handshake=False)
    b.lab_frame(frame_number=1)
    b.lab_frame(frame_number=2)
    rtp = _rtp_packets(b.write(tmp_path / "lab.pcap"))
    assert [p[RTP].sequence for p in rtp] == [1, 2]
    assert all(p[RTP].sourcesync == 0 and p[RTP].marker == 0 for p in rtp)
    payload = bytes(rtp[0][RTP].payload)
    assert payload.startswith(b"\xff\xd8")
    assert Image.open(io.BytesIO(payload)).size == (64, 48)


def test_malformed_datagrams_have_their_defect():
    valid = valid_rtp_jpeg()
    m = {name: make() for name, make in MALFORMED_RTP.items()}
    assert all(data != valid for data in m.values())
    assert m["wrong_version"][0] >> 6 == 1
    assert m["bad_csrc_count"][0] & 0x0F == 15 and len(m["bad_csrc_count"]) < 12 + 60
    pad = m["padding_beyond_payload"]
    assert pad[0] & 0x20 and pad[-1] > len(pad) - 12
    assert 12 < len(m["truncated_jpeg_header"]) < 12 + 8
    assert int.from_bytes(m["offset_past_end"][13:16], "big") > len(valid)
    assert RTP(m["zero_width"])[JPEG].width == 0
    qt = RTP(m["qtable_length_beyond_packet"])[JPEGQuantizationTable]
    assert qt.length > len(m["qtable_length_beyond_packet"])
    assert len(m["too_short"]) < 12 and len(m["header_only"]) == 12
    ext = m["extension_beyond_packet"]
    assert ext[0] & 0x10 and struct.unpack_from("!H", ext, 14)[0] * 4 > len(ext)


def test_send_udp_delivers_the_bytes():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        port = rx.getsockname()[1]
        datagrams = [make() for make in MALFORMED_RTP.values()]
        assert send_udp(datagrams, "127.0.0.1", port) == len(datagrams)
        received = [rx.recv(65536) for _ in datagrams]
    assert received == datagrams


@pytest.mark.interop
def test_tshark_decodes_the_crafted_session_without_decode_as(tmp_path):
    require_tool("tshark")
    b = SessionBuilder()
    b.start()
    frames = b.frames(4, width=320, height=240)
    b.sender_report()
    b.udp_noise()
    b.teardown()
    path = b.write(tmp_path / "s.pcap")
    n_rtp = sum(len(f) for f in frames)

    def count(display_filter: str, pcap: Path = path) -> int:
        out = subprocess.run(
            ["tshark", "-r", str(pcap), "-Y", display_filter],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        return len(out.splitlines())

    assert count("rtp") == n_rtp
    assert count("rtcp.pt == 200") == 1
    assert count("rtsp.request") == 5
    assert count("jpeg.main_hdr.offset == 0") == 4
    assert count("rtp.marker == 1") == 4
    # Interleaved in the RTSP connection: tshark finds the RTP by the channel from SETUP.
    t = SessionBuilder(lower=Lower.TCP)
    t.start()
    frames = t.frames(3)
    t.sender_report()
    interleaved = t.write(tmp_path / "t.pcap")
    assert count("rtp", interleaved) == sum(len(f) for f in frames)
    assert count("rtcp.pt == 200", interleaved) == 1


def test_interleaved_packets_stay_editable_layers(tmp_path):
    b = SessionBuilder(lower=Lower.TCP)
    b.start()
    (frame,) = b.frames(1)
    frame[0][RTP].sequence = 7
    frame[0][JPEG].offset = 77
    packets = rdpcap(str(b.write(tmp_path / "e.pcap")))
    edited = [p for p in packets if RTSPInterleaved in p][0]
    assert edited[RTP].sequence == 7 and edited[JPEG].offset == 77


def test_rtsp_defect_knobs(tmp_path):
    b = SessionBuilder()
    b.handshake()
    b.request("OPTIONS")
    b.response(cseq=99)
    b.request("DESCRIBE")
    b.response(body=b"v=0\r\n", content_length=50)
    b.setup()
    b.play(reply_session="OTHER")
    (bare,) = b.frame(include_qtable=False)
    text = b"".join(
        bytes(p[TCP].payload) for p in rdpcap(str(b.write(tmp_path / "r.pcap"))) if TCP in p
    )
    assert b"CSeq: 99\r\n" in text and b"Content-Length: 50\r\n\r\nv=0" in text
    assert b"PLAY" in text and b"Session: OTHER\r\n" in text
    rtp = _rtp_packets(tmp_path / "r.pcap")
    # Q=255 at offset 0 but the scan data follows the main header straight away.
    scan = read_scan_image(make_test_jpeg(64, 48, index=0)).scan
    assert rtp[0][JPEG].q == 255
    assert bytes(rtp[0][RTP].payload)[8:] == scan == bytes(bare[RTP].payload)[8:]


def test_malformed_rtcp_datagrams_have_their_defect():
    valid = valid_rtcp_sr()
    first = RTCP(valid)
    assert first.packet_type == 200 and first.payload.packet_type == 202
    m = {name: make() for name, make in MALFORMED_RTCP.items()}
    assert all(data != valid for data in m.values())
    assert m["wrong_version"][0] >> 6 == 1
    assert (struct.unpack_from("!H", m["length_beyond_datagram"], 2)[0] + 1) * 4 > len(
        m["length_beyond_datagram"]
    )
    assert struct.unpack_from("!H", m["length_too_small"], 2)[0] == 0
    assert m["compound_starts_with_sdes"][1] == 202
    assert m["report_count_beyond_length"][0] & 0x1F == 31
    assert len(m["report_count_beyond_length"]) < 8 + 24
    assert len(m["truncated_header"]) < 4
    pad = m["padding_count_beyond_packet"]
    assert pad[0] & 0x20 and pad[-1] > len(pad)
    assert m["unknown_type"][1] not in (200, 201, 202, 203, 204)
    # Our layers read each without raising: the checker can show them.
    for data in m.values():
        if len(data) >= 4:
            RTCP(data).summary()


def test_bye_closes_a_compound_packet_and_lab_frames_count_from_one(tmp_path):
    b = SessionBuilder()
    b.start(handshake=False)
    b.lab_frames(3)
    b.bye(reason="done")
    packets = decode_negotiated_flows(rdpcap(str(b.write(tmp_path / "bye.pcap"))))
    assert [p[RTP].sequence for p in packets if RTP in p] == [1, 2, 3]
    rtcp = [p[RTCP] for p in packets if RTCP in p][0]
    kinds = [rtcp.packet_type, rtcp.payload.packet_type, rtcp.payload.payload.packet_type]
    assert kinds == [200, 202, 203]
    bye = rtcp.payload.payload
    assert bye.bye_sources == [b.stream.ssrc] and bye.trailer.startswith(b"\x04done")
