"""tshark and `check` agree on RTP packet counts, loss and SSRCs: on crafted captures,
on ffmpeg's RTP sender, and on GStreamer's rtsp-server played by ffmpeg; the real
captures give zero errors."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest
from analysis_corpus import DEFECTS, clean_session
from gst_peer import gst_rtsp_server, make_mkv_clip, require_gst_peer
from local_ports import free_port
from realtools import require_raw_socket, require_tool
from server_process import rtsp_server_process
from tshark_streams import (
    check_streams,
    counts,
    jitter_disagreements,
    live_capture,
    media_rows,
    tshark_rtp_packets,
    tshark_rtp_streams,
)

from analysis.check import check_capture
from analysis.rules import Severity


def assert_agree(
    tshark: str, path: Path, result, rtp_ports: list[int] = (), rtsp_port: int | None = None
) -> None:
    """Packet and loss counts exactly as tshark's, jitter within 5 % per stream (where tshark
    knows the clock); tshark's rows for keep-alives are left out (they are not media)."""
    ours = check_streams(result)
    theirs = media_rows(result, tshark_rtp_streams(tshark, path, rtp_ports, rtsp_port))
    assert theirs, "tshark found no RTP stream"
    if any(s.transport == "tcp" for s in result.streams):
        # tshark's rtp,streams loss is wrong for interleaved RTP; its dissection is not.
        dissected = tshark_rtp_packets(tshark, path, rtsp_port)
        assert counts(ours) == counts(dissected)
        assert {k: v["packets"] for k, v in ours.items()} == {
            k: v["packets"] for k, v in theirs.items()
        }
        return
    assert counts(ours) == counts(theirs)
    assert jitter_disagreements(ours, theirs) == []


@pytest.mark.interop
@pytest.mark.parametrize("defect", [None, "gap", "duplicate", "reorder", "SSRC change"])
def test_crafted_captures_agree_with_tshark(tmp_path, defect):
    tshark = require_tool("tshark")["tshark"]
    session = clean_session()
    if defect:
        DEFECTS[defect][0](session)
    path = session.write(tmp_path / "crafted.pcap")
    assert_agree(tshark, path, check_capture(path))


def mjpeg_encoder_args() -> list[str]:
    # RFC 2435 carries only the standard Huffman tables: ask ffmpeg's encoder for them.
    return ["-c:v", "mjpeg", "-huffman", "default", "-pix_fmt", "yuvj420p"]


@pytest.mark.interop
@pytest.mark.capture
def test_ffmpeg_rtp_sender_capture_is_clean_and_agrees(tmp_path):
    tools = require_tool("tshark", "ffmpeg")
    require_raw_socket()
    port = free_port(pair=True)
    pcap = tmp_path / "ffmpeg.pcap"
    with live_capture(tools["tshark"], pcap, f"udp and (port {port} or port {port + 1})"):
        subprocess.run(
            [tools["ffmpeg"], "-loglevel", "error", "-re", "-f", "lavfi", "-i",
             "testsrc=size=320x240:rate=30", "-t", "2", *mjpeg_encoder_args(),
             "-f", "rtp", f"rtp://127.0.0.1:{port}"],
            check=True, timeout=60, capture_output=True,
        )  # fmt: skip
    result = check_capture(pcap)
    assert [(r.rule.id, r.evidence) for r in result.failures(Severity.WARNING)] == []
    (stream,) = result.streams
    assert stream.stats.frames >= 55 and stream.stats.complete_frames == stream.stats.frames
    assert stream.frames[0].width == 320 and stream.frames[0].height == 240
    assert 28 < stream.stats.fps < 32
    assert result.result("JPEG-DEC-1").evidence.startswith(f"{stream.stats.frames} frame")
    assert_agree(tools["tshark"], pcap, result, [port])


@pytest.fixture
def gst_server(tmp_path):
    require_gst_peer()
    with gst_rtsp_server(make_mkv_clip(tmp_path, seconds=3)) as peer:
        yield peer.port


