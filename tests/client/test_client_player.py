"""The Tk player under Xvfb: after Play the window shows the source frame."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from media_samples import decode
from realtools import require_tool
from tk_player import player_window, player_window_of

from rtsp_client import RTSPClient
from rtsp_client.player import run_until as pump
from rtsp_client.state import ClientState
from rtsp_common.mjpeg import open_media
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

pytestmark = pytest.mark.gui


def widget_pixels(app, tmp_path):
    """The pixels of the image the label shows, read back from Tk itself."""
    from PIL import Image

    path = tmp_path / "widget.png"
    app.photo._PhotoImage__photo.write(str(path), format="png")  # Tk's own copy of the image
    return Image.open(path).convert("RGB")


@pytest.mark.parametrize("three_buttons", [False, True], ids=["four-buttons", "three-buttons"])
def test_player_shows_the_source_frame_and_tears_down_on_close(
    display, lab_movie, tmp_path, artifacts_dir, three_buttons
):
    with RTSPServer(
        options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1", fps=30)
    ) as server:
        client = RTSPClient("127.0.0.1", server.port, 0, "movie.Mjpeg")
        with player_window(client, three_buttons=three_buttons) as (root, app):
            expected = (
                ["Play", "Pause", "Stop"]
                if three_buttons
                else ["Setup", "Play", "Pause", "Teardown"]
            )
            assert list(app.buttons) == [*expected, "Describe"]
            if not three_buttons:
                app.buttons["Setup"].invoke()
                assert pump(root, lambda: client.state is ClientState.READY)
            app.buttons["Play"].invoke()
            assert pump(root, lambda: app.shown_index is not None and app.shown_index >= 3)
            app.buttons["Pause"].invoke()
            assert pump(root, lambda: client.state is ClientState.READY)
            pump(root, lambda: False, 0.3)  # let the last frames in flight be shown
            index = app.shown_index
            with open_media(lab_movie) as media:
                source = decode(media[index])
            assert widget_pixels(app, tmp_path).tobytes() == source.tobytes()
            assert pump(root, lambda: "kbit/s" in app.status.cget("text"))
            assert "loss 0.00%" in app.status.cget("text")

            app.buttons["Describe"].invoke()
            assert pump(root, lambda: app.sdp_window is not None)
            sdp = app.sdp_window.winfo_children()[0].get("1.0", "end")
            assert "m=video" in sdp and "JPEG/90000" in sdp
            app.sdp_window.destroy()
            pump(root, lambda: False, 0.2)

            name = "player-three-buttons.png" if three_buttons else "player.png"
            shot = artifacts_dir / name
            if shutil.which("import"):
                subprocess.run(
                    ["import", "-display", display, "-window", "root", str(shot)],
                    check=True,
                    timeout=20,
                )
            else:
                widget_pixels(app, tmp_path).save(shot)
            assert shot.stat().st_size > 1000

            app.close()  # the window's close button: TEARDOWN, then gone
            assert app.closed
            assert server.stats()["sessions"] == 0


@pytest.mark.parametrize(
    "command",
    [
        lambda port: [sys.executable, "-m", "rtsp_client.player", "127.0.0.1", str(port), "0",
                      "movie.Mjpeg"],
        lambda port: [sys.executable, "-m", "rtsp_client",
                      f"rtsp://127.0.0.1:{port}/movie.Mjpeg", "--gui"],
    ],
    ids=["launcher", "cli-gui"],
)  # fmt: skip
def test_launchers_open_the_player_window(display, lab_movie, command):
    require_tool("xdotool")
    with RTSPServer(
        options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1", fps=30)
    ) as server:
        proc = subprocess.Popen(command(server.port), env={**os.environ, "DISPLAY": display})
        try:
            assert player_window_of(display, proc.pid)
            assert proc.poll() is None  # the window is up and running its loop
        finally:
            proc.terminate()
            proc.wait(timeout=10)
