"""The client's answers to a server's challenges (RFC 2326 §D.1), sans I/O.

``Authenticator`` keeps the challenge it answers and writes the Authorization of each request:
Digest (RFC 7616: MD5, SHA-256 and their -sess forms, qop=auth or auth-int, or RFC 2069's form
when the server names no qop) reusing the server's nonce with a nonce count one higher each
time, or Basic (RFC 7617) only when the server offers nothing else. Nothing is sent before the
server asks. When to retry a refused request is ``ClientConnection``'s business.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable

from rtsp_common.auth import (
    BASIC,
    DIGEST,
    QOP_AUTH,
    QOP_AUTH_INT,
    DigestAlgorithm,
    DigestChallenge,
    DigestCredentials,
    basic_token,
    digest_ha1,
    digest_response,
)
from rtsp_common.auth_headers import Challenge
from rtsp_common.errors import ParseError

logger = logging.getLogger(__name__)

# RFC 7616 §3.7: a client answers the strongest challenge it can; Basic comes last of all.
DIGEST_PREFERENCE = (
    DigestAlgorithm.SHA256,
    DigestAlgorithm.SHA256_SESS,
    DigestAlgorithm.MD5,
    DigestAlgorithm.MD5_SESS,
)
QOP_PREFERENCE = (QOP_AUTH, QOP_AUTH_INT)
CNONCE_BYTES = 16


class UnanswerableChallenge(Exception):
    """No challenge in a 401 is one we can answer; the message says what was offered."""


class Authenticator:
    """Answers one server's challenges for ``user``; the password is only ever hashed or,
    for Basic, base64-encoded."""

    def __init__(self, user: str, password: str, cnonce: Callable[[], str] | None = None) -> None:
        self.user = user
        self._password = password
        self._cnonce = cnonce or (lambda: secrets.token_hex(CNONCE_BYTES))
        self.digest: DigestChallenge | None = None
        self.basic = False
        self.nc = 0  # nonce count of the last request with the current nonce

    @property
    def scheme(self) -> str | None:
        """What we answer with now ('Digest SHA-256', 'Basic'), or None before any challenge."""
        if self.digest is not None:
            return f"{DIGEST} {self.digest.algorithm}"
        return BASIC if self.basic else None

    def adopt(self, values: Iterable[str]) -> bool:
        """Answer the strongest of the challenges in these WWW-Authenticate values from now on.

        Returns its ``stale`` flag (RFC 7616 §3.3: the password was right, the nonce was
        not); UnanswerableChallenge when none can be answered.
        """
        challenges, problems = _read(values)
        digests = []
        for challenge in challenges:
            if challenge.is_scheme(DIGEST):
                try:
                    digests.append(DigestChallenge.from_challenge(challenge))
                except ParseError as exc:
                    problems.append(str(exc))
        # RFC 2069's form (no qop) has no cnonce, which the -sess algorithms need.
        usable = [d for d in digests if _qop(d) or not (d.qop or d.algorithm.session)]
        if usable:
            best = min(usable, key=lambda d: DIGEST_PREFERENCE.index(d.algorithm))
            if self.digest is None or best.nonce != self.digest.nonce:
                self.nc = 0  # RFC 7616 §3.4: the count starts again with each new nonce
            self.digest, self.basic = best, False
            return best.stale
        if any(c.is_scheme(BASIC) for c in challenges):
            logger.info("the server asks for Basic: the password goes in clear (base64)")
            self.digest, self.basic = None, True
            return False
        offered = ", ".join(c.scheme for c in challenges) or "nothing readable"
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise UnanswerableChallenge(f"the server's challenge cannot be answered: {offered}{detail}")

    def authorization(self, method: str, uri: str, body: bytes = b"") -> str | None:
        """The Authorization of the next request, or None before the server asked for one."""
        if self.basic:
            return f"{BASIC} {basic_token(self.user, self._password)}"
        digest = self.digest
        if digest is None:
            return None
        qop = _qop(digest)
        nc = cnonce = None
        if qop is not None:
            self.nc += 1
            nc, cnonce = self.nc, self._cnonce()
        ha1 = digest_ha1(digest.algorithm, self.user, digest.realm, self._password)
        response = digest_response(
            digest.algorithm, ha1, digest.nonce, method, uri, qop, nc, cnonce, body
        )
        return str(
            DigestCredentials(
                username=self.user,
                realm=digest.realm,
                nonce=digest.nonce,
                uri=uri,
                response=response,
                algorithm=digest.algorithm,
                qop=qop,
                nc=nc,
                cnonce=cnonce,
                opaque=digest.opaque,
            )
        )


def offered(values: Iterable[str]) -> str:
    """The schemes a 401 offers, for a message: 'Digest SHA-256, Digest MD5, Basic'."""
    challenges, _ = _read(values)
    names = []
    for challenge in challenges:
        algorithm = challenge.get("algorithm") if challenge.is_scheme(DIGEST) else None
        names.append(challenge.scheme + (f" {algorithm}" if algorithm else ""))
    return ", ".join(names) or "no challenge"


def _read(values: Iterable[str]) -> tuple[list[Challenge], list[str]]:
    challenges: list[Challenge] = []
    problems: list[str] = []
    for value in values:
        try:
            challenges += Challenge.parse_all(value)
        except ParseError as exc:
            problems.append(str(exc))
    return challenges, problems


def _qop(challenge: DigestChallenge) -> str | None:
    """The qop we answer with: auth if offered, else auth-int; None for an RFC 2069 server."""
    return next((q for q in QOP_PREFERENCE if q in challenge.qop), None)
