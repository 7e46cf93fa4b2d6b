"""A private X display (Xvfb) for the Tk player where no screen is at hand: CI, the demo.

Xvfb picks a free display number itself and writes it to a pipe (``-displayfd``), so two
displays started at once never race for the same number.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

SCREEN = "1024x768x24"  # room for the player window at the lab's 640x480 and its SDP window
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


class DisplayError(Exception):
    """Xvfb is missing or did not start; the message says which."""


@dataclass(frozen=True)
class VirtualDisplay:
    """A running Xvfb: its ``DISPLAY`` name (``:N``)."""

    name: str

    def environment(self) -> dict[str, str]:
        """This process's environment with DISPLAY pointing at the virtual screen."""
        return {**os.environ, "DISPLAY": self.name}


@contextlib.contextmanager
def virtual_display(screen: str = SCREEN) -> Iterator[VirtualDisplay]:
    """Start Xvfb for the ``with`` block; DisplayError when it is missing or fails."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise DisplayError("Xvfb is not installed (Debian package xvfb)")
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            [xvfb, "-displayfd", str(write_fd), "-screen", "0", screen, "-nolisten", "tcp"],
            pass_fds=(write_fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    finally:
        os.close(write_fd)
    try:
        number = _read_display_number(read_fd)
        if number is None:
            raise DisplayError(f"Xvfb exited ({proc.poll()}) without naming a display")
        yield VirtualDisplay(f":{number}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read_display_number(fd: int) -> str | None:
    """The number Xvfb writes once it accepts connections; None when it exits first."""
    import select

    text = b""
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while not text.endswith(b"\n"):
            ready, _, _ = select.select([pipe], [], [], START_TIMEOUT_S)
            if not ready:
                return None
            chunk = pipe.read(1)
            if not chunk:
                break
            text += chunk
    return text.strip().decode() or None
