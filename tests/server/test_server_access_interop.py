"""Real players authenticate against our server: ffmpeg (Digest with qop=auth) and GStreamer's
rtspsrc (RFC 2069's Digest), over UDP and TCP; a wrong password gets them nothing."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from realtools import only_pause_after_eos, require_tool

from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

pytestmark = pytest.mark.interop

USER, PASSWORD = "alice", "wonder land/#1"  # a space and URL delimiters, percent-encoded below
URL_PASSWORD = "wonder%20land%2F%231"
FRAMES = 10


@pytest.fixture
def protected(media_dir, tmp_path):
    """A server letting only USER in: from --auth, or from an MD5-only htdigest file."""

    def start(from_file: bool = False):
        if from_file:
            users = tmp_path / "users"
            ha1 = hashlib.md5(f"{USER}:rtsp-workbench:{PASSWORD}".encode()).hexdigest()
            users.write_text(f"{USER}:rtsp-workbench:{ha1}\n")
            access = {"auth_file": users}
        else:
            access = {"auth": [f"{USER}:{PASSWORD}"]}
        options = ServerOptions(port=0, media=media_dir, host="127.0.0.1", fps=50, **access)
        return RTSPServer(options=options)

    return start


def ffmpeg(url: str, transport: str, folder: Path) -> subprocess.CompletedProcess:
    tools = require_tool("ffmpeg")
    return subprocess.run(
        [tools["ffmpeg"], "-v", "error", "-rtsp_transport", transport, "-i", url,
         "-frames:v", str(FRAMES), "-c", "copy", "-f", "image2", str(folder / "f%03d.jpg")],
        timeout=60, capture_output=True, text=True,
    )  # fmt: skip


def gstreamer(
    url: str, protocol: str, user: str, password: str, folder: Path
) -> subprocess.CompletedProcess:
    """rtspsrc logging in as user; the first FRAMES JPEGs it depayloads go to folder.

    identity's eos-after=N ends the stream in place of buffer N, hence FRAMES + 1."""
    tools = require_tool("gst-launch-1.0")
    return subprocess.run(
        [tools["gst-launch-1.0"], "-q", "rtspsrc", f"location={url}", f"protocols={protocol}",
         f"user-id={user}", f"user-pw={password}", "!", "rtpjpegdepay", "!", "identity",
         f"eos-after={FRAMES + 1}", "!", "multifilesink", f"location={folder}/g%03d.jpg"],
        timeout=60, capture_output=True, text=True,
    )  # fmt: skip


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("from_file", [False, True], ids=["auth", "auth-file"])
def test_ffmpeg_authenticates_with_the_url_credentials(protected, tmp_path, transport, from_file):
    with protected(from_file) as server:
        url = f"rtsp://{USER}:{URL_PASSWORD}@127.0.0.1:{server.port}/clip.Mjpeg"
        result = ffmpeg(url, transport, tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.glob("f*.jpg"))) == FRAMES


def test_ffmpeg_with_a_wrong_password_gets_401_and_no_frame(protected, tmp_path):
    with protected() as server:
        url = f"rtsp://{USER}:guess@127.0.0.1:{server.port}/clip.Mjpeg"
        result = ffmpeg(url, "tcp", tmp_path)
        sessions = len(server.sessions)
    assert result.returncode != 0 and "401" in result.stderr
    assert list(tmp_path.glob("f*.jpg")) == [] and sessions == 0


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_gstreamer_authenticates_with_user_id_and_user_pw(protected, tmp_path, protocol):
    with protected() as server:
        url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
        result = gstreamer(url, protocol, USER, PASSWORD, tmp_path)
    assert result.returncode == 0 or only_pause_after_eos(result.stderr), (
        result.stderr + result.stdout
    )
    assert len(list(tmp_path.glob("g*.jpg"))) == FRAMES


def test_gstreamer_with_a_wrong_password_does_not_play(protected, tmp_path):
    with protected() as server:
        url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
        result = gstreamer(url, "tcp", USER, "guess", tmp_path)
        sessions = len(server.sessions)
    assert result.returncode != 0 and "Unauthorized" in result.stderr + result.stdout
    assert sessions == 0 and list(tmp_path.glob("g*.jpg")) == []
