"""The scenario's negative cases: requests a server must refuse, with the status RFC 2326 wants.

Each case opens its own connection, sends what it needs and returns the exchange that
shows the server's answer.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

from rtsp_common.status import Status
from workbench.rawrtsp import RawExchange, RawRTSPConnection, RawRTSPError

log = logging.getLogger(__name__)

UNKNOWN_METHOD = "FROBNICATE"  # no RTSP method has this name
MISSING_FILE = "no-such-clip.Mjpeg"
MADE_UP_SESSION = "9999999999999999"  # 16 digits, shaped like the server's ids but not one


class NegativeCase(enum.Enum):
    """The refused requests the demo tries, with the statuses that answer each rightly."""

    # PLAY in the Init state is not valid (RFC 2326 Appendix A.2): our server answers 455.
    # (Reports of other servers' captures also accept 454, see capture_tests.py.)
    PLAY_BEFORE_SETUP = (Status.METHOD_NOT_VALID_IN_THIS_STATE,)
    WRONG_SESSION = (Status.SESSION_NOT_FOUND,)
    MISSING_FILE = (Status.NOT_FOUND,)
    UNKNOWN_METHOD = (Status.NOT_IMPLEMENTED,)

    @property
    def expected_statuses(self) -> tuple[int, ...]:
        return self.value


@dataclass
class NegativeOutcome:
    """The exchanges of one case; ``decisive`` is the one whose status is judged."""

    case: NegativeCase
    exchanges: list[RawExchange] = field(default_factory=list)
    error: str | None = None
    client: str | None = None  # the connection's client end, "ip:port", as a capture shows it

    @property
    def decisive(self) -> RawExchange | None:
        return self.exchanges[-1] if self.exchanges else None

    @property
    def status(self) -> int | None:
        return self.decisive.response.status if self.decisive else None

    @property
    def passed(self) -> bool:
        return self.error is None and self.status in self.case.expected_statuses

    def evidence(self) -> list[str]:
        items = [f"{x.request_text.strip()}\n\n{x.response_text.strip()}" for x in self.exchanges]
        if self.error:
            items.append(self.error)
        return items


def _setup_headers() -> list[tuple[str, str]]:
    return [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]


def run_case(case: NegativeCase, host: str, port: int, url: str) -> NegativeOutcome:
    """Run one case against the server at ``host:port`` serving ``url``."""
    outcome = NegativeOutcome(case)
    try:
        with RawRTSPConnection(host, port) as rtsp:
            outcome.client = rtsp.local
            if case is NegativeCase.PLAY_BEFORE_SETUP:
                outcome.exchanges.append(rtsp.send("PLAY", url))
            elif case is NegativeCase.WRONG_SESSION:
                setup = rtsp.send("SETUP", url, _setup_headers())
                outcome.exchanges.append(setup)
                outcome.exchanges.append(rtsp.send("PLAY", url, [("Session", MADE_UP_SESSION)]))
                session = setup.response.headers.get("Session")
                if session:  # leave nothing behind on the server
                    rtsp.send("TEARDOWN", url, [("Session", session.split(";")[0].strip())])
            elif case is NegativeCase.MISSING_FILE:
                base = url.rsplit("/", 1)[0]
                outcome.exchanges.append(
                    rtsp.send("DESCRIBE", f"{base}/{MISSING_FILE}", [("Accept", "application/sdp")])
                )
            elif case is NegativeCase.UNKNOWN_METHOD:
                outcome.exchanges.append(rtsp.send(UNKNOWN_METHOD, url))
    except (OSError, RawRTSPError) as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"
        log.warning("negative case %s: %s", case.name, outcome.error)
    return outcome


def run_all(host: str, port: int, url: str) -> list[NegativeOutcome]:
    """Every case, in the order of the enum."""
    return [run_case(case, host, port, url) for case in NegativeCase]
