"""The scenario's requests and replies as the capture saw them, for the tests' evidence.

The client library tells what it accepted; the capture tells exactly what was on the
wire. Each step of a scripted session is matched to the exchange of the same method, in
order, on the connection that carried the session.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.check import CheckResult
from analysis.sessions.rebuild import CapturedExchange

# The scripted steps and the RTSP method each sends (RESUME is the second PLAY).
STEP_METHODS = {
    "OPTIONS": "OPTIONS",
    "DESCRIBE": "DESCRIBE",
    "SETUP": "SETUP",
    "PLAY": "PLAY",
    "PAUSE": "PAUSE",
    "RESUME": "PLAY",
    "TEARDOWN": "TEARDOWN",
}


@dataclass(frozen=True)
class WireExchange:
    """One request and its reply as captured (texts with CRLF shown as line breaks)."""

    method: str
    request: str
    response: str | None
    status: int | None
    reason: str

    @property
    def status_line(self) -> str:
        return f"{self.status} {self.reason}" if self.status is not None else "–"

    def evidence(self) -> str:
        return self.request.rstrip() + ("\n\n" + self.response.rstrip() if self.response else "")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").replace("\r\n", "\n")


def _wire(exchange: CapturedExchange) -> WireExchange:
    request, response = exchange.request, exchange.response
    assert request is not None  # the steps are matched on requests
    return WireExchange(
        method=request.method.upper(),
        request=_text(request.raw),
        response=_text(response.raw) if response is not None else None,
        status=response.status if response is not None else None,
        reason=response.reason if response is not None else "",
    )


def session_steps(
    check: CheckResult, session_id: str | None, steps: list[str]
) -> dict[str, WireExchange]:
    """Match ``steps`` (names of STEP_METHODS) to the exchanges of the connection that
    carried ``session_id``; steps with no captured exchange are left out."""
    if not session_id:
        return {}
    for connection in check.connections:
        if not any(e.session_id == session_id for e in connection.exchanges):
            continue
        matched: dict[str, WireExchange] = {}
        requests = [(e.request, e) for e in connection.exchanges if e.request is not None]
        position = 0
        for step in steps:
            method = STEP_METHODS[step]
            for index in range(position, len(requests)):
                request, exchange = requests[index]
                if request.method.upper() == method:
                    matched[step] = _wire(exchange)
                    position = index + 1
                    break
        return matched
    return {}
