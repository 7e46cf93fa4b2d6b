"""What the request handler asks of its I/O shell: small frozen values, no I/O.

:meth:`RequestHandler.handle` returns a ``HandlerResult``: the response to write, whether to
close the connection after it, and the actions around it (start or stop pacing a session's
frames, end a session with an RTCP BYE), which ``RTSPServer.perform`` carries out.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtsp_common.rtsp import Response
from rtsp_server.session import Session


@dataclass(frozen=True)
class StartStreaming:
    """Start pacing ``session``'s frames from its current position at clock time ``at``."""

    session: Session
    at: float


@dataclass(frozen=True)
class StopStreaming:
    """Stop pacing ``session`` (PAUSE, or before a seek); its position is kept."""

    session: Session


@dataclass(frozen=True)
class EndSession:
    """``session`` is gone from the registry: stop it and send RTCP BYE when ``bye``."""

    session: Session
    reason: str
    bye: bool = True


Action = StartStreaming | StopStreaming | EndSession


@dataclass(frozen=True)
class HandlerResult:
    """A response to send, what to do around it, and whether to close the connection after."""

    response: Response
    actions: tuple[Action, ...] = ()
    close: bool = False
    session_id: str | None = None
