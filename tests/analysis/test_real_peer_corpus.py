"""The checker on captures of real implementations, made at test time: GStreamer's
rtsp-server (H.264 or JPEG video with G.711 audio) played by ffmpeg and by GStreamer's
rtspsrc over UDP and TCP, ffmpeg's RTP muxer; and the same traffic captured headers-only
(snap length 200), gzip- and zstd-compressed, from the middle of a session, and twice over
(a loopback double capture). The lab's dialect is test_lab_capture.py's.

For each capture the failed rules (any severity) are stated and asserted exactly: a new
false alarm fails as surely as a missed fault. Packet and loss counts agree with
`tshark -z rtp,streams` exactly, jitter within 5 % per stream, 8 kHz audio included.
"""

from __future__ import annotations

import gzip
import subprocess
import time
from pathlib import Path

import pytest
from gst_peer import gst_rtsp_server, require_gst_peer
from local_ports import free_port
from loopback_double_capture import scapy_double_capture
from realtools import require_raw_socket, require_tool
from tshark_streams import (
    check_streams,
    counts,
    jitter_disagreements,
    live_capture,
    media_rows,
    tshark_rtp_packets,
    tshark_rtp_streams,
)

from analysis.check import CheckResult, check_capture
from analysis.rules import Outcome
from analysis.sessions.sdp_sources import read_sdp_file

pytestmark = [pytest.mark.interop, pytest.mark.capture]

# GStreamer pipelines for its rtsp-server: H.264 (openh264) or JPEG video, G.711 audio in
# 20 ms packets (160 samples at 8 kHz), as IP cameras send them.
H264_PCMU = (
    "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=25/1 "
    "! openh264enc ! rtph264pay name=pay0 pt=96 config-interval=1 "
    "audiotestsrc is-live=true samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1 "
    "! mulawenc ! rtppcmupay name=pay1"
)
JPEG_PCMA = (
    "videotestsrc is-live=true ! video/x-raw,format=I420,width=320,height=240,framerate=15/1 "
    "! jpegenc quality=50 ! rtpjpegpay name=pay0 pt=26 "
    "audiotestsrc is-live=true samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1 "
    "! alawenc ! rtppcmapay name=pay1"
)
# B-frames, but a short lookahead: with x264's default of 40 frames, -re paces the input
# while the encoder sends its last frames in a burst at the end (a true pacing fault that
# RTP-CLK-1 names, but not the clean sender this capture is meant to be).
X264_REALTIME = "rc-lookahead=4:sync-lookahead=0"
PORT_SPAN = 9  # client UDP ports low..low+9: two streams, RTP and RTCP each, and spare
PLAY_S = 6  # seconds each client plays
REPORTS_S = 11  # long enough for two RTCP sender reports per source (RFC 3550 §6.2: 5 s)


def failed(result: CheckResult) -> set[str]:
    return {r.rule.id for r in result.rules if r.outcome is Outcome.FAILED}


def not_applicable(result: CheckResult, rule_id: str) -> str:
    r = result.result(rule_id)
    assert r.outcome is Outcome.NOT_APPLICABLE, (rule_id, r.outcome, r.evidence)
    return r.evidence


def udp_filter(rtsp_port: int, low: int) -> str:
    return f"tcp port {rtsp_port} or (udp and portrange {low}-{low + PORT_SPAN})"


def ffmpeg_play(url: str, low: int, transport: str = "udp", seconds: float = PLAY_S) -> list:
    return [
        "ffmpeg", "-loglevel", "error", "-rtsp_transport", transport,
        "-min_port", str(low), "-max_port", str(low + PORT_SPAN), "-i", url,
        "-t", str(seconds), "-f", "null", "-",
    ]  # fmt: skip


def assert_agrees_with_tshark(result: CheckResult, pcap: Path, **tshark_options) -> dict:
    theirs = media_rows(result, tshark_rtp_streams("tshark", pcap, **tshark_options))
    ours = check_streams(result)
    assert counts(ours) == counts(theirs)
    assert jitter_disagreements(ours, theirs) == []
    return theirs


