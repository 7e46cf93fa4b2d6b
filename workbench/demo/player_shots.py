"""Screenshots of the Tk player for the report: after SETUP, while playing, paused, after
TEARDOWN, the window as the student sees it.

The player runs in a child process on a private Xvfb display: Tk keeps its connection
to a display for the life of the process, and the display goes away when the demo is
done. The child presses the buttons, waits for the state each one leads to, grabs the
window from the X server and prints what it saw as JSON on its last line of output.

``python -m workbench.demo.player_shots URL FOLDER`` is the child.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.demo.xvfb import DisplayError, virtual_display

log = logging.getLogger(__name__)

CHILD_TIMEOUT_S = 60.0
STEP_TIMEOUT_S = 10.0
PLAY_FRAMES = 20  # frames on screen before the "playing" screenshot
SETTLE_S = 0.6  # after a step: frames in flight arrive, the status bar polls its figures
STEPS = ("setup", "playing", "paused", "torn_down")  # screenshots, in order


@dataclass
class PlayerShot:
    """One screenshot of the player window and what its status bar said."""

    step: str  # one of STEPS
    image: str  # file name in the report folder
    status: str
    frame: int | None  # the frame on screen


@dataclass
class PlayerRun:
    """What the child saw: the screenshots it took, and why it stopped early if it did."""

    shots: list[PlayerShot] = field(default_factory=list)
    error: str | None = None
    unavailable: bool = False  # no display could be had (Xvfb missing): nothing failed

    @property
    def complete(self) -> bool:
        return self.error is None and [s.step for s in self.shots] == list(STEPS)


def record_player_session(url: str, folder: Path) -> PlayerRun:
    """Run the player on ``url`` under Xvfb and screenshot it into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with virtual_display() as display:
            done = subprocess.run(
                [sys.executable, "-m", __name__, url, str(folder)],
                env=display.environment(),
                capture_output=True,
                text=True,
                timeout=CHILD_TIMEOUT_S,
            )
    except DisplayError as exc:
        return PlayerRun(error=str(exc), unavailable=True)
    except subprocess.TimeoutExpired:
        return PlayerRun(error=f"the player did not finish within {CHILD_TIMEOUT_S:.0f} s")
    lines = done.stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return PlayerRun(error=f"the player exited {done.returncode}: {tail}")
    run = PlayerRun([PlayerShot(**shot) for shot in data["shots"]], data.get("error"))
    if done.returncode != 0 and run.error is None:
        run.error = f"the player exited {done.returncode}"
    return run


def _drive(url: str, folder: Path) -> PlayerRun:
    """In the child: open the player, press each button, screenshot each state."""
    import tkinter as tk

    from PIL import ImageGrab

    from rtsp_client import RTSPClient
    from rtsp_client.player import PlayerApp, run_until, stream_size
    from rtsp_client.player_status import PlayerState

    run = PlayerRun()
    client = RTSPClient.from_url(url)
    root = tk.Tk()
    app = PlayerApp(root, client, video_size=stream_size(client))

    def pump(until, seconds: float) -> bool:
        return run_until(root, until, seconds)

    steps = [
        ("setup", "Setup", lambda: app.state is PlayerState.READY),
        ("playing", "Play", lambda: (app.shown_index or 0) >= PLAY_FRAMES),
        ("paused", "Pause", lambda: app.state is PlayerState.PAUSED),
        ("torn_down", "Teardown", lambda: app.state is PlayerState.TORN_DOWN),
    ]
    try:
        pump(lambda: False, SETTLE_S)
        for step, button, reached in steps:
            app.buttons[button].invoke()
            if not pump(reached, STEP_TIMEOUT_S):
                run.error = f"{button}: the player did not reach its next state ({app.state.value})"
                break
            pump(lambda: False, SETTLE_S)
            x, y = root.winfo_rootx(), root.winfo_rooty()
            box = (x, y, x + root.winfo_width(), y + root.winfo_height())
            image = f"player-{step}.png"
            ImageGrab.grab(bbox=box, xdisplay=None).save(folder / image)
            status = app.status.cget("text")
            run.shots.append(PlayerShot(step, image, status, app.shown_index))
    finally:
        app.close()
    return run


def main(argv: list[str] | None = None) -> int:
    """The child: ``URL FOLDER``; prints the run as JSON on its last line."""
    url, folder = argv if argv is not None else sys.argv[1:]
    try:
        run = _drive(url, Path(folder))
    except Exception as exc:  # the parent reports it; a trace would only go to a pipe
        log.exception("player screenshots")
        run = PlayerRun(error=f"{type(exc).__name__}: {exc}")
    print(json.dumps({"shots": [asdict(s) for s in run.shots], "error": run.error}))
    return 0 if run.complete else 1


if __name__ == "__main__":
    sys.exit(main())
