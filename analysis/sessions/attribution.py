"""Which session and flow each packet belongs to, so that every finding names its owner.

A finding is only as useful as the answer to "whose fault, in which session?": a capture
of many sessions (a demo with deliberate negative tests, a camera's audio and video, a
proxy's clients) must say which one broke a rule. RTSP messages belong to the session
their exchange acted on (or to their connection alone, before any SETUP); RTP packets to
their stream's session; RTCP packets to their flow's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.sessions.rebuild import CaptureSessions


@dataclass(frozen=True)
class Scope:
    """Where a packet belongs: an RTSP session (when known), the flow or connection it ran
    on, and the RTSP client of that connection (``ip:port``, when there is one)."""

    session: str | None
    flow: str
    client: str | None = None

    def describe(self) -> str:
        """``session S`` or the flow, for evidence texts."""
        return f"session {self.session}" if self.session else self.flow


NOWHERE = Scope(None, "no flow")


class Attribution:
    """Packet number -> :class:`Scope`, built on first use from what the readers found."""

    def __init__(self, capture: CaptureSessions) -> None:
        self._capture = capture
        self._exact: dict[int, Scope] | None = None
        self._stream_pktnos: np.ndarray | None = None
        self._stream_owner: np.ndarray | None = None
        self._stream_scopes: list[Scope] = []

    def _build(self) -> None:
        capture = self._capture
        clients: dict[str | None, str] = {s.id: str(s.connection.client) for s in capture.sessions}
        exact: dict[int, Scope] = {}
        for conn in capture.connections:
            client = str(conn.client)
            for message in conn.invalid:
                exact.setdefault(message.pktno, Scope(None, conn.label, client))
            for ex in conn.exchanges:
                scope = Scope(ex.session_id, conn.label, client)
                for sent in (ex.request, ex.response):
                    if sent is not None:
                        exact[sent.pktno] = scope
        for flow in capture.rtcp:
            scope = Scope(flow.session_id, flow.label, clients.get(flow.session_id))
            for pktno, _t, _types in flow.compounds:
                exact.setdefault(pktno, scope)
        pktnos, owners = [], []
        for index, stream in enumerate(capture.streams):
            self._stream_scopes.append(
                Scope(stream.session_id, stream.label, clients.get(stream.session_id))
            )
            pktnos.append(stream.pktno)
            owners.append(np.full(len(stream.pktno), index, dtype=np.int64))
        if pktnos:
            all_pktnos = np.concatenate(pktnos)
            order = np.argsort(all_pktnos, kind="stable")
            self._stream_pktnos = all_pktnos[order]
            self._stream_owner = np.concatenate(owners)[order]
        self._exact = exact

    def scope(self, pktno: int) -> Scope:
        """The owner of packet ``pktno``; a stream's packet wins over an RTSP message that
        shares its TCP segment (interleaved RTP)."""
        if self._exact is None:
            self._build()
        assert self._exact is not None  # _build fills it
        if self._stream_pktnos is not None and self._stream_owner is not None:
            at = int(np.searchsorted(self._stream_pktnos, pktno))
            if at < len(self._stream_pktnos) and self._stream_pktnos[at] == pktno:
                return self._stream_scopes[int(self._stream_owner[at])]
        return self._exact.get(pktno, NOWHERE)
