"""Digest nonces the server issued: who got each, when, and the last nonce count used with it.

A nonce is random (RFC 7616 §5.4: unpredictable), valid for ``lifetime`` seconds, only from
the address it was issued to (RFC 7616 §5.5), and with qop=auth only with a nonce count above
the last one accepted (RFC 7616 §3.4: a replayed request repeats its nc). The table is
bounded: a peer that collects challenges by the thousand pushes out the oldest nonces, whose
owners are then asked to retry (stale=true) rather than the server growing without end.
No I/O; the clock is passed in.
"""

from __future__ import annotations

import enum
import secrets
from collections import OrderedDict
from dataclasses import dataclass

NONCE_BYTES = 24  # 192 random bits, 32 URL-safe base64 characters
MAX_NONCES = 4096  # nonces remembered at once, the oldest forgotten first


class NonceCheck(enum.Enum):
    """What a nonce presented with a correct response is worth."""

    VALID = "valid"
    STALE = "stale"  # expired, unknown or forgotten: a fresh one is offered with stale=true
    REPLAYED = "replayed"  # a nonce count not above the last one accepted


@dataclass
class _Issued:
    peer: str
    at: float
    last_nc: int = 0


class NonceTable:
    """The nonces in force, oldest first, at most ``capacity`` of them."""

    def __init__(self, lifetime: float, capacity: int = MAX_NONCES) -> None:
        self.lifetime = lifetime
        self.capacity = capacity
        self._issued: OrderedDict[str, _Issued] = OrderedDict()

    def __len__(self) -> int:
        return len(self._issued)

    def issue(self, peer: str, now: float) -> str:
        """A new nonce for ``peer``."""
        self._forget_expired(now)
        while len(self._issued) >= self.capacity:
            self._issued.popitem(last=False)
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        self._issued[nonce] = _Issued(peer, now)
        return nonce

    def check(self, nonce: str, peer: str, now: float, nc: int | None) -> NonceCheck:
        """Judge ``nonce`` from ``peer`` with nonce count ``nc`` (None: RFC 2069, no count)
        and, when valid, record the count."""
        issued = self._issued.get(nonce)
        if issued is None or issued.peer != peer:
            return NonceCheck.STALE
        if now - issued.at > self.lifetime:
            del self._issued[nonce]
            return NonceCheck.STALE
        if nc is not None:
            if nc <= issued.last_nc:
                return NonceCheck.REPLAYED
            issued.last_nc = nc
        return NonceCheck.VALID

    def _forget_expired(self, now: float) -> None:
        # Issued in time order: the expired ones are at the front.
        while self._issued:
            oldest = next(iter(self._issued.values()))
            if now - oldest.at <= self.lifetime:
                return
            self._issued.popitem(last=False)