@pytest.fixture(scope="module")
def tools():
    require_raw_socket()
    require_gst_peer()
    return require_tool("tshark", "ffmpeg", "gst-launch-1.0", "editcap")


@pytest.fixture(scope="module")
def h264_pcmu_by_ffmpeg(tools, tmp_path_factory) -> tuple[Path, int]:
    """GStreamer serving H.264 + PCMU, played by ffmpeg over UDP (with its NAT punches)."""
    pcap = tmp_path_factory.mktemp("ffmpeg") / "gst-h264-pcmu-ffmpeg.pcap"
    low = free_port(pair=True)
    with gst_rtsp_server(launch=H264_PCMU, path="/av") as peer:
        with live_capture(tools["tshark"], pcap, udp_filter(peer.port, low)):
            subprocess.run(ffmpeg_play(peer.url, low, seconds=REPORTS_S), check=True, timeout=90)
        return pcap, peer.port


def test_gstreamer_h264_and_pcmu_played_by_ffmpeg(h264_pcmu_by_ffmpeg):
    pcap, rtsp_port = h264_pcmu_by_ffmpeg
    result = check_capture(pcap)
    assert failed(result) == set()
    (session,) = result.sessions
    video, audio = sorted(session.streams, key=lambda s: s.fmt.media != "video")
    assert (video.fmt.encoding, video.clock_rate, video.fmt.source) == (
        "H264",
        90000,
        "SDP a=rtpmap",
    )
    assert (audio.fmt.encoding, audio.clock_rate) == ("PCMU", 8000)
    assert audio.stats.frames is None and video.stats.frames > 100  # audio has no frames
    assert abs(audio.stats.drift_ppm) < 2000  # not the -911111 ppm of a 90 kHz guess
    # ffmpeg's NAT punches, one toward each server RTP port: named, never judged.
    punches = [n for n in result.non_media if n.keepalive]
    assert len(punches) == 2 and all("ffmpeg" in n.kind for n in punches)
    assert result.result("RTCP-SR-2").outcome is Outcome.PASSED  # exact at 8 kHz
    theirs = assert_agrees_with_tshark(result, pcap, rtsp_port=rtsp_port)
    assert any(row["payload"] == "g711U" and row["max_jitter"] > 0 for row in theirs.values())


def test_gzip_compressed_capture_reads_the_same(h264_pcmu_by_ffmpeg, tmp_path):
    pcap, _ = h264_pcmu_by_ffmpeg
    packed = tmp_path / (pcap.name + ".gz")
    packed.write_bytes(gzip.compress(pcap.read_bytes()))
    plain, unpacked = check_capture(pcap), check_capture(packed)
    assert unpacked.error is None and unpacked.packets_read == plain.packets_read
    assert [r.to_dict() for r in unpacked.rules] == [r.to_dict() for r in plain.rules]
    assert any("gzip" in note for note in unpacked.notes)


def test_gstreamer_jpeg_and_pcma_played_by_rtspsrc(tools, tmp_path):
    """GStreamer's own client sends 200-byte NAT probes toward the server's ports."""
    pcap = tmp_path / "gst-jpeg-pcma-rtspsrc.pcap"
    low = free_port(pair=True)
    with gst_rtsp_server(launch=JPEG_PCMA, path="/av") as peer:
        with live_capture(tools["tshark"], pcap, udp_filter(peer.port, low)):
            subprocess.run(
                ["timeout", "-s", "INT", str(PLAY_S), tools["gst-launch-1.0"], "-q", "-e",
                 "rtspsrc", f"location={peer.url}", "protocols=udp",
                 f"port-range={low}-{low + PORT_SPAN}", "name=s",
                 "s.", "!", "queue", "!", "fakesink", "s.", "!", "queue", "!", "fakesink"],
                timeout=90,
            )  # fmt: skip
        rtsp_port = peer.port
    result = check_capture(pcap)
    assert failed(result) == set()
    probes = [n for n in result.non_media if "GStreamer" in n.kind]
    assert probes and all(n.keepalive and n.session_id for n in probes)
    kinds = {(s.fmt.encoding, s.clock_rate) for s in result.streams}
    assert kinds == {("JPEG", 90000), ("PCMA", 8000)}
    assert result.result("JPEG-DEC-1").outcome is Outcome.PASSED
    assert_agrees_with_tshark(result, pcap, rtsp_port=rtsp_port)