@pytest.mark.interop
@pytest.mark.capture
def test_gstreamer_rtsp_server_session_is_clean_and_agrees(tmp_path, gst_server):
    tools = require_tool("tshark", "ffmpeg")
    require_raw_socket()
    low = free_port(pair=True)
    pcap = tmp_path / "gst.pcap"
    bpf = f"tcp port {gst_server} or (udp and portrange {low}-{low + 3})"
    with live_capture(tools["tshark"], pcap, bpf):
        subprocess.run(
            [tools["ffmpeg"], "-loglevel", "error", "-rtsp_transport", "udp",
             "-min_port", str(low), "-max_port", str(low + 3),
             "-i", f"rtsp://127.0.0.1:{gst_server}/clip", "-t", "2", "-f", "null", "-"],
            check=True, timeout=60, capture_output=True,
        )  # fmt: skip
    result = check_capture(pcap)
    assert [(r.rule.id, r.evidence) for r in result.failures(Severity.WARNING)] == []
    (session,) = result.sessions
    (stream,) = session.streams
    assert stream.session_id == session.id and stream.stats.frames >= 50
    for rule_id in ("RTSP-INFO-1", "RTP-SSRC-2", "RTP-PT-1", "RTSP-PLAY-1", "RTSP-SDP-1"):
        assert result.result(rule_id).outcome.value == "passed", rule_id
    assert_agree(tools["tshark"], pcap, result, rtsp_port=gst_server)


@pytest.mark.interop
def test_tshark_row_parser_reads_negative_loss(tmp_path):
    tshark = require_tool("tshark")["tshark"]
    session = clean_session()
    DEFECTS["duplicate"][0](session)
    path = session.write(tmp_path / "dup.pcap")
    (row,) = tshark_rtp_streams(tshark, path).values()
    assert row["lost"] == -1 and row["packets"] == 91


@pytest.mark.interop
@pytest.mark.parametrize("file_type", ["pcapng", "nsecpcap"])
def test_wireshark_rewritten_captures_read_the_same(tmp_path, file_type):
    """editcap rewrites a capture as pcapng or nanosecond pcap: same sessions, streams,
    packet numbers and verdicts."""
    editcap = require_tool("editcap")["editcap"]
    original = clean_session(interleaved=False).write(tmp_path / "orig.pcap")
    rewritten = tmp_path / f"copy.{file_type}"
    subprocess.run(
        [editcap, "-F", file_type, str(original), str(rewritten)], check=True, timeout=60
    )
    a, b = check_capture(original), check_capture(rewritten)
    assert b.packets_read == a.packets_read and b.error is None
    assert [r.to_dict() for r in b.rules] == [r.to_dict() for r in a.rules]
    assert [s.series()["pktno"] for s in b.streams] == [s.series()["pktno"] for s in a.streams]
    times_a, times_b = a.streams[0].series()["time"], b.streams[0].series()["time"]
    assert times_b == pytest.approx(times_a, abs=1e-6)


@pytest.mark.interop
def test_ipv6_crafted_capture_agrees_with_tshark(tmp_path):
    tshark = require_tool("tshark")["tshark"]
    session = clean_session(client_ip="2001:db8::2", server_ip="2001:db8::1")
    path = session.write(tmp_path / "v6.pcap")
    ours = check_streams(check_capture(path))
    theirs = tshark_rtp_streams(tshark, path)
    assert counts(ours) == counts(theirs)


@contextlib.contextmanager
def our_server_process(lab_movie: Path, *extra: str):
    """The project's rtsp-server serving the lab's movie at 30 fps: (port, RTP port, name)."""
    rtp = free_port(pair=True)
    with rtsp_server_process(lab_movie, "--fps", "30", "--rtp-port", str(rtp), *extra) as server:
        yield server.port, rtp, lab_movie.name


