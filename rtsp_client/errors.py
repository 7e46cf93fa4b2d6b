"""The client's errors: each says what went wrong in one line a user can act on."""

from __future__ import annotations


class ClientError(Exception):
    """Base of every error the client raises."""


class RTSPError(ClientError):
    """The server answered a request with a non-2xx status; ``detail`` says more when known."""

    def __init__(self, method: str, status: int, reason: str, detail: str = "") -> None:
        super().__init__(f"{method} failed: {status} {reason}" + (f": {detail}" if detail else ""))
        self.method = method
        self.status = status
        self.reason = reason


class AuthenticationError(RTSPError):
    """401: the server wants credentials we lack, refused ours, or asks in a way we cannot
    answer."""


class StateError(ClientError):
    """A request that the session's state does not allow (PLAY before SETUP, say)."""


class RTSPTimeout(ClientError):
    """The server did not answer in time."""


class ConnectionLost(ClientError):
    """The RTSP connection closed or failed under us."""


class ProtocolViolation(ClientError):
    """The server sent bytes that are not RTSP."""


class UnsupportedMedia(ClientError):
    """The server offers a stream whose payload format the client cannot reassemble."""
