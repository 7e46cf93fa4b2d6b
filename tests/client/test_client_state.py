"""The client's state table (RFC 2326 A.1)."""

from __future__ import annotations

import pytest

from rtsp_client.errors import StateError
from rtsp_client.state import ClientState, ClientStateMachine


def test_lab_sequence_walks_the_table():
    s = ClientStateMachine()
    for method, state in [
        ("SETUP", ClientState.READY),
        ("PLAY", ClientState.PLAYING),
        ("PAUSE", ClientState.READY),
        ("PLAY", ClientState.PLAYING),
        ("TEARDOWN", ClientState.INIT),
    ]:
        s.check(method)
        assert s.advance(method) is state


@pytest.mark.parametrize("method", ["PLAY", "PAUSE", "TEARDOWN"])
def test_requests_before_setup_are_refused(method):
    with pytest.raises(StateError, match=f"{method} is not allowed in state init"):
        ClientStateMachine().check(method)


def test_stateless_requests_are_always_allowed():
    s = ClientStateMachine()
    for method in ("OPTIONS", "DESCRIBE", "GET_PARAMETER"):
        s.check(method)
        assert s.advance(method) is ClientState.INIT
