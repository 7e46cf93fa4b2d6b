"""Live capture of real sessions: ffmpeg playing from the project's rtsp-server, over UDP and
interleaved TCP, captured on lo; tshark and our Scapy layers must count the same RTP."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from realtools import require_raw_socket, require_tool
from scapy.utils import rdpcap

from analysis.capture import Capture
from analysis.layers import RTCP, RTP, TCP, UDP, decode_negotiated_flows

pytestmark = [pytest.mark.capture, pytest.mark.interop]


@pytest.fixture(scope="module")
def server_port(lab_movie) -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-m", "rtsp_server.cli", "--host", "127.0.0.1",
                             "--port", "0", "--media", str(lab_movie)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        match = None
        for _ in range(50):
            line = proc.stderr.readline()
            match = re.search(r"rtsp://127\.0\.0\.1:(\d+)/", line)
            if match or not line:
                break
        assert match, "rtsp-server did not start"
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield int(match.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _tshark_jpeg_rtp_sequences(pcap, rtsp_port: int) -> list[int]:
    """RTP sequence numbers of PT 26 as tshark reads them (several per TCP segment).

    The RTSP port is named because Wireshark knows RTSP only on 554/8554; the RTP is then
    found through the SETUP exchange, with no "Decode As" for RTP.
    """
    out = subprocess.run(["tshark", "-r", str(pcap), "-d", f"tcp.port=={rtsp_port},rtsp",
                          "-Y", "rtp.p_type == 26", "-T", "fields", "-e", "rtp.seq"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
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


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_capture_of_ffmpeg_playing_from_our_server(server_port, transport, tmp_path):
    require_raw_socket()
    require_tool("ffmpeg", "tshark")
    pcap = tmp_path / f"{transport}.pcap"
    with Capture("lo", server_port, pcap) as cap:
        subprocess.run(["ffmpeg", "-v", "error", "-rtsp_transport", transport, "-i",
                        f"rtsp://127.0.0.1:{server_port}/movie.Mjpeg", "-t", "1", "-f", "null",
                        "-"], check=True, capture_output=True, timeout=60)
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
        sequences = [p[RTP].sequence for p in packets
                     if UDP in p and RTP in p and p[RTP].payload_type == 26]
        # UDP GSO super-datagrams were cut: each packet is one RTP packet of <= the MTU.
        assert all(len(p[UDP]) <= 1400 for p in packets if UDP in p)
    else:
        assert not any(UDP in p for p in packets)
        sequences = _interleaved_rtp_sequences(packets, server_port)
    assert len(sequences) > 20
    # Each packet once, none missing.
    assert [(s - sequences[0]) % 65536 for s in sequences] == list(range(len(sequences)))
    assert _tshark_jpeg_rtp_sequences(pcap, server_port) == sequences
