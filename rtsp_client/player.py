"""The Tk player: the lab's window (Setup/Play/Pause/Teardown) over the library client.

Frames are shown straight from memory with Pillow's ImageTk (no cache files); a status bar
shows the session's state, the last request's outcome, the number of the frame on screen,
loss, data rate and frame rate (and jitter where the media clock is known); Describe shows
the SDP; closing the window (or q), Ctrl-C or SIGTERM tear the session down. Each button
has a key, its underlined letter. No network work happens on the Tk thread: RTSP requests
run on a worker thread, frames arrive on the client's loop thread, and both reach Tk
through queues polled with ``after()``.

H.264/H.265 access units are decoded in order on a thread of their own through PyAV; without
PyAV the status bar says what to install instead of showing pictures.

The picture area keeps one size for the window's whole life (the stream's, from the SDP,
or the lab's 640x480): a frame of another size is scaled into it, so the buttons never move.

``python -m rtsp_client.player HOST PORT RTP_PORT FILE`` starts it like the lab's
ClientLauncher; ``rtsp-client URL --gui`` starts it from a URL.
"""

from __future__ import annotations

import argparse
import io
import logging
import queue
import signal
import sys
import time
import tkinter as tk
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from PIL import Image, ImageOps, ImageTk

from rtsp_client.cli_logging import VERBOSE_HELP, configure_logging
from rtsp_client.client import RTSPClient
from rtsp_client.errors import ClientError
from rtsp_client.options import ClientOptions, Dialect, LowerTransport
from rtsp_client.player_status import (
    PlayerHistory,
    PlayerState,
    figures_text,
    player_state,
    state_text,
    status_text,
)
from rtsp_client.state import ClientState
from rtsp_client.stats import ReceptionStats
from rtsp_client.video_decoder import AccessUnitDecoder, DecoderUnavailable
from rtsp_common.arguments import add_option, error_line, rtp_port, server_port

logger = logging.getLogger(__name__)

FRAME_POLL_MS = 15  # how often Tk looks for a new frame (and for a stop signal)
STATUS_POLL_MS = 500
PROG = "python -m rtsp_client.player"  # this module's own name in usage and error lines
LATEST_FRAMES = 2  # frames waiting for Tk; older ones are skipped, never queued up
DEFAULT_VIDEO_SIZE = (640, 480)  # the lab's movie; used when no SDP gives the size
# A stream that stops this long while playing has reached its end (the lab's server, unlike
# ours, sends no RTCP BYE there).
END_QUIET_S = 2.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
PUMP_SLEEP_S = 0.01  # between rounds of events in run_until
# Keys for the buttons whose first letter is taken (Play has p); q closes the window.
SHORTCUTS = {"Pause": "a", "Stop": "t"}


def _press(button: tk.Button, _event: object) -> None:
    """A key shortcut: press ``button`` as a click would."""
    button.invoke()


