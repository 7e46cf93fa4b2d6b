"""The Tk player: the lab's window (Setup/Play/Pause/Teardown) over the library client.

Frames are shown straight from memory with Pillow's ImageTk (no cache files); a status bar
shows loss, data rate and frame rate; Describe shows the SDP; closing the window tears
the session down. No network work happens on the Tk thread: RTSP requests run on a
worker thread, frames arrive on the client's loop thread, and both reach Tk through
queues polled with ``after()``.

``python -m rtsp_client.player HOST PORT RTP_PORT FILE`` starts it like the lab's
ClientLauncher; ``rtsp-client URL --gui`` starts it from a URL.
"""

from __future__ import annotations

import argparse
import io
import logging
import queue
import sys
import tkinter as tk
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PIL import Image, ImageTk

from rtsp_client.client import RTSPClient
from rtsp_client.errors import ClientError
from rtsp_client.options import ClientOptions, Dialect, LowerTransport
from rtsp_client.state import ClientState
from rtsp_common.arguments import add_option

logger = logging.getLogger(__name__)

FRAME_POLL_MS = 15  # how often Tk looks for a new frame
STATUS_POLL_MS = 500
PROG = "python -m rtsp_client.player"  # this module's own name in usage and error lines
LATEST_FRAMES = 2  # frames waiting for Tk; older ones are skipped, never queued up


class PlayerApp:
    """The player window around one ``RTSPClient``.

    ``three_buttons`` gives the lab's optional variant: Play (SETUP implicit), Pause, Stop.
    """

    def __init__(self, root: tk.Misc, client: RTSPClient, three_buttons: bool = False) -> None:
        self.root = root
        self.client = client
        self.three_buttons = three_buttons
        self.frames: queue.Queue[tuple[bytes, int]] = queue.Queue(LATEST_FRAMES)
        self.results: queue.Queue[Callable[[], None]] = queue.Queue()
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtsp-player")
        self.photo: ImageTk.PhotoImage | None = None
        self.shown_index: int | None = None  # index of the frame on screen
        self.shown_jpeg: bytes | None = None
        self.sdp_window: tk.Toplevel | None = None
        self.closed = False
        client.on_frame = self._frame_arrived  # called on the client's loop thread
        client.queue_frames = False  # the window is the only consumer

        root.title(f"RTSP player - {client.core.url}")
        self.video = tk.Label(root, width=80, height=20, bg="black")
        self.video.grid(row=0, column=0, columnspan=5, sticky="nsew", padx=5, pady=5)
        self.buttons: dict[str, tk.Button] = {}
        names = (
            ["Play", "Pause", "Stop"] if three_buttons else ["Setup", "Play", "Pause", "Teardown"]
        )
        actions = {
            "Setup": self.setup,
            "Play": self.play,
            "Pause": self.pause,
            "Teardown": self.teardown,
            "Stop": self.teardown,
        }
        for column, name in enumerate([*names, "Describe"]):
            command = self.describe if name == "Describe" else actions[name]
            button = tk.Button(root, text=name, width=12, command=command)
            button.grid(row=1, column=column, padx=2, pady=2)
            self.buttons[name] = button
        self.message = "ready"  # the last request's outcome
        self.figures = ""  # the statistics part of the status bar
        self.status = tk.Label(root, text="ready", anchor="w", relief=tk.SUNKEN)
        self.status.grid(row=2, column=0, columnspan=5, sticky="ew")
        root.protocol("WM_DELETE_WINDOW", self.close)
        root.after(FRAME_POLL_MS, self._poll_frames)
        root.after(STATUS_POLL_MS, self._poll_status)

    # --- buttons: each request runs on the worker thread -----------------------------

    def setup(self) -> None:
        """SETUP (the lab's Setup button)."""
        if self.client.state is ClientState.INIT:
            self._submit("SETUP", self.client.setup)

    def play(self) -> None:
        """PLAY; in the three-button variant SETUP first when needed."""

        def work() -> None:
            if self.client.state is ClientState.INIT:
                if not self.three_buttons:
                    raise ClientError("press Setup first")
                self.client.setup()
            if self.client.state is ClientState.READY:
                self.client.play()

        self._submit("PLAY", work)

    def pause(self) -> None:
        """PAUSE."""
        if self.client.state is ClientState.PLAYING:
            self._submit("PAUSE", self.client.pause)

    def teardown(self) -> None:
        """TEARDOWN (Teardown or Stop)."""
        if self.client.state is not ClientState.INIT:
            self._submit("TEARDOWN", self.client.teardown)

    def describe(self) -> None:
        """DESCRIBE, then show the SDP in its own window."""

        def work() -> None:
            self.client.describe()
            text = self.client.sdp_text
            self.results.put(lambda: self._show_sdp(text))

        self._submit("DESCRIBE", work)

    def close(self) -> None:
        """Closing the window tears the session down, then releases everything."""
        if self.closed:
            return
        self.closed = True

        def work() -> None:
            try:
                if self.client.state is not ClientState.INIT and not self.client.connection_closed:
                    self.client.teardown()
            except ClientError as exc:
                logger.info("teardown on close: %s", exc)
            finally:
                self.client.close()

        future = self.worker.submit(work)
        try:
            future.result(timeout=self.client.timeout + 1)
        except Exception as exc:  # the window closes whatever the network says
            logger.info("close: %s", exc)
        self.worker.shutdown(wait=False)
        # Tk objects must die on the Tk thread: drop the image and the client's reference
        # to us here, so no garbage cycle leaves them to a collection on another thread.
        self.client.on_frame = None
        self.video.configure(image="")
        self.photo = None
        self.root.destroy()

    def _submit(self, what: str, work: Callable[[], Any]) -> None:
        self._set_message(f"{what}...")

        def run() -> None:
            try:
                work()
            except ClientError as exc:
                message = str(exc)
                self.results.put(lambda: self._set_message(f"{what}: {message}"))
            else:
                self.results.put(lambda: self._set_message(f"{what} done"))

        self.worker.submit(run)

    # --- from other threads to Tk ----------------------------------------------------

    def _frame_arrived(self, jpeg: bytes, timestamp: int, arrival: float, index: int) -> None:
        item = (jpeg, index)
        try:
            self.frames.put_nowait(item)
        except queue.Full:
            try:
                self.frames.get_nowait()
            except queue.Empty:
                pass
            try:
                self.frames.put_nowait(item)
            except queue.Full:
                pass

    def _poll_frames(self) -> None:
        if self.closed:
            return
        while not self.results.empty():
            self.results.get_nowait()()
        latest = None
        while True:
            try:
                latest = self.frames.get_nowait()
            except queue.Empty:
                break
        if latest is not None:
            self._show(*latest)
        self.root.after(FRAME_POLL_MS, self._poll_frames)

    def _show(self, jpeg: bytes, index: int) -> None:
        try:
            image = Image.open(io.BytesIO(jpeg))
            image.load()
        except (OSError, ValueError) as exc:  # never show a corrupt frame
            logger.info("frame %d does not decode: %s", index, exc)
            return
        self.photo = ImageTk.PhotoImage(image)
        self.video.configure(image=self.photo, width=image.width, height=image.height)
        self.shown_index, self.shown_jpeg = index, jpeg

    def _poll_status(self) -> None:
        if self.closed:
            return
        if self.client.state is not ClientState.INIT or self.shown_index is not None:
            s = self.client.stats()
            self.figures = (
                f"{self.client.state.value}  frame {s.frames_complete}  "
                f"loss {s.loss_percent:.2f}%  {s.bitrate_kbps:.0f} kbit/s  {s.fps:.1f} fps  "
                f"jitter {s.jitter_ms:.1f} ms"
            )
            self._render_status()
        self.root.after(STATUS_POLL_MS, self._poll_status)

    def _set_message(self, text: str) -> None:
        self.message = text
        self._render_status()

    def _render_status(self) -> None:
        parts = [self.message, self.figures] if self.figures else [self.message]
        self.status.configure(text="  |  ".join(parts))

    def _show_sdp(self, text: str) -> None:
        window = tk.Toplevel(self.root)
        window.title("Session description (SDP)")
        box = tk.Text(window, width=70, height=min(30, text.count("\n") + 2))
        box.insert("1.0", text)
        box.configure(state=tk.DISABLED)
        box.pack(fill=tk.BOTH, expand=True)
        self.sdp_window = window


