"""Live capture of real sessions: ffmpeg playing from the project's rtsp-server, over UDP and
interleaved TCP, captured on lo; tshark and our Scapy layers must count the same RTP."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
from gst_peer import gst_rtsp_server, make_mkv_clip, require_gst_peer
from realtools import require_raw_socket, require_tool
from scapy.utils import rdpcap
from server_process import rtsp_server_process

from analysis.capture.live import Capture
from analysis.layers import (
    JPEG,
    RTCP,
    RTP,
    TCP,
    UDP,
    JPEGQuantizationTable,
    decode_negotiated_flows,
)

pytestmark = [pytest.mark.capture, pytest.mark.interop]


@pytest.fixture(scope="module")
def server_port(lab_movie) -> Iterator[int]:
    with rtsp_server_process(lab_movie) as server:
        yield server.port


def _tshark_jpeg_rtp_sequences(pcap, rtsp_port: int) -> list[int]:
    """RTP sequence numbers of PT 26 as tshark reads them (several per TCP segment).

    The RTSP port is named because Wireshark knows RTSP only on 554/8554; the RTP is then
    found through the SETUP exchange, with no "Decode As" for RTP.
    """
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(pcap),
            "-d",
            f"tcp.port=={rtsp_port},rtsp",
            "-Y",
            "rtp.p_type == 26",
            "-T",
            "fields",
            "-e",
            "rtp.seq",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [int(seq) for line in out.split() for seq in line.split(",")]


def _interleaved_rtp_sequences(packets, rtsp_port: int) -> list[int]:
    """Reassemble the server-to-client TCP stream and read its '$' frames on channel 0."""
    segments = {}
    for p in packets:
        if TCP in p and p[TCP].sport == rtsp_port and len(p[TCP].payload):
            segments[p[TCP].seq] = bytes(p[TCP].payload)
    stream = b"".join(segments[k] for k in sorted(segments))
    sequences = []
    i = 0
    while i < len(stream):
        if stream[i : i + 1] == b"$":
            channel, size = stream[i + 1], int.from_bytes(stream[i + 2 : i + 4], "big")
            if channel == 0:
                sequences.append(int.from_bytes(stream[i + 6 : i + 8], "big"))
            i += 4 + size
        else:  # an RTSP reply: skip past its blank line (none of them has a body here)
            i = stream.index(b"\r\n\r\n", i) + 4
    return sequences


_FIELDS = [
    "frame.number",
    "rtp.seq",
    "rtp.timestamp",
    "rtp.ssrc",
    "rtp.marker",
    "rtp.p_type",
    "jpeg.main_hdr.offset",
    "jpeg.main_hdr.type",
    "jpeg.main_hdr.q",
    "jpeg.main_hdr.width",
    "jpeg.main_hdr.height",
    "jpeg.qtable_hdr.length",
]


def _assert_fields_agree_with_tshark(pcap, rtsp_port: int) -> int:
    """Our Scapy layers and tshark read the same RTP and RFC 2435 fields, packet by packet
    (UDP captures: one RTP packet per frame). Returns the number of packets compared."""
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(pcap),
            "-d",
            f"tcp.port=={rtsp_port},rtsp",
            "-Y",
            "rtp.p_type == 26 && udp",
            "-T",
            "fields",
            *[arg for f in _FIELDS for arg in ("-e", f)],
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    packets = decode_negotiated_flows(rdpcap(str(pcap)))
    compared = 0
    for line in out.splitlines():
        values = line.split("\t")
        number = int(values[0])
        pkt = packets[number - 1]
        rtp, jpeg = pkt[RTP], pkt[JPEG]
        qt = pkt[JPEGQuantizationTable].length if JPEGQuantizationTable in pkt else None
        ours = [
            rtp.sequence,
            rtp.timestamp,
            rtp.sourcesync,
            rtp.marker,
            rtp.payload_type,
            jpeg.offset,
            jpeg.type,
            jpeg.q,
            jpeg.width_pixels,
            jpeg.height_pixels,
            qt,
        ]
        theirs = [
            int(v, 0) if v not in ("", "False", "True") else {"": None, "False": 0, "True": 1}[v]
            for v in values[1:]
        ]
        assert ours == theirs, f"packet {number}: ours {ours} tshark {theirs}"
        compared += 1
    return compared


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_capture_of_ffmpeg_playing_from_our_server(server_port, transport, tmp_path):
    require_raw_socket()
    require_tool("ffmpeg", "tshark")
    pcap = tmp_path / f"{transport}.pcap"
    with Capture("lo", server_port, pcap) as cap:
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-rtsp_transport",
                transport,
                "-i",
                f"rtsp://127.0.0.1:{server_port}/movie.Mjpeg",
                "-t",
                "1",
                "-f",
                "null",
                "-",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        time.sleep(0.1)
    summary = cap.stop()
    assert summary.kernel_drops == 0
    packets = decode_negotiated_flows(rdpcap(str(pcap)))
    assert len(packets) == summary.packets_written
    text = b"".join(bytes(p[TCP].payload) for p in packets if TCP in p)
    assert text.count(b"SETUP rtsp://") == 1 and b"TEARDOWN" in text
    if transport == "udp":
        assert len(summary.negotiated_ports) == 4
        # Every UDP datagram kept is RTP or RTCP of the session (ffmpeg also sends one
        # empty RTP packet to open NAT bindings).
        assert all(UDP not in p or RTP in p or RTCP in p for p in packets)
        sequences = [
            p[RTP].sequence for p in packets if UDP in p and RTP in p and p[RTP].payload_type == 26
        ]
        # UDP GSO super-datagrams were cut: each packet is one RTP packet of <= the MTU.
        assert all(len(p[UDP]) <= 1400 for p in packets if UDP in p)
    else:
        assert not any(UDP in p for p in packets)
        sequences = _interleaved_rtp_sequences(packets, server_port)
    assert len(sequences) > 20
    # Each packet once, none missing.
    assert [(s - sequences[0]) % 65536 for s in sequences] == list(range(len(sequences)))
    assert _tshark_jpeg_rtp_sequences(pcap, server_port) == sequences
    if transport == "udp":
        assert _assert_fields_agree_with_tshark(pcap, server_port) == len(sequences)


@pytest.fixture(scope="module")
def gst_port(tmp_path_factory) -> Iterator[int]:
    require_gst_peer()
    with gst_rtsp_server(make_mkv_clip(tmp_path_factory.mktemp("gst"))) as peer:
        yield peer.port


def test_capture_of_ffmpeg_playing_from_gstreamer(gst_port, tmp_path):
    require_raw_socket()
    require_tool("ffmpeg", "tshark")
    pcap = tmp_path / "gst.pcap"
    with Capture("lo", gst_port, pcap) as cap:
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-rtsp_transport",
                "udp",
                "-i",
                f"rtsp://127.0.0.1:{gst_port}/clip",
                "-t",
                "1",
                "-f",
                "null",
                "-",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        time.sleep(0.1)
    summary = cap.stop()
    assert summary.kernel_drops == 0
    sequences = _tshark_jpeg_rtp_sequences(pcap, gst_port)
    assert len(sequences) > 20
    assert [(s - sequences[0]) % 65536 for s in sequences] == list(range(len(sequences)))
    assert _assert_fields_agree_with_tshark(pcap, gst_port) == len(sequences)
