"""The Tk player under Xvfb with H.264/H.265 from GStreamer's rtsp-server: pictures through
PyAV, or without it a clear word in the window's status bar, never a traceback."""

from __future__ import annotations

import sys

import pytest
from gst_peer import gst_rtsp_server, make_h26x_clip, require_gst_peer
from tk_player import player_window

from rtsp_client import RTSPClient
from rtsp_client.player import run_until as pump
from rtsp_client.state import ClientState

pytestmark = [pytest.mark.gui, pytest.mark.interop]


@pytest.fixture(scope="module")
def h264_clip(tmp_path_factory):
    require_gst_peer()
    return make_h26x_clip(tmp_path_factory.mktemp("player") / "clip.mkv", "h264", seconds=4)


def play(app, root, client):
    app.buttons["Setup"].invoke()
    assert pump(root, lambda: client.state is ClientState.READY, 10)
    app.buttons["Play"].invoke()


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_player_shows_h26x_pictures(display, tmp_path, codec):
    pytest.importorskip("av")
    require_gst_peer()
    clip = make_h26x_clip(tmp_path / "clip.mkv", codec, seconds=4, size=(320, 240))
    with gst_rtsp_server(clip, codec=codec) as peer:
        client = RTSPClient.from_url(peer.url)
        with player_window(client, video_size=(320, 240)) as (root, app):
            play(app, root, client)
            assert pump(root, lambda: app.shown_index is not None and app.shown_index >= 5, 15)
            assert app.photo is not None and (app.photo.width(), app.photo.height()) == (320, 240)
            assert app.no_decoder is None and app.decoder is not None
            assert app.decoder.errors == 0


def test_player_without_pyav_says_so_in_the_window(display, h264_clip, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # import av now raises ImportError
    with gst_rtsp_server(h264_clip, codec="h264") as peer:
        client = RTSPClient.from_url(peer.url)
        with player_window(client) as (root, app):
            play(app, root, client)
            # Said at the first access unit, which a loaded machine may take a while to bring.
            assert pump(root, lambda: "PyAV" in app.status.cget("text"), 20)
            assert "cannot show H264 video" in app.status.cget("text")
            assert "pip install" in app.status.cget("text")
            assert app.shown_index is None


def test_why_no_picture_shows_outlasts_a_later_request_outcome(display, h264_clip, monkeypatch):
    # The first access unit may come before the PLAY request's outcome is shown: "PLAY
    # done" (or any later outcome) must not hide why the window stays black.
    monkeypatch.setitem(sys.modules, "av", None)
    with gst_rtsp_server(h264_clip, codec="h264") as peer:
        client = RTSPClient.from_url(peer.url)
        with player_window(client) as (root, app):
            play(app, root, client)
            assert pump(root, lambda: app.no_decoder is not None, 20)
            app._done("PLAY")  # the PLAY outcome, shown late
            root.update()
            assert "PLAY done" in app.status.cget("text")
            assert "PyAV" in app.status.cget("text")