def run_player(
    url: str,
    options: ClientOptions | None = None,
    *,
    three_buttons: bool = False,
    prog: str = "rtsp-client",
) -> int:
    """Open the player for ``url`` and run Tk's main loop until the window closes.

    ``prog`` names the command in error lines.
    """
    try:
        client = RTSPClient.from_url(url, options)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    return _run(client, three_buttons, prog)


def _run(client: RTSPClient, three_buttons: bool, prog: str) -> int:
    try:
        root = tk.Tk()
    except tk.TclError as exc:
        print(f"{prog}: cannot open a window ({exc}); is DISPLAY set?", file=sys.stderr)
        client.close()
        return 1
    PlayerApp(root, client, three_buttons)
    root.mainloop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m rtsp_client.player HOST PORT RTP_PORT FILE``, like the lab's ClientLauncher."""
    parser = argparse.ArgumentParser(prog=PROG)
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("rtp_port", type=int)
    parser.add_argument("file")
    add_option(
        parser, "--transport", ClientOptions, "transport", choices=[t.value for t in LowerTransport]
    )
    add_option(parser, "--dialect", ClientOptions, "dialect", choices=[d.value for d in Dialect])
    parser.add_argument(
        "--three-buttons", action="store_true", help="Play/Pause/Stop, SETUP implicit"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        options = ClientOptions(transport=args.transport, dialect=args.dialect)
        client = RTSPClient(args.host, args.port, args.rtp_port, args.file, options)
    except ValueError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    return _run(client, args.three_buttons, PROG)


if __name__ == "__main__":
    sys.exit(main())
