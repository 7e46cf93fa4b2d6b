"""The client's RTSP session state machine (RFC 2326 Appendix A.1), as an explicit table."""

from __future__ import annotations

import logging
from enum import Enum

from rtsp_client.errors import StateError

logger = logging.getLogger(__name__)


class ClientState(Enum):
    """RFC 2326 A.1 client states (Recording is not used: this client only plays)."""

    INIT = "init"
    READY = "ready"
    PLAYING = "playing"


S = ClientState

# (state, method) -> state after a 2xx reply. A pair not listed is refused before sending.
TRANSITIONS: dict[tuple[ClientState, str], ClientState] = {
    (S.INIT, "SETUP"): S.READY,
    (S.READY, "SETUP"): S.READY,  # changing transport parameters
    (S.READY, "PLAY"): S.PLAYING,
    (S.PLAYING, "PLAY"): S.PLAYING,  # a new range while playing
    (S.PLAYING, "PAUSE"): S.READY,
    (S.READY, "PAUSE"): S.READY,
    (S.READY, "TEARDOWN"): S.INIT,
    (S.PLAYING, "TEARDOWN"): S.INIT,
}

# Requests that do not depend on the session's state.
STATELESS = frozenset({"OPTIONS", "DESCRIBE", "GET_PARAMETER", "SET_PARAMETER"})


class ClientStateMachine:
    """The session's state; ``check`` before sending, ``advance`` after a 2xx reply."""

    def __init__(self) -> None:
        self.state = ClientState.INIT

    def check(self, method: str) -> None:
        """Raise StateError when ``method`` is not allowed now."""
        if method in STATELESS or (self.state, method) in TRANSITIONS:
            return
        raise StateError(f"{method} is not allowed in state {self.state.value}")

    def advance(self, method: str) -> ClientState:
        """Move to the state a successful ``method`` leads to."""
        new = TRANSITIONS.get((self.state, method), self.state)
        if new is not self.state:
            logger.debug("state %s -> %s after %s", self.state.value, new.value, method)
        self.state = new
        return new

    def reset(self) -> None:
        """Back to INIT (the connection was lost)."""
        self.state = ClientState.INIT
