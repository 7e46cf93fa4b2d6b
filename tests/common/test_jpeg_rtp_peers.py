"""RFC 2435 interop with real peers: GStreamer both ways, ffmpeg as a receiver."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
from media_samples import SUB_422, make_jpeg, pixels
from realtools import require_tool

from rtsp_common.jpeg import packetize
from rtsp_common.jpeg_depacketizer import Depacketizer
from rtsp_common.rtp import RTPPacket, pack_header

pytestmark = pytest.mark.interop

JPEG_PAYLOAD_TYPE = 26  # RFC 3551 static payload type for JPEG
RTP_CAPS = "application/x-rtp,media=video,clock-rate=90000,encoding-name=JPEG,payload=26"
FRAME_TICKS = 3000  # 30 fps at the 90 kHz clock

SOURCES = {
    "420": make_jpeg(320, 240, quality=80),
    "422-restart": make_jpeg(320, 240, subsampling=SUB_422, quality=70, restart_marker_rows=1),
}


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_gstreamer_depayloads_our_packets(name, tmp_path):
    gst = require_tool("gst-launch-1.0")["gst-launch-1.0"]
    source = SOURCES[name]
    port = _free_udp_port()
    pattern = tmp_path / "frame%05d.jpg"
    pipeline = subprocess.Popen(
        [gst, "-q", "udpsrc", "address=127.0.0.1", f"port={port}", f"caps={RTP_CAPS}",
         "!", "rtpjpegdepay", "!", "multifilesink", f"location={pattern}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    frames: list = []

    def two_frames_written() -> bool:
        frames[:] = sorted(tmp_path.glob("frame*.jpg"))
        return len(frames) >= 2 or pipeline.poll() is not None

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            # The pipeline gives no sign when it listens: send until it has written frames.
            _send_frames_until(
                sock, port, packetize(source, 600), two_frames_written, time.monotonic() + 20
            )
    finally:
        pipeline.terminate()
        _, err = pipeline.communicate(timeout=10)
    assert len(frames) >= 2, f"GStreamer wrote {len(frames)} frames: {err.decode(errors='replace')}"
    # multifilesink closes a file before it opens the next: every file but the last is whole.
    for frame in frames[:-1]:
        assert pixels(frame.read_bytes()) == pixels(source)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_we_depacketize_gstreamer_rtpjpegpay(name, tmp_path):
    gst = require_tool("gst-launch-1.0")["gst-launch-1.0"]
    source = SOURCES[name]
    path = tmp_path / "source.jpg"
    path.write_bytes(source)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        port = sock.getsockname()[1]
        result = subprocess.run(
            [gst, "-q", "filesrc", f"location={path}", "!", "jpegparse", "!",
             "rtpjpegpay", "mtu=600", "!", "udpsink", "host=127.0.0.1", f"port={port}"],
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        dep = Depacketizer()
        frame = None
        packets = 0
        while frame is None:
            packet = RTPPacket.parse(sock.recv(65536))
            packets += 1
            frame = dep.push(packet.payload, packet.timestamp, packet.marker)
    assert packets > 3
    assert pixels(frame) == pixels(source)


def _send_frames_until(sock, port: int, payloads: list[bytes], done, deadline: float) -> None:
    """Send the frame again and again (new timestamp each time) until ``done()`` or the deadline."""
    sequence = 0
    index = 0
    while not done() and time.monotonic() < deadline:
        for i, payload in enumerate(payloads):
            last = i == len(payloads) - 1
            header = pack_header(JPEG_PAYLOAD_TYPE, sequence, index * FRAME_TICKS, 0x1234, last)
            sock.sendto(header + payload, ("127.0.0.1", port))
            sequence = (sequence + 1) & 0xFFFF
        index += 1
        time.sleep(0.05)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_ffmpeg_depayloads_our_packets(name, tmp_path):
    ffmpeg = require_tool("ffmpeg")["ffmpeg"]
    source = SOURCES[name]
    port = _free_udp_port()
    sdp = tmp_path / "stream.sdp"
    sdp.write_text(
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=rfc2435\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=video {port} RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\n"
    )
    # ffmpeg's RTP/JPEG depacketizer rebuilds each JPEG; -c copy writes it untouched.
    process = subprocess.Popen(
        [ffmpeg, "-v", "error", "-protocol_whitelist", "file,udp,rtp", "-i", str(sdp),
         "-c", "copy", "-frames:v", "3", "-f", "image2", str(tmp_path / "frame%02d.jpg")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            _send_frames_until(
                sock,
                port,
                packetize(source, 600),
                lambda: process.poll() is not None,
                time.monotonic() + 30,
            )
    finally:
        if process.poll() is None:
            process.terminate()
        _, err = process.communicate(timeout=10)
    frames = sorted(tmp_path.glob("frame*.jpg"))
    assert len(frames) == 3, err.decode(errors="replace")
    assert pixels(frames[-1].read_bytes()) == pixels(source)
