"""The Tk player under Xvfb: Ctrl-C and SIGTERM tear down and exit cleanly, the window
keeps its geometry from start to TEARDOWN, and the status bar tells the truth (state,
frame on screen, end of stream, jitter only on a known clock); Describe shows clean SDP."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import pytest
from polling import wait_for
from realtools import require_tool
from tk_player import player_window, player_window_of, xdotool

from rtsp_client import RTSPClient
from rtsp_client.options import ClientOptions, Dialect
from rtsp_client.player import run_until as pump
from rtsp_client.player_status import PlayerState
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions
from workbench.sample import make_sample

pytestmark = pytest.mark.gui

EXIT_TIMEOUT_S = 15.0


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A 320x240 clip of 2 s and a 160x120 clip of half a second (to reach its end)."""
    folder = tmp_path_factory.mktemp("clips")
    make_sample(folder / "movie.Mjpeg", size=(320, 240), frames=60, fps=30)
    make_sample(folder / "short.Mjpeg", size=(160, 120), frames=15, fps=30)
    return folder


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_tears_the_session_down_and_exits_0_without_a_trace(
    display, clips, caplog, signum
):
    require_tool("xdotool")
    caplog.set_level(logging.INFO, logger="rtsp_server.server")
    with RTSPServer(
        options=ServerOptions(port=0, media=clips, host="127.0.0.1", fps=30, loop=True)
    ) as server:
        command = [sys.executable, "-m", "rtsp_client.player", "127.0.0.1", str(server.port),
                   "0", "movie.Mjpeg"]  # fmt: skip
        proc = subprocess.Popen(
            command,
            env={**os.environ, "DISPLAY": display},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            window = player_window_of(display, proc.pid)
            # The buttons' keys: s is Setup, p is Play.
            xdotool(display, "windowfocus", "--sync", window, "key", "s")
            assert wait_for(lambda: server.stats()["sessions"] == 1)
            xdotool(display, "windowfocus", "--sync", window, "key", "p")
            assert wait_for(lambda: server.stats()["streaming"] == 1)
            time.sleep(0.5)  # frames on screen, the counter running
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=EXIT_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "Exception" not in err, err
        ended = [r.getMessage() for r in caplog.records if " ended: " in r.getMessage()]
        assert ended and ended[-1].endswith("ended: teardown"), ended
        assert server.stats()["sessions"] == 0


def geometry(root, app) -> tuple[int, ...]:
    root.update_idletasks()
    play = app.buttons["Play"]
    return (root.winfo_width(), root.winfo_height(), play.winfo_x(), play.winfo_y(),
            app.status.winfo_y())  # fmt: skip


@pytest.mark.parametrize(
    ("dialect", "expected_area"),
    [("standard", (320, 240)), ("lab", (640, 480))],
    ids=["size-from-sdp", "lab-no-sdp"],
)
def test_the_window_keeps_its_geometry_from_open_to_teardown(
    display, clips, dialect, expected_area
):
    from rtsp_client.player import stream_size

    with RTSPServer(
        options=ServerOptions(port=0, media=clips, host="127.0.0.1", fps=30, loop=True)
    ) as server:
        options = ClientOptions(dialect=Dialect(dialect))
        client = RTSPClient("127.0.0.1", server.port, 0, "movie.Mjpeg", options)
        with player_window(client, video_size=stream_size(client)) as (root, app):
            assert app.video_size == expected_area
            pump(root, lambda: False, 0.2)
            opened = geometry(root, app)
            seen = {"opened": opened}
            app.buttons["Setup"].invoke()
            assert pump(root, lambda: app.state is PlayerState.READY)
            seen["setup"] = geometry(root, app)
            app.buttons["Play"].invoke()
            assert pump(root, lambda: (app.shown_index or 0) >= 5)
            seen["playing"] = geometry(root, app)
            # The 320x240 frames fill the area: scaled into it where it is larger (no SDP
            # told the size), never the window resized to them.
            assert (app.photo.width(), app.photo.height()) == expected_area
            app.buttons["Pause"].invoke()
            assert pump(root, lambda: app.state is PlayerState.PAUSED)
            seen["paused"] = geometry(root, app)
            app.buttons["Teardown"].invoke()
            assert pump(root, lambda: app.state is PlayerState.TORN_DOWN)
            seen["torn down"] = geometry(root, app)
            assert all(g == opened for g in seen.values()), seen


def status(app) -> str:
    return app.status.cget("text")


def test_the_status_bar_follows_the_session_to_its_end_and_play_starts_over(display, clips):
    from rtsp_client.player import stream_size

    with RTSPServer(options=ServerOptions(port=0, media=clips, host="127.0.0.1", fps=30)) as server:
        client = RTSPClient("127.0.0.1", server.port, 0, "short.Mjpeg")
        with player_window(client, video_size=stream_size(client)) as (root, app):
            pump(root, lambda: False, 0.1)
            assert status(app).startswith("not set up: press Setup")
            assert "ready" not in status(app)

            app.buttons["Describe"].invoke()
            assert pump(root, lambda: app.sdp_window is not None)
            sdp = app.sdp_window.winfo_children()[0].get("1.0", "end")
            assert "m=video" in sdp and "\r" not in sdp
            app.sdp_window.destroy()

            app.buttons["Setup"].invoke()
            assert pump(root, lambda: status(app).startswith("ready: press Play"))
            app.buttons["Play"].invoke()
            assert pump(root, lambda: app.shown_index is not None)
            # The counter names the frame on screen the moment it is shown.
            for _ in range(5):
                pump(root, lambda: False, 0.05)
                assert f"frame {app.shown_index} " in status(app) + " "
            # A 90 kHz clock from the SDP: jitter is measured and shown.
            assert pump(root, lambda: "jitter" in status(app))
            # 15 frames at 30 fps: the clip ends, the server says BYE.
            assert pump(root, lambda: app.state is PlayerState.ENDED, 10)
            assert status(app).startswith("end of stream: Play starts over")
            last = app.shown_index
            app.buttons["Play"].invoke()
            assert pump(root, lambda: app.state is PlayerState.PLAYING and app.shown_index > last)
            app.buttons["Teardown"].invoke()
            assert pump(root, lambda: status(app).startswith("torn down"))


def test_the_lab_dialect_shows_no_jitter_and_ends_when_the_stream_goes_quiet(display, clips):
    with RTSPServer(options=ServerOptions(port=0, media=clips, host="127.0.0.1", fps=30)) as server:
        options = ClientOptions(dialect=Dialect.LAB)
        client = RTSPClient("127.0.0.1", server.port, 0, "short.Mjpeg", options)
        with player_window(client) as (root, app):
            app.buttons["Setup"].invoke()
            assert pump(root, lambda: app.state is PlayerState.READY)
            app.buttons["Play"].invoke()
            assert pump(root, lambda: app.shown_index is not None)
            assert pump(root, lambda: "kbit/s" in status(app))
            assert "jitter" not in status(app)
            assert client.stats().jitter_ms is None
            # The lab dialect gets no BYE: the end shows once the stream stays quiet.
            assert pump(root, lambda: app.state is PlayerState.ENDED, 10)
        assert server.stats()["sessions"] == 0
