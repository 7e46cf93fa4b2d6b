"""One scripted playback session with the client: the demo's PLAY / PAUSE / resume script.

OPTIONS, DESCRIBE, SETUP, PLAY for ``play_s`` seconds, PAUSE for ``pause_s``, PLAY again
for ``resume_s``, TEARDOWN. Every reply and every frame (with the Unix time it arrived)
is kept so the scenario can judge each step afterwards.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rtsp_client import RTSPClient
from rtsp_client.errors import ClientError
from rtsp_client.options import ClientOptions, Dialect, LowerTransport
from rtsp_common.headers import Transport
from workbench.demo.timings import Timings
from workbench.report.screenshots import ReceivedFrame

log = logging.getLogger(__name__)


@dataclass
class StepReply:
    """What one request got. The client raises on any non-2xx reply, so a step without
    ``error`` was answered 2xx; ``detail`` holds what the reply told the client
    (Public methods, the SDP, Session and Transport, RTP-Info). The exact wire text is
    read from the capture afterwards."""

    step: str
    ok: bool
    detail: str = ""
    error: str | None = None
    status: int | None = None  # the refusing status, when the server refused
    sent_at: float = 0.0  # Unix time the request was sent
    replied_at: float = 0.0  # Unix time the reply (or the error) came

    def evidence(self) -> str:
        if self.error is not None:
            return f"{self.step}: {self.error}"
        return f"{self.step}: {self.detail}" if self.detail else self.step


@dataclass
class PlaybackOutcome:
    """Everything one scripted session produced."""

    url: str
    transport: str
    replies: dict[str, StepReply] = field(default_factory=dict)
    frames: list[ReceivedFrame] = field(default_factory=list)
    aborted: str | None = None  # why the script stopped early
    # What the replies told the client (RFC 2326 headers it keeps).
    public: list[str] = field(default_factory=list)
    sdp_text: str = ""
    session_id: str | None = None
    transport_reply: Transport | None = None

    def reply(self, step: str) -> StepReply | None:
        return self.replies.get(step)


class _FrameSink:
    """Collects frames from the client's callback thread, stamping their arrival."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.frames: list[ReceivedFrame] = []

    def __call__(self, jpeg: bytes, *_: object) -> None:
        now = time.time()
        with self._lock:
            self.frames.append(ReceivedFrame(bytes(jpeg), now, len(self.frames)))

    def snapshot(self) -> list[ReceivedFrame]:
        with self._lock:
            return list(self.frames)


def _detail(step: str, client: RTSPClient, result: object) -> str:
    """What the client learnt from a 2xx reply, in the words of its headers."""
    info = client.core.info
    if step == "OPTIONS":
        return "Public: " + ", ".join(result or [])  # type: ignore[arg-type]
    if step == "DESCRIBE":
        return client.sdp_text.strip()
    if step == "SETUP":
        return f"Session: {info.session_id}\nTransport: {info.transport}"
    if step in ("PLAY", "RESUME") and info.rtp_info:
        return f"RTP-Info: {info.rtp_info}"
    return ""


def _call(
    outcome: PlaybackOutcome, client: RTSPClient, step: str, action: Callable[[], object]
) -> bool:
    sent = time.time()
    try:
        result = action()
    except (ClientError, OSError) as exc:  # OSError: a socket the client could not open
        outcome.replies[step] = StepReply(
            step,
            False,
            error=str(exc),
            status=getattr(exc, "status", None),
            sent_at=sent,
            replied_at=time.time(),
        )
        outcome.aborted = f"{step}: {exc}"
        log.warning("%s over %s failed: %s", step, outcome.transport, exc)
        return False
    outcome.replies[step] = StepReply(
        step, True, _detail(step, client, result), None, None, sent, time.time()
    )
    return True


Script = list[tuple[str, str, float]]  # (step name, client method, seconds to hold after)


def standard_script(timings: Timings) -> Script:
    """The demo's script for a standard client."""
    return [
        ("OPTIONS", "options", 0.0),
        ("DESCRIBE", "describe", 0.0),
        ("SETUP", "setup", 0.0),
        ("PLAY", "play", timings.play_s),
        ("PAUSE", "pause", timings.pause_s),
        ("RESUME", "play", timings.resume_s),
        ("TEARDOWN", "teardown", 0.0),
    ]


def lab_script(seconds: float) -> Script:
    """The lab's Client.py knows only SETUP, PLAY, PAUSE and TEARDOWN."""
    return [("SETUP", "setup", 0.0), ("PLAY", "play", seconds), ("TEARDOWN", "teardown", 0.0)]


def run_script(
    host: str,
    port: int,
    path: str,
    script: Script,
    transport: str = "udp",
    dialect: str = "standard",
    sleep: Callable[[float], None] = time.sleep,
) -> PlaybackOutcome:
    """Play ``path`` from ``host:port`` through ``script``; never raises ClientError."""
    outcome = PlaybackOutcome(f"rtsp://{host}:{port}/{path}", transport)
    sink = _FrameSink()
    client = RTSPClient(
        host,
        port,
        0,
        path,
        ClientOptions(transport=LowerTransport(transport), dialect=Dialect(dialect)),
        on_frame=sink,
    )
    try:
        for step, method, hold in script:
            if not _call(outcome, client, step, getattr(client, method)):
                break
            if hold:
                sleep(hold)
    finally:
        info = client.core.info
        outcome.public = list(info.public)
        outcome.sdp_text = info.sdp_text
        outcome.session_id = info.session_id
        outcome.transport_reply = info.transport
        _close(client)
        outcome.frames = sink.snapshot()
    return outcome


def _close(client: RTSPClient) -> None:
    try:
        client.close()
    except (ClientError, OSError) as exc:  # closing is best effort: the step results stand
        log.debug("closing the client: %s", exc)
