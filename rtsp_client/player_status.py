"""What the player's status bar says: the session's state in words, the last request's
outcome, and the figures of the frame on screen. Pure functions, tested without a display.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rtsp_client.state import ClientState
from rtsp_client.stats import ReceptionStats

SEPARATOR = "  |  "


class PlayerState(enum.Enum):
    """The session as the user sees it; finer than RFC 2326's three client states."""

    NOT_SET_UP = "not set up"
    READY = "ready"
    PLAYING = "playing"
    PAUSED = "paused"
    ENDED = "end of stream"
    TORN_DOWN = "torn down"


@dataclass
class PlayerHistory:
    """What happened so far that the client's state alone does not tell."""

    set_up: bool = False  # a SETUP succeeded at some point
    played: bool = False  # a PLAY succeeded since the last SETUP
    ended: bool = False  # the stream reached its end while playing (BYE, or it went quiet)


def player_state(state: ClientState, history: PlayerHistory) -> PlayerState:
    """The state shown to the user, from the client's RFC 2326 state and the history."""
    if state is ClientState.INIT:
        return PlayerState.TORN_DOWN if history.set_up else PlayerState.NOT_SET_UP
    if state is ClientState.READY:
        return PlayerState.PAUSED if history.played else PlayerState.READY
    return PlayerState.ENDED if history.ended else PlayerState.PLAYING


def state_text(state: PlayerState, three_buttons: bool = False) -> str:
    """The state with what the user can do next, where that is not obvious."""
    hints = {
        PlayerState.NOT_SET_UP: "press Play" if three_buttons else "press Setup",
        PlayerState.READY: "press Play",
        PlayerState.ENDED: "Play starts over",
    }
    hint = hints.get(state)
    return f"{state.value}: {hint}" if hint else state.value


def figures_text(stats: ReceptionStats | None, shown_frame: int | None) -> str:
    """The frame on screen and the reception figures; jitter only where the clock is known.

    Empty before anything was received; the figures follow once statistics are polled."""
    if stats is not None and not stats.packets_received:
        stats = None  # no packet yet: zeros would only look like a fault
    if stats is None and shown_frame is None:
        return ""
    parts = [f"frame {shown_frame}" if shown_frame is not None else "no frame yet"]
    if stats is not None:
        parts += [
            f"loss {stats.loss_percent:.2f}%",
            f"{stats.bitrate_kbps:.0f} kbit/s",
            f"{stats.fps:.1f} fps",
        ]
        if stats.jitter_ms is not None:
            parts.append(f"jitter {stats.jitter_ms:.1f} ms")
    return "  ".join(parts)


def status_text(state: str, message: str, figures: str, note: str = "") -> str:
    """The whole status bar: state, the last request's outcome, a standing ``note`` (why
    no picture can be shown: it outlasts the messages), then the figures."""
    return SEPARATOR.join(part for part in (state, message, note, figures) if part)
