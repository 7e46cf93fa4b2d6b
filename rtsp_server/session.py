"""RTSP sessions: identifiers, the RFC 2326 Appendix A.2 server state table, session records."""

from __future__ import annotations

import enum
import math
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rtsp_server.media import MediaTrack
from rtsp_server.stream import RTPStream

# The lab's client calls int() on the id; 16+ decimal digits keep ids unguessable (about 2^56).
SESSION_ID_DIGITS = 18
# Sessions take turns within each frame interval: each sends in one of this many phase slots,
# so that sessions started together (a camera wall, a load test) do not all send at once.
PHASE_SLOTS = 16


class SessionState(enum.Enum):
    """Server-side session states of RFC 2326 Appendix A.2 (no RECORD support)."""

    INIT = "init"
    READY = "ready"
    PLAYING = "playing"


# RFC 2326 Appendix A.2, server state machine. A (state, method) pair absent here is answered
# with 455 Method Not Valid in This State. SETUP while playing would change the transport under
# a running stream, which RFC 2326 §10.4 lets a server refuse.
TRANSITIONS: dict[tuple[SessionState, str], SessionState] = {
    (SessionState.INIT, "SETUP"): SessionState.READY,
    (SessionState.INIT, "TEARDOWN"): SessionState.INIT,
    (SessionState.READY, "SETUP"): SessionState.READY,
    (SessionState.READY, "PLAY"): SessionState.PLAYING,
    (SessionState.READY, "TEARDOWN"): SessionState.INIT,
    (SessionState.READY, "GET_PARAMETER"): SessionState.READY,
    (SessionState.PLAYING, "PLAY"): SessionState.PLAYING,
    (SessionState.PLAYING, "PAUSE"): SessionState.READY,
    (SessionState.PLAYING, "TEARDOWN"): SessionState.INIT,
    (SessionState.PLAYING, "GET_PARAMETER"): SessionState.PLAYING,
}


class InvalidTransition(Exception):
    """A method the session's current state does not allow (RTSP 455)."""


def next_state(state: SessionState, method: str) -> SessionState:
    """Return the state after ``method``; raise InvalidTransition when the table has no entry."""
    try:
        return TRANSITIONS[(state, method)]
    except KeyError:
        raise InvalidTransition(f"{method} is not valid in state {state.name}") from None


def new_session_id() -> str:
    """A fresh random session id of SESSION_ID_DIGITS decimal digits, no leading zero."""
    first = str(secrets.randbelow(9) + 1)
    rest = "".join(str(secrets.randbelow(10)) for _ in range(SESSION_ID_DIGITS - 1))
    return first + rest


@dataclass(frozen=True)
class UDPDestination:
    """Where a UDP session's RTP and RTCP go: always the RTSP peer's host."""

    host: str
    rtp_port: int
    rtcp_port: int


@dataclass(frozen=True)
class InterleavedChannels:
    """RFC 2326 §10.12 channels carrying RTP and RTCP on the RTSP connection."""

    rtp: int
    rtcp: int


@dataclass(eq=False)
class Session:
    """One client's stream of one media file; owned by the connection that made it."""

    id: str
    peer_host: str
    media_path: str
    track: MediaTrack
    stream: RTPStream
    destination: UDPDestination | InterleavedChannels
    connection_id: int
    timeout: float
    last_activity: float
    lab_dialect: bool = False
    user: str | None = None  # the user whose SETUP made it; only they may use it
    state: SessionState = SessionState.READY
    ended: bool = False  # reached the end of the file without --loop: BYE sent, kept until TEARDOWN
    receiver_reports: int = 0
    next_report: float = 0.0  # loop time of the next RTCP sender report
    phase_slot: int = 0  # where in each frame interval its frames leave (the registry's pick)
    # A session never PLAYed is reclaimed this long after its SETUP, keep-alives or not:
    # READY sessions cost a slot and nothing else, so a peer could hoard them.
    ready_timeout: float = math.inf
    played: bool = False

    created: float = field(init=False)  # when it was set up: its first activity

    def __post_init__(self) -> None:
        self.created = self.last_activity

    @property
    def is_interleaved(self) -> bool:
        """True when RTP and RTCP travel on the RTSP connection (RFC 2326 §10.12)."""
        return isinstance(self.destination, InterleavedChannels)

    def touch(self, now: float) -> None:
        """Record activity (an RTSP request or an RTCP receiver report) at ``now``."""
        self.last_activity = now

    def expired(self, now: float) -> bool:
        """True when no activity came within ``timeout`` seconds before ``now``, or when it
        was never played within ``ready_timeout`` of its SETUP."""
        return self.expiry(now) is not None

    def expiry(self, now: float) -> str | None:
        """Why it has expired at ``now``, for the log (``idle for 61 s``, ``never played in
        30 s``), or None while it has not."""
        if not self.played and now - self.created > self.ready_timeout:
            return f"never played in {now - self.created:.0f} s"
        if now - self.last_activity > self.timeout:
            return f"idle for {now - self.last_activity:.0f} s"
        return None

    def apply(self, method: str) -> None:
        """Move along the state table; InvalidTransition when ``method`` is not allowed now."""
        self.state = next_state(self.state, method)

    def first_frame_at(self, now: float) -> float:
        """The first clock time from ``now`` in this session's phase slot: a PLAY's first
        frame waits less than one frame interval for it, and the run keeps that phase."""
        interval = 1.0 / self.stream.fps
        phase = self.phase_slot * interval / PHASE_SLOTS
        return phase + math.ceil(round((now - phase) / interval, 9)) * interval