class PlayerApp:
    """The player window around one ``RTSPClient``.

    ``three_buttons`` gives the lab's optional variant: Play (SETUP implicit), Pause, Stop.
    ``video_size`` is the picture area's (width, height) in pixels, for the whole session.
    """

    def __init__(
        self,
        root: tk.Tk | tk.Toplevel,
        client: RTSPClient,
        three_buttons: bool = False,
        video_size: tuple[int, int] | None = None,
    ) -> None:
        self.root = root
        self.client = client
        self.three_buttons = three_buttons
        # A JPEG to decode on the Tk thread, or a picture an H.264/H.265 decoder made.
        self.frames: queue.Queue[tuple[bytes | Image.Image, int]] = queue.Queue(LATEST_FRAMES)
        self.results: queue.Queue[Callable[[], None]] = queue.Queue()
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtsp-player")
        # One thread, so access units are decoded in their order.
        self.decode_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtsp-decode")
        self.decoder: AccessUnitDecoder | None = None
        self.no_decoder: str | None = None  # why H.264/H.265 cannot be shown, once known
        self.photo: ImageTk.PhotoImage | None = None
        self.shown_index: int | None = None  # index of the frame on screen
        self.shown_jpeg: bytes | None = None  # the JPEG on screen (None for H.264/H.265)
        self.shown_at: float | None = None  # time.monotonic() when it was shown
        self.sdp_window: tk.Toplevel | None = None
        self.history = PlayerHistory()
        self.closed = False
        self.stop_requested = False  # a signal asked for the window to close
        self.video_size = video_size or DEFAULT_VIDEO_SIZE
        client.on_frame = self._frame_arrived  # called on the client's loop thread
        client.queue_frames = False  # the window is the only consumer

        root.title(f"RTSP player - {client.core.url}")
        width, height = self.video_size
        # A frame of fixed size holds the picture: what it shows never changes the layout.
        area = tk.Frame(root, width=width, height=height, bg="black")
        area.grid(row=0, column=0, columnspan=5, padx=5, pady=5)
        area.grid_propagate(False)
        self.video = tk.Label(area, bg="black", borderwidth=0)
        self.video.place(relx=0.5, rely=0.5, anchor="center")
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
            # The first letter, underlined, is the button's key (s, p, a, t, d).
            key = SHORTCUTS.get(name, name[0]).lower()
            button = tk.Button(
                root, text=name, width=12, command=command, underline=name.lower().index(key)
            )
            button.grid(row=1, column=column, padx=2, pady=2)
            root.bind(f"<Key-{key}>", partial(_press, button))
            self.buttons[name] = button
        root.bind("<Key-q>", lambda event: self.close())
        self.message = ""  # the last request's outcome
        self.stats: ReceptionStats | None = None  # the last polled statistics
        # width=1: the bar takes the width the grid gives it, whatever its text's length.
        self.status = tk.Label(root, anchor="w", relief=tk.SUNKEN, width=1)
        self.status.grid(row=2, column=0, columnspan=5, sticky="ew")
        self._render_status()
        root.protocol("WM_DELETE_WINDOW", self.close)
        root.after(FRAME_POLL_MS, self._poll_frames)
        root.after(STATUS_POLL_MS, self._poll_status)

    @property
    def state(self) -> PlayerState:
        """The session's state as the status bar shows it."""
        return player_state(self.client.state, self.history)

    # --- buttons: each request runs on the worker thread -----------------------------

    def setup(self) -> None:
        """SETUP (the lab's Setup button)."""
        if self.client.state is ClientState.INIT:
            self._submit("SETUP", self.client.setup)

    def play(self) -> None:
        """PLAY; in the three-button variant SETUP first when needed; at the end of the
        stream PLAY again, which starts over."""
        ended = self.history.ended

        def work() -> None:
            if self.client.state is ClientState.INIT:
                if not self.three_buttons:
                    raise ClientError("press Setup first")
                self.client.setup()
                self.results.put(self._set_up)
            if self.client.state is ClientState.READY or ended:
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

    def request_stop(self) -> None:
        """Ask the window to close soon, from a signal handler: the next poll closes it on
        the Tk thread (a KeyboardInterrupt inside a Tk callback would only print a trace)."""
        self.stop_requested = True

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
        self.decode_worker.shutdown(wait=False, cancel_futures=True)
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
                self.results.put(lambda: self._done(what))

        self.worker.submit(run)

    def _set_up(self) -> None:
        self.history = PlayerHistory(set_up=True)

    def _done(self, what: str) -> None:
        if what == "SETUP":
            self._set_up()
        elif what == "PLAY":
            self.history.played = True
            self.history.ended = False
        self._set_message(f"{what} done")

    # --- from other threads to Tk ----------------------------------------------------

    def _frame_arrived(self, data: bytes, timestamp: int, arrival: float, index: int) -> None:
        media_format = self.client.media_format
        if media_format.is_jpeg:
            self._offer((data, index))
            return
        if self.decoder is None:
            if self.no_decoder is not None:
                return
            try:
                self.decoder = AccessUnitDecoder(media_format.encoding, self.client.stream_header)
            except DecoderUnavailable as exc:
                self.no_decoder = f"cannot show {media_format.encoding} video: {exc}"
                self.results.put(self._render_status)
                return
        self.decode_worker.submit(self._decode, self.decoder, data, index)

    def _decode(self, decoder: AccessUnitDecoder, access_unit: bytes, index: int) -> None:
        for picture in decoder.decode(access_unit):
            self._offer((picture, index))

    def _offer(self, item: tuple[bytes | Image.Image, int]) -> None:
        """Hand a frame to Tk, dropping the oldest waiting one when Tk lags behind."""
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
        if self.stop_requested:
            self.close()
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

    def _show(self, frame: bytes | Image.Image, index: int) -> None:
        if isinstance(frame, Image.Image):
            image, jpeg = frame, None
        else:
            jpeg = frame
            try:
                image = Image.open(io.BytesIO(jpeg))
                image.load()
            except (OSError, ValueError) as exc:  # never show a corrupt frame
                logger.info("frame %d does not decode: %s", index, exc)
                return
        if image.size != self.video_size:
            image = ImageOps.contain(image, self.video_size)
        self.photo = ImageTk.PhotoImage(image, master=self.root)
        self.video.configure(image=self.photo)
        self.shown_index, self.shown_jpeg = index, jpeg
        self.shown_at = time.monotonic()
        self.history.ended = False
        self._render_status()  # the counter moves with the picture, not a poll later

    def _poll_status(self) -> None:
        if self.closed:
            return
        if self.client.state is ClientState.PLAYING and not self.history.ended:
            quiet = self.shown_at is not None and time.monotonic() - self.shown_at > END_QUIET_S
            self.history.ended = self.client.stream_ended or (self.history.played and quiet)
        if self.client.state is not ClientState.INIT or self.shown_index is not None:
            self.stats = self.client.stats()
        self._render_status()
        self.root.after(STATUS_POLL_MS, self._poll_status)

    def _set_message(self, text: str) -> None:
        self.message = text
        self._render_status()

    def _render_status(self) -> None:
        figures = figures_text(self.stats, self.shown_index)
        state = state_text(self.state, self.three_buttons)
        # Why no picture can be shown stays in view: the first access unit may come before
        # the PLAY request's outcome is shown ("PLAY done"), which must not hide it.
        note = self.no_decoder or ""
        self.status.configure(text=status_text(state, self.message, figures, note))

    def _show_sdp(self, text: str) -> None:
        text = text.replace("\r\n", "\n")  # SDP lines end in CRLF (RFC 4566 §5); Tk shows CR
        window = tk.Toplevel(self.root)
        window.title("Session description (SDP)")
        box = tk.Text(window, width=70, height=min(30, text.count("\n") + 2))
        box.insert("1.0", text)
        box.configure(state=tk.DISABLED)
        box.pack(fill=tk.BOTH, expand=True)
        self.sdp_window = window


