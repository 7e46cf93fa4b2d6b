"""The checker's H.264/H.265 reading on captures of real peers, made at test time:
GStreamer's rtsp-server streams libx264/libx265 clips made by ffmpeg with PCMU audio
beside, played by ffmpeg and by GStreamer's rtspsrc over UDP and over TCP, captured with
tshark. On each capture no rule fails (any severity), the H.264/H.265 rules did judge,
and `rtsp-workbench frames` writes an Annex B stream whose decoded pictures are the
clip's own (ffmpeg -f framemd5 on both), as many as ffprobe counts in the clip.
"""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest
from gst_peer import count_video_frames, gst_rtsp_server, make_h26x_clip, require_gst_peer
from local_ports import free_port
from PIL import Image
from realtools import only_pause_after_eos, require_raw_socket, require_tool
from tshark_streams import live_capture

from analysis.check import check_capture
from analysis.rules import Outcome
from workbench.cli import main

pytestmark = [pytest.mark.interop, pytest.mark.capture]

PORT_SPAN = 9  # client UDP ports low..low+9: two streams, RTP and RTCP each, and spare
CLIP_S = 3  # seconds of clip: 75 pictures at 25 fps, an IDR every 10
ENCODING = {"h264": "H264", "h265": "H265"}
PREFIX = {"h264": "H264", "h265": "H265"}
CLIP_SIZE = (320, 240)  # make_h26x_clip's default


def capture_filter(rtsp_port: int, low: int) -> str:
    return f"tcp port {rtsp_port} or (udp and portrange {low}-{low + PORT_SPAN})"


def play_command(client: str, url: str, transport: str, low: int) -> list[str]:
    """A client that plays the whole clip and exits: ffmpeg, or gst-launch's rtspsrc."""
    if client == "ffmpeg":
        return [
            "ffmpeg", "-loglevel", "error", "-rtsp_transport", transport,
            "-min_port", str(low), "-max_port", str(low + PORT_SPAN), "-i", url,
            "-f", "null", "-",
        ]  # fmt: skip
    return [
        "gst-launch-1.0", "-q", "rtspsrc", f"location={url}", f"protocols={transport}",
        f"port-range={low}-{low + PORT_SPAN}", "!", "fakesink", "sync=false",
    ]  # fmt: skip


def framemd5(path: Path, demuxer: str | None = None) -> list[str]:
    """The MD5 of each decoded picture of the first video stream, in order."""
    forced = ["-f", demuxer] if demuxer else []
    out = subprocess.run(
        ["ffmpeg", "-v", "error", *forced, "-i", str(path), "-map", "0:v:0",
         "-fps_mode", "passthrough", "-f", "framemd5", "-"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if not line.startswith("#")]


@pytest.fixture(scope="module")
def tools():
    require_raw_socket()
    require_gst_peer()
    return require_tool("tshark", "ffmpeg", "ffprobe", "gst-launch-1.0")


# Every codec, played by each client over each transport, as the issue asks.
CASES = list(itertools.product(("h264", "h265"), ("ffmpeg", "gstreamer"), ("udp", "tcp")))


@pytest.mark.parametrize(("codec", "client", "transport"), CASES)
def test_real_h26x_capture_passes_and_frames_decode_as_the_clip(
    tools, tmp_path, capsys, codec, client, transport
):
    clip = make_h26x_clip(tmp_path / "clip.mkv", codec, seconds=CLIP_S, keyframe_interval=10)
    pcap = tmp_path / f"{codec}-{client}-{transport}.pcap"
    low = free_port(pair=True)
    with gst_rtsp_server(clip, codec=codec, audio=True) as peer:
        with live_capture(tools["tshark"], pcap, capture_filter(peer.port, low)):
            played = subprocess.run(
                play_command(client, peer.url, transport, low),
                capture_output=True, text=True, timeout=90,
            )  # fmt: skip
    # rtspsrc may fail on its own PAUSE after end-of-stream; the frames below are the proof.
    assert played.returncode == 0 or only_pause_after_eos(played.stderr), played.stderr
    result = check_capture(pcap)
    failures = {(r.rule.id, r.evidence) for r in result.rules if r.outcome is Outcome.FAILED}
    assert failures == set()
    judged = [r for r in result.rules if r.rule.id.startswith(PREFIX[codec])]
    assert judged and all(r.outcome is Outcome.PASSED for r in judged), [
        (r.rule.id, r.outcome, r.evidence) for r in judged if r.outcome is not Outcome.PASSED
    ]
    for rule_id in ("AUDIO-G711-1", "AUDIO-PTIME-1"):
        assert result.result(rule_id).outcome is Outcome.PASSED, rule_id
    video = [s for s in result.streams if s.fmt.encoding == ENCODING[codec]]
    audio = [s for s in result.streams if s.fmt.encoding == "PCMU"]
    assert len(video) == 1 and len(audio) == 1
    reading = video[0].h26x
    assert (reading.missing_fragments, reading.incomplete) == (0, 0)

    out = tmp_path / "frames"
    assert main(["frames", str(pcap), "-o", str(out), "--images"]) == 0
    (written,) = out.glob(f"*.{codec}")
    expected = count_video_frames(clip)
    assert count_video_frames(written) == expected == len(reading.frames)
    assert framemd5(written, "hevc" if codec == "h265" else "h264") == framemd5(clip)
    (pictures,) = [p for p in out.iterdir() if p.is_dir()]
    assert len(list(pictures.glob("*.png"))) == expected
    if client == "ffmpeg":
        every = sorted(pictures.glob("*.png"))
        assert_report_shows_pictures_and_rules(pcap, tmp_path / "report", codec, every)


def assert_report_shows_pictures_and_rules(
    pcap: Path, folder: Path, codec: str, pictures: list[Path]
) -> None:
    """`report` on the camera-like capture: the first and the last picture as screenshots,
    each decoded from the random access point before it and the same as the whole stream's
    decoding shows it, and the H.264/H.265 rules in the conformance table."""
    assert main(["report", str(pcap), "-o", str(folder)]) == 0
    shots = sorted(folder.glob("stream1-shot*-received.png"))
    assert len(shots) == 2  # no pause: the first and the last picture
    for shot, picture in zip(shots, (pictures[0], pictures[-1]), strict=True):
        with Image.open(shot) as image, Image.open(picture) as expected:
            assert image.size == CLIP_SIZE
            assert image.convert("RGB").tobytes() == expected.convert("RGB").tobytes()
    markdown = "\n".join(p.read_text() for p in folder.glob("*.md"))
    assert f"{PREFIX[codec]}-FU-1" in markdown and "AUDIO-G711-1" in markdown