def test_gstreamer_over_interleaved_tcp_played_by_ffmpeg(tools, tmp_path):
    pcap = tmp_path / "gst-h264-pcmu-tcp.pcap"
    with gst_rtsp_server(launch=H264_PCMU, path="/av") as peer:
        with live_capture(tools["tshark"], pcap, f"tcp port {peer.port}"):
            subprocess.run(ffmpeg_play(peer.url, 0, "tcp", 3), check=True, timeout=90)
        rtsp_port = peer.port
    result = check_capture(pcap)
    assert failed(result) == set()
    assert {(s.transport, s.fmt.encoding) for s in result.streams} == {
        ("tcp", "H264"),
        ("tcp", "PCMU"),
    }
    assert counts(check_streams(result)) == counts(tshark_rtp_packets("tshark", pcap, rtsp_port))


def test_ffmpeg_rtp_muxer_audio_and_h264_without_sdp(tools, tmp_path):
    """RTP alone: PCMU on its static clock, H.264 with B-frames on a dynamic payload type
    whose clock nothing in the capture gives: judged without a guessed 90 kHz."""
    pcap = tmp_path / "ffmpeg-rtp-muxer.pcap"
    sdp = tmp_path / "h264.sdp"
    low = free_port(pair=True)
    audio, video = low, low + 2
    with live_capture(tools["tshark"], pcap, f"udp and portrange {low}-{low + 3}"):
        senders = [
            subprocess.Popen(
                ["ffmpeg", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
                 "sine=frequency=440:sample_rate=8000:samples_per_frame=160", "-t", "3",
                 "-c:a", "pcm_mulaw", "-pkt_size", "172", "-f", "rtp",
                 f"rtp://127.0.0.1:{audio}"]
            ),
            subprocess.Popen(
                ["ffmpeg", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
                 "testsrc=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-bf", "2",
                 "-g", "25", "-x264-params", X264_REALTIME, "-f", "rtp", "-sdp_file", str(sdp),
                 f"rtp://127.0.0.1:{video}"]
            ),
        ]  # fmt: skip
        for sender in senders:
            assert sender.wait(timeout=90) == 0
    result = check_capture(pcap)
    assert failed(result) == set()
    by_port = {s.dst.port: s for s in result.streams}
    assert (by_port[audio].fmt.encoding, by_port[audio].clock_rate) == ("PCMU", 8000)
    h264 = by_port[video]
    assert h264.clock_rate is None and h264.stats.jitter_ms is None
    assert "dynamic payload type 96 without SDP" in h264.fmt.unknown_clock_reason
    # Rules that need the video's clock say why they cannot judge it.
    for rule_id in ("RTP-CLK-1", "RTP-JIT-1"):
        evidence = result.result(rule_id).evidence
        assert f"SSRC {h264.ssrc:#010x} (clock rate unknown (dynamic payload type 96" in evidence
    assert_agrees_with_tshark(result, pcap, rtp_ports=[audio, video])
    # With the SDP ffmpeg writes, the video's clock and encoding are known.
    described = check_capture(pcap, sdps=[read_sdp_file(sdp)])
    assert failed(described) == set()
    h264 = next(s for s in described.streams if s.dst.port == video)
    assert (h264.fmt.encoding, h264.clock_rate, h264.stats.frames > 50) == ("H264", 90000, True)
    assert described.result("RTP-TS-2").evidence == result.result("RTP-TS-2").evidence