class StopOnSignals:
    """SIGINT (Ctrl-C) and SIGTERM close the window after a TEARDOWN, instead of raising
    KeyboardInterrupt inside whatever Tk callback happens to run."""

    def __init__(self) -> None:
        self.app: PlayerApp | None = None
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignals:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        if self.app is not None:
            self.app.request_stop()


def run_until(root: tk.Misc, condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Process the window's events until ``condition()`` holds (True) or ``seconds`` pass
    (False): how a script or a test drives the player without a main loop."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        root.update()
        if condition():
            return True
        time.sleep(PUMP_SLEEP_S)
    return False


def stream_size(client: RTSPClient) -> tuple[int, int] | None:
    """The stream's picture size from a DESCRIBE (standard dialect), or None when it is
    not known; a failed DESCRIBE is left for the Setup button to report."""
    if client.core.connection.options.dialect is Dialect.LAB:
        return None  # the lab's server answers no DESCRIBE
    try:
        sdp = client.describe()
    except ClientError as exc:
        logger.info("no picture size from DESCRIBE: %s", exc)
        return None
    if sdp.width and sdp.height:
        return sdp.width, sdp.height
    return None


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
        print(error_line(prog, str(exc)), file=sys.stderr)
        return 2
    return _run(client, three_buttons, prog)


def _run(client: RTSPClient, three_buttons: bool, prog: str) -> int:
    with StopOnSignals() as stop:
        size = stream_size(client)
        if stop.requested:
            client.close()
            return 0
        try:
            root = tk.Tk()
        except tk.TclError as exc:
            message = f"cannot open a window ({exc}); is DISPLAY set?"
            print(error_line(prog, message), file=sys.stderr)
            client.close()
            return 1
        stop.app = PlayerApp(root, client, three_buttons, size)
        if stop.requested:
            stop.app.request_stop()
        root.mainloop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m rtsp_client.player HOST PORT RTP_PORT FILE``, like the lab's ClientLauncher."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="The Tk player, started like the lab's ClientLauncher."
    )
    parser.add_argument("host", help="the server's name or address")
    parser.add_argument("port", type=server_port, help="the server's RTSP port")
    parser.add_argument(
        "rtp_port", type=rtp_port, help="even local UDP port for RTP (0: any free pair)"
    )
    parser.add_argument("file", help="the clip's path on the server, e.g. movie.Mjpeg")
    add_option(
        parser, "--transport", ClientOptions, "transport", choices=[t.value for t in LowerTransport]
    )
    add_option(parser, "--dialect", ClientOptions, "dialect", choices=[d.value for d in Dialect])
    parser.add_argument(
        "--three-buttons", action="store_true", help="Play/Pause/Stop, SETUP implicit"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        options = ClientOptions(transport=args.transport, dialect=args.dialect)
        client = RTSPClient(args.host, args.port, args.rtp_port, args.file, options)
    except ValueError as exc:
        print(error_line(PROG, str(exc)), file=sys.stderr)
        return 2
    return _run(client, args.three_buttons, PROG)


if __name__ == "__main__":
    sys.exit(main())
