"""The client authenticates against real servers: ours (Digest SHA-256, stale nonces renewed
mid-session) and GStreamer's rtsp-server with GstRTSPAuth (its Digest, and Basic); a wrong
password is a 401 and one line from rtsp-client."""

from __future__ import annotations

import time

import pytest
from gst_peer import gst_rtsp_server, make_mkv_clip, require_gst_peer

from rtsp_client import AuthenticationError, RTSPClient
from rtsp_client.cli import ExitCode, main
from rtsp_client.options import ClientOptions
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

USER, PASSWORD = "alice", "wonderland"
FRAMES = 10
NONCE_LIFETIME = 0.5  # s: short enough that a session outlives its first nonce


@pytest.fixture(scope="module")
def server(lab_movie):
    options = ServerOptions(
        port=0,
        media=lab_movie,
        host="127.0.0.1",
        fps=30,
        auth=[f"{USER}:{PASSWORD}"],
        nonce_lifetime=NONCE_LIFETIME,
    )
    with RTSPServer(options=options) as running:
        yield running


def url(port: int, credentials: str = f"{USER}:{PASSWORD}@", path: str = "movie.Mjpeg") -> str:
    return f"rtsp://{credentials}127.0.0.1:{port}/{path}"


def take(client: RTSPClient, count: int = FRAMES) -> int:
    got = 0
    for _ in client.frames(timeout=5):
        got += 1
        if got == count:
            break
    return got


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_our_server_lets_the_right_user_play(server, transport):
    options = ClientOptions(transport=transport, timeout=5)
    with RTSPClient.from_url(url(server.port), options) as client:
        client.setup()
        client.play()
        assert take(client) == FRAMES
        assert client.core.connection.auth.scheme == "Digest SHA-256"


def test_a_stale_nonce_is_renewed_without_asking_again(server):
    with RTSPClient.from_url(url(server.port), ClientOptions(timeout=5)) as client:
        client.setup()
        client.play()
        assert take(client, 3) == 3
        first_nonce = client.core.connection.auth.digest.nonce
        time.sleep(NONCE_LIFETIME * 2)
        client.pause()  # 401 stale=true, then the same PAUSE with a fresh nonce
        client.play()
        assert take(client, 3) == 3
        assert client.core.connection.auth.digest.nonce != first_nonce


@pytest.mark.parametrize(
    ("credentials", "detail"),
    [
        (f"{USER}:guess@", f"user '{USER}' was refused: wrong user name or password"),
        ("", "the server asks for a user name and password (Digest SHA-256, Digest MD5)"),
    ],
    ids=["wrong-password", "none"],
)
def test_the_api_raises_an_authentication_error(server, credentials, detail):
    with RTSPClient.from_url(url(server.port, credentials), ClientOptions(timeout=5)) as client:
        with pytest.raises(AuthenticationError) as raised:
            client.setup()
    assert raised.value.status == 401 and detail in str(raised.value)
    assert len(server.sessions) == 0


@pytest.mark.parametrize(
    ("args", "environment", "code"),
    [
        ([url(0, f"{USER}:guess@")], {}, ExitCode.RTSP_STATUS),
        ([url(0, ""), "--user", USER, "--password", PASSWORD], {}, ExitCode.OK),
        ([url(0, ""), "--user", USER], {"RTSP_PASSWORD": PASSWORD}, ExitCode.OK),
        ([url(0, "")], {"RTSP_PASSWORD": PASSWORD}, ExitCode.RTSP_STATUS),  # no --user
    ],
    ids=["wrong", "flags", "environment", "password-alone"],
)
def test_rtsp_client_credentials_and_its_one_line_refusal(
    server, capsys, monkeypatch, args, environment, code
):
    monkeypatch.delenv("RTSP_PASSWORD", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    args = [a.replace(":0/", f":{server.port}/") for a in args]
    assert main([*args, "--frames", "3"]) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("rtsp-client:")]
    if code == ExitCode.OK:
        assert lines == []
    else:
        assert len(lines) == 1 and "401 Unauthorized" in lines[0], err
        assert "Traceback" not in err and PASSWORD not in err


@pytest.fixture(scope="module")
def gst_clip(tmp_path_factory):
    require_gst_peer()
    return make_mkv_clip(tmp_path_factory.mktemp("gst-auth"), seconds=2)


@pytest.mark.interop
@pytest.mark.parametrize(
    ("method", "scheme"), [("digest", "Digest MD5"), ("basic", "Basic")], ids=str
)
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_gstreamer_rtsp_server_lets_us_in(gst_clip, method, scheme, transport):
    with gst_rtsp_server(gst_clip, auth=(USER, PASSWORD), auth_method=method) as peer:
        address = peer.url.replace("rtsp://", f"rtsp://{USER}:{PASSWORD}@")
        options = ClientOptions(transport=transport, timeout=10)
        with RTSPClient.from_url(address, options) as client:
            client.setup()
            client.play()
            assert take(client) == FRAMES
            assert client.core.connection.auth.scheme == scheme


@pytest.mark.interop
@pytest.mark.parametrize("method", ["digest", "basic"])
def test_gstreamer_rtsp_server_refuses_a_wrong_password_in_one_line(gst_clip, capsys, method):
    with gst_rtsp_server(gst_clip, auth=(USER, PASSWORD), auth_method=method) as peer:
        address = peer.url.replace("rtsp://", f"rtsp://{USER}:guess@")
        assert main([address, "--frames", "3", "--timeout", "10"]) == ExitCode.RTSP_STATUS
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (
        "rtsp-client: error: DESCRIBE failed: 401 Unauthorized: "
        f"user '{USER}' was refused: wrong user name or password"
    )
