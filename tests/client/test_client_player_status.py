"""The player's status words, without a display: state, hints, figures."""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize(
    ("client_state", "history", "expected"),
    [
        (ClientState.INIT, PlayerHistory(), PlayerState.NOT_SET_UP),
        (ClientState.READY, PlayerHistory(set_up=True), PlayerState.READY),
        (ClientState.PLAYING, PlayerHistory(set_up=True, played=True), PlayerState.PLAYING),
        (ClientState.READY, PlayerHistory(set_up=True, played=True), PlayerState.PAUSED),
        (
            ClientState.PLAYING,
            PlayerHistory(set_up=True, played=True, ended=True),
            PlayerState.ENDED,
        ),
        (ClientState.INIT, PlayerHistory(set_up=True, played=True), PlayerState.TORN_DOWN),
    ],
)
def test_the_state_shown_follows_the_session(client_state, history, expected):
    assert player_state(client_state, history) is expected


def test_the_hints_name_the_button_to_press():
    assert state_text(PlayerState.NOT_SET_UP) == "not set up: press Setup"
    assert state_text(PlayerState.NOT_SET_UP, three_buttons=True) == "not set up: press Play"
    assert state_text(PlayerState.ENDED) == "end of stream: Play starts over"
    assert state_text(PlayerState.PLAYING) == "playing"


def test_jitter_is_shown_only_on_a_known_clock():
    known = ReceptionStats(
        packets_received=9, jitter_ms=1.25, loss_percent=0.5, bitrate_kbps=1200, fps=20
    )
    unknown = ReceptionStats(
        packets_received=9, jitter_ms=None, loss_percent=0.5, bitrate_kbps=1200, fps=20
    )
    assert figures_text(known, 41) == "frame 41  loss 0.50%  1200 kbit/s  20.0 fps  jitter 1.2 ms"
    assert figures_text(unknown, 41) == "frame 41  loss 0.50%  1200 kbit/s  20.0 fps"
    assert figures_text(None, 3) == "frame 3"
    assert figures_text(None, None) == ""
    assert figures_text(ReceptionStats(), None) == ""  # nothing received yet: no zeros


def test_the_status_bar_leaves_out_empty_parts():
    assert status_text("playing", "", "frame 3") == "playing  |  frame 3"
    assert status_text("ready: press Play", "SETUP done", "") == "ready: press Play  |  SETUP done"
    assert (
        status_text("playing", "PLAY done", "frame 0", "cannot show H264 video")
        == "playing  |  PLAY done  |  cannot show H264 video  |  frame 0"
    )