@pytest.fixture
def our_server(lab_movie):
    with our_server_process(lab_movie) as server:
        yield server


def play_with_ffmpeg(ffmpeg: str, url: str, transport: str, low: int) -> None:
    subprocess.run(
        [ffmpeg, "-loglevel", "error", "-rtsp_transport", transport,
         "-min_port", str(low), "-max_port", str(low + 3), "-i", url, "-t", "2", "-f", "null", "-"],
        check=True, timeout=60, capture_output=True,
    )  # fmt: skip


@pytest.mark.interop
@pytest.mark.capture
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_our_server_played_by_ffmpeg_is_clean_and_agrees(tmp_path, our_server, transport):
    tools = require_tool("tshark", "ffmpeg")
    require_raw_socket()
    port, rtp, name = our_server
    low = free_port(pair=True)
    pcap = tmp_path / f"ours-{transport}.pcap"
    bpf = f"tcp port {port} or (udp and (portrange {low}-{low + 3} or portrange {rtp}-{rtp + 1}))"
    with live_capture(tools["tshark"], pcap, bpf):
        play_with_ffmpeg(tools["ffmpeg"], f"rtsp://127.0.0.1:{port}/{name}", transport, low)
    result = check_capture(pcap)
    assert [(r.rule.id, r.evidence) for r in result.failures(Severity.WARNING)] == []
    (session,) = result.sessions
    (stream,) = session.streams
    assert stream.transport == transport and stream.stats.frames >= 50
    assert stream.frames[0].width == 640 and stream.frames[0].height == 480
    for rule_id in ("JPEG-DEC-1", "RTSP-INFO-1", "RTP-PT-1", "RTSP-PLAY-1", "RTSP-SDP-1"):
        assert result.result(rule_id).outcome.value == "passed", rule_id
    assert_agree(tools["tshark"], pcap, result, rtsp_port=port)


@pytest.mark.interop
@pytest.mark.capture
def test_gstreamer_over_interleaved_tcp_is_clean_and_agrees(tmp_path, gst_server):
    tools = require_tool("tshark", "ffmpeg")
    require_raw_socket()
    pcap = tmp_path / "gst-tcp.pcap"
    with live_capture(tools["tshark"], pcap, f"tcp port {gst_server}"):
        play_with_ffmpeg(tools["ffmpeg"], f"rtsp://127.0.0.1:{gst_server}/clip", "tcp", 40000)
    result = check_capture(pcap)
    assert [(r.rule.id, r.evidence) for r in result.failures(Severity.WARNING)] == []
    (stream,) = result.sessions[0].streams
    assert stream.transport == "tcp" and stream.stats.frames >= 50
    assert_agree(tools["tshark"], pcap, result, rtsp_port=gst_server)


@pytest.mark.interop
@pytest.mark.capture
def test_our_server_with_udp_gso_is_cut_into_packets_and_clean(tmp_path, lab_movie):
    """With --gso a capture on the sending host holds one datagram per frame (tshark counts
    those); check cuts them into the packets the client receives."""
    tools = require_tool("tshark", "ffmpeg")
    require_raw_socket()
    low = free_port(pair=True)
    pcap = tmp_path / "gso.pcap"
    with our_server_process(lab_movie, "--gso") as (port, rtp, name):
        bpf = (
            f"tcp port {port} or (udp and (portrange {low}-{low + 3} or portrange {rtp}-{rtp + 1}))"
        )
        with live_capture(tools["tshark"], pcap, bpf):
            play_with_ffmpeg(tools["ffmpeg"], f"rtsp://127.0.0.1:{port}/{name}", "udp", low)
    result = check_capture(pcap)
    assert [(r.rule.id, r.evidence) for r in result.failures(Severity.WARNING)] == []
    (stream,) = result.sessions[0].streams
    assert stream.stats.gso_datagrams >= 50 and stream.stats.frames >= 50
    assert stream.stats.packets > 2 * stream.stats.gso_datagrams  # several packets per frame