if TYPE_CHECKING:
    from rtsp_server.worker_slot import WorkerSlot


class SessionLimitReached(Exception):
    """The server, or one peer address, already holds its most sessions (RTSP 453)."""


class SessionRegistry:
    """All sessions of one server (or of one worker process: ``worker``), by id, with a
    size limit that holds across the workers and a limit per peer address."""

    def __init__(
        self, max_sessions: int, worker: WorkerSlot | None = None, max_per_peer: int | None = None
    ) -> None:
        self.max_sessions = max_sessions
        self.worker = worker
        self.max_per_peer = max_sessions if max_per_peer is None else max_per_peer
        self._sessions: dict[str, Session] = {}
        self._per_peer: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        # over a copy: callers remove sessions while they iterate
        return iter(list(self._sessions.values()))

    def get(self, session_id: str) -> Session | None:
        """The session with ``session_id``, or None."""
        return self._sessions.get(session_id)

    def _check_room(self, peer_host: str) -> None:
        """SessionLimitReached when the server, or ``peer_host``, holds its maximum."""
        held = len(self._sessions) if self.worker is None else self.worker.sessions.total()
        if held >= self.max_sessions:
            raise SessionLimitReached(f"session limit of {self.max_sessions} reached")
        held_by_peer = (
            self._per_peer[peer_host] if self.worker is None else self.worker.peers.held(peer_host)
        )
        if held_by_peer >= self.max_per_peer:
            raise SessionLimitReached(
                f"{peer_host} holds {self.max_per_peer} sessions, the most one address may"
            )

    def new_id(self, peer_host: str) -> str:
        """A session id not in use for a session of ``peer_host``; SessionLimitReached when
        there is no room for it."""
        self._check_room(peer_host)
        while True:
            session_id = new_session_id()
            if session_id not in self._sessions and (
                self.worker is None or self.worker.owns(session_id)
            ):
                return session_id

    def add(self, session: Session) -> None:
        """Register ``session``; SessionLimitReached when there is no room for it."""
        self._check_room(session.peer_host)
        if self.worker is not None:
            index, peer = self.worker.index, session.peer_host
            if not self.worker.sessions.try_take(index):
                raise SessionLimitReached(f"session limit of {self.max_sessions} reached")
            if not self.worker.peers.try_take(index, peer, self.max_per_peer):
                self.worker.sessions.give_back(index)
                raise SessionLimitReached(
                    f"{peer} holds {self.max_per_peer} sessions, the most one address may"
                )
        session.phase_slot = self._least_used_slot()
        self._sessions[session.id] = session
        self._per_peer[session.peer_host] += 1

    def _least_used_slot(self) -> int:
        """The phase slot fewest sessions send in (the lowest such slot)."""
        used = [0] * PHASE_SLOTS
        for session in self._sessions.values():
            used[session.phase_slot] += 1
        return used.index(min(used))

    def remove(self, session_id: str) -> Session | None:
        """Forget ``session_id``; the session removed, or None when unknown."""
        session = self._sessions.pop(session_id, None)
        if session is not None:
            self._per_peer[session.peer_host] -= 1
            if not self._per_peer[session.peer_host]:
                del self._per_peer[session.peer_host]
            if self.worker is not None:
                self.worker.sessions.give_back(self.worker.index)
                self.worker.peers.give_back(self.worker.index, session.peer_host)
        return session

    def not_found(self, session_id: str) -> tuple[str, bool]:
        """Why a request naming ``session_id`` gets 454 here, and whether the reply's body
        says so: only when the session is another worker process's, which the client can act
        on (an unknown id says nothing about other peers' sessions)."""
        if self.worker is not None and not self.worker.owns(session_id):
            # RFC 2326 §3 lets a session outlive its connection, but each worker process
            # keeps its own sessions: requests must come to the one that set it up.
            return (
                f"session {session_id!r} belongs to another worker process; send its "
                "requests on the connection that set it up",
                True,
            )
        return f"no session {session_id!r} for this peer", False

    def owned_by(self, connection_id: int) -> list[Session]:
        """The sessions last set up on connection ``connection_id`` (their owner)."""
        return [s for s in self._sessions.values() if s.connection_id == connection_id]

    def expired(self, now: float) -> list[Session]:
        """The sessions idle past their timeout at ``now``."""
        return [s for s in self._sessions.values() if s.expired(now)]

    def sending_to(self, host: str, port: int) -> list[Session]:
        """The UDP sessions whose RTP or RTCP goes to ``host``:``port`` (what an ICMP error
        names); TCP-interleaved sessions send to no UDP address."""
        return [
            s
            for s in self._sessions.values()
            if isinstance(s.destination, UDPDestination)
            and s.destination.host == host
            and port in (s.destination.rtp_port, s.destination.rtcp_port)
        ]

    def by_ssrc(self, ssrc: int) -> Session | None:
        """The session whose stream has ``ssrc`` (what an RTCP report block names), or None."""
        for session in self._sessions.values():
            if session.stream.ssrc == ssrc:
                return session
        return None