def test_headers_only_capture_judges_headers_and_not_payloads(tools, tmp_path):
    pcap = tmp_path / "snaplen-200.pcap"
    low = free_port(pair=True)
    with gst_rtsp_server(launch=JPEG_PCMA, path="/av") as peer:
        with live_capture(tools["tshark"], pcap, udp_filter(peer.port, low), snaplen=200):
            subprocess.run(ffmpeg_play(peer.url, low, seconds=3), check=True, timeout=90)
        rtsp_port = peer.port
    result = check_capture(pcap)
    assert result.error is None and failed(result) == set()
    assert any("snap length" in note for note in result.notes)
    for rule_id in ("JPEG-HDR-1", "JPEG-FRAG-1", "JPEG-DEC-1", "RTP-TS-1"):
        assert not_applicable(result, rule_id).startswith("payload cut by snap length")
    for rule_id in ("RTP-SEQ-1", "RTP-VER-1", "RTP-SSRC-1"):
        assert result.result(rule_id).outcome is Outcome.PASSED, rule_id
    assert_agrees_with_tshark(result, pcap, rtsp_port=rtsp_port)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_capture_started_mid_session(tools, tmp_path, transport):
    """The capture begins after SETUP and PLAY: the flows are found by validity, no port or
    state is blamed on the server."""
    pcap = tmp_path / f"mid-session-{transport}.pcap"
    low = free_port(pair=True)
    with gst_rtsp_server(launch=H264_PCMU, path="/av") as peer:
        player = subprocess.Popen(ffmpeg_play(peer.url, low, transport, 5))
        try:
            time.sleep(1.5)
            with live_capture(tools["tshark"], pcap, udp_filter(peer.port, low)):
                assert player.wait(timeout=90) == 0
        finally:
            player.kill()
            player.wait()
    result = check_capture(pcap)
    assert failed(result) == set()
    assert any("mid-session" in note for note in result.notes)
    assert {s.fmt.encoding for s in result.streams} == {None, "PCMU"}  # no SDP: 96 unknown
    assert not_applicable(result, "RTSP-PORT-1")
    if transport == "udp":
        assert_agrees_with_tshark(result, pcap, heuristic=True)


def test_loopback_double_capture_is_read_once(tools, tmp_path):
    pcap = tmp_path / "double.pcap"
    low = free_port(pair=True)
    with gst_rtsp_server(launch=JPEG_PCMA, path="/av") as peer:
        with scapy_double_capture(pcap, udp_filter(peer.port, low)):
            subprocess.run(ffmpeg_play(peer.url, low, seconds=3), check=True, timeout=90)
        rtsp_port = peer.port
    result = check_capture(pcap)
    assert failed(result) == set()
    assert result.traffic.duplicates.count * 2 >= result.packets_read - 2
    assert all(s.stats.lost == 0 and s.stats.duplicates == 0 for s in result.streams)
    # tshark on the same packets without the copies (editcap -D drops exact repeats).
    once = tmp_path / "once.pcap"
    subprocess.run([tools["editcap"], "-D", "5", str(pcap), str(once)], check=True, timeout=60)
    theirs = media_rows(result, tshark_rtp_streams("tshark", once, rtsp_port=rtsp_port))
    assert counts(check_streams(result)) == counts(theirs)
    assert jitter_disagreements(check_streams(result), theirs) == []


def test_zstd_capture_without_its_module_names_the_tool(h264_pcmu_by_ffmpeg, tmp_path, capsys):
    zstd = require_tool("zstd")["zstd"]
    pcap, _ = h264_pcmu_by_ffmpeg
    packed = tmp_path / "capture.pcap.zst"
    subprocess.run([zstd, "-q", "-o", str(packed), str(pcap)], check=True, timeout=60)
    from workbench.cli import main

    try:
        import zstandard  # noqa: F401
    except ImportError:
        assert main(["check", str(packed)]) == 2
        assert "zstd -d" in capsys.readouterr().err
    else:
        assert main(["check", str(packed)]) == 0
