"""Driving the Tk player in tests: an in-process window that is closed whatever the test
does, and xdotool aimed at one player process's window.

A window a failed test leaves open would still be called "RTSP player" on the shared Xvfb
display, and the next test's xdotool would press its keys there: so windows are always
closed, and a subprocess's window is looked up by its process id.
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess

WINDOW_TIMEOUT_S = 20.0
WINDOW_NAME = "RTSP player"


@contextlib.contextmanager
def player_window(client, **options):
    """A PlayerApp in its own Tk root, closed (and its Tcl objects freed on this thread)
    whatever the test does."""
    import tkinter as tk

    from rtsp_client.player import PlayerApp

    root = tk.Tk()
    app = PlayerApp(root, client, **options)
    try:
        yield root, app
    finally:
        app.close()
        app = root = None
        gc.collect()  # Tcl objects must be freed on this (the Tk) thread


def xdotool(display: str, *args: str) -> str:
    """Run xdotool on ``display``; its output, or the assertion naming its error."""
    done = subprocess.run(
        ["xdotool", *args],
        capture_output=True,
        text=True,
        timeout=WINDOW_TIMEOUT_S,
        env={**os.environ, "DISPLAY": display},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def player_window_of(display: str, pid: int) -> str:
    """The id of the player window process ``pid`` shows, once it is there (Tk sets
    _NET_WM_PID, which ``xdotool search --pid`` reads)."""
    found = xdotool(display, "search", "--sync", "--pid", str(pid), "--name", WINDOW_NAME)
    return found.splitlines()[0]
