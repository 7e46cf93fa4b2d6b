"""Access control: is this request authorised, and if not, what challenge answers it. No I/O.

RFC 2326 §D.1 takes HTTP authentication for RTSP. Every request needs valid credentials;
without them the answer is 401 with one WWW-Authenticate challenge per Digest algorithm the
users' hashes allow (SHA-256 first, RFC 7616 §3.7), then Basic when it was asked for.
Nothing in a refusal says whether the user exists: an unknown user costs the same hash
computations against a dummy hash and gets the same 401 as a wrong password, and every
comparison of secrets is constant-time. The reason stays in the server's log.

A Digest answer without qop (RFC 2069's form, which GStreamer 1.22's rtspsrc sends) is
accepted only when ``legacy_digest`` allows it: it has no nonce count, so within the nonce's
lifetime a captured request can be replayed from the same address.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from rtsp_common.auth import (
    BASIC,
    DIGEST,
    QOP_AUTH,
    DigestAlgorithm,
    DigestChallenge,
    DigestCredentials,
    digest_ha1,
    digest_response,
    parse_basic,
)
from rtsp_common.auth_headers import Challenge, Credentials
from rtsp_common.errors import ParseError
from rtsp_common.rtsp import Request
from rtsp_server.credentials import PREFERENCE, CredentialStore
from rtsp_server.log_limit import PEER_DRIVEN
from rtsp_server.nonces import NonceCheck, NonceTable
from rtsp_server.options import ServerOptions

log = logging.getLogger(__name__)
log.addFilter(PEER_DRIVEN)  # what a peer can make us log is bounded

# An unknown user is checked against this, so refusing them takes as long as a wrong password.
_DUMMY_PASSWORD = "\x00no such user\x00"
BASIC_CHARSET = "UTF-8"  # RFC 7617 §2.1: we read user and password as UTF-8
BASIC_WARNING = (
    "Basic authentication is on (--auth-basic): every request carries the password in "
    "clear (base64) for anyone on the path to read; use it only inside a trusted network"
)


@dataclass(frozen=True)
class Granted:
    """The request comes from ``user``."""

    user: str


@dataclass(frozen=True)
class Refused:
    """401: the WWW-Authenticate values to send, and why (for the log only)."""

    challenges: tuple[str, ...]
    reason: str

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The WWW-Authenticate fields of the 401, one challenge each."""
        return [("WWW-Authenticate", challenge) for challenge in self.challenges]


Decision = Granted | Refused


class AccessControl:
    """Checks the Authorization of each request against one realm's users."""

    def __init__(
        self,
        store: CredentialStore,
        nonce_lifetime: float,
        allow_basic: bool = False,
        legacy_digest: bool = True,
    ) -> None:
        self.store = store
        self.allow_basic = allow_basic
        self.legacy_digest = legacy_digest
        self.nonces = NonceTable(nonce_lifetime)
        self._dummy = {a: digest_ha1(a, "", store.realm, _DUMMY_PASSWORD) for a in PREFERENCE}

    @classmethod
    def from_options(cls, options: ServerOptions) -> AccessControl | None:
        """The access control ``options`` ask for (reading ``auth_file``), or None when open."""
        if not options.auth_required:
            return None
        pairs = [entry.partition(":")[::2] for entry in options.auth]
        store = CredentialStore.from_passwords(options.auth_realm, pairs)
        if options.auth_file is not None:
            store = CredentialStore.load(options.auth_realm, options.auth_file).merged(store)
        return cls(store, options.nonce_lifetime, options.auth_basic, options.auth_legacy_digest)

    def log_startup(self) -> None:
        """Say who may connect and how; warn when Basic puts passwords on the wire."""
        schemes = [f"Digest {a}" for a in self.store.algorithms]
        if self.allow_basic:
            schemes.append(BASIC)
        log.info(
            "access control: %d users in realm %r, by %s",
            len(self.store.hashes),
            self.store.realm,
            ", ".join(schemes),
        )
        if self.allow_basic:
            log.warning("%s", BASIC_WARNING)

    def check(self, request: Request, peer: str, now: float) -> Decision:
        """Grant ``request`` from ``peer`` to its user, or refuse it with fresh challenges."""
        values = request.headers.get_all("Authorization")
        if not values:
            return self._refuse(peer, now, "no credentials")
        if len(values) > 1:
            return self._refuse(peer, now, "several Authorization headers")
        try:
            credentials = Credentials.parse(values[0])
            if credentials.is_scheme(DIGEST):
                return self._digest(
                    DigestCredentials.from_credentials(credentials), request, peer, now
                )
            if credentials.is_scheme(BASIC) and self.allow_basic:
                return self._basic(*parse_basic(credentials), peer=peer, now=now)
        except ParseError as exc:
            return self._refuse(peer, now, f"unreadable Authorization: {exc}")
        return self._refuse(peer, now, f"{credentials.scheme} credentials are not accepted")

    # --- the two schemes ---------------------------------------------------------------

    def _basic(self, user: str, password: str, peer: str, now: float) -> Decision:
        algorithm = next(iter(self.store.hashes.get(user, {})), DigestAlgorithm.SHA256)
        stored = self._stored(user, algorithm)
        given = digest_ha1(algorithm, user, self.store.realm, password)
        if not hmac.compare_digest(given, stored) or user not in self.store.hashes:
            return self._refuse(peer, now, f"Basic: wrong password or unknown user {user!r}")
        return Granted(user)

    def _digest(
        self, answer: DigestCredentials, request: Request, peer: str, now: float
    ) -> Decision:
        problem = self._digest_form(answer, request)
        if problem:
            return self._refuse(peer, now, f"Digest from {answer.username!r}: {problem}")
        expected = digest_response(
            answer.algorithm,
            self._stored(answer.username, answer.algorithm),
            answer.nonce,
            request.method,
            answer.uri,
            answer.qop,
            answer.nc,
            answer.cnonce,
        )
        correct = hmac.compare_digest(expected, answer.response.lower())
        if not correct or answer.username not in self.store.hashes:
            return self._refuse(
                peer, now, f"Digest: wrong password or unknown user {answer.username!r}"
            )
        verdict = self.nonces.check(answer.nonce, peer, now, answer.nc)
        if verdict is NonceCheck.VALID:
            return Granted(answer.username)
        if verdict is NonceCheck.STALE:
            # RFC 7616 §3.3: the password was right, only the nonce is not (any longer) ours.
            return self._refuse(peer, now, "stale nonce", stale=True)
        return self._refuse(peer, now, f"Digest from {answer.username!r}: nonce count replayed")

    def _digest_form(self, answer: DigestCredentials, request: Request) -> str | None:
        """Why ``answer`` is not one we asked for, or None."""
        if answer.realm != self.store.realm:
            return f"realm {answer.realm!r} is not ours"
        if answer.algorithm not in self.store.algorithms:
            return f"algorithm {answer.algorithm} was not offered"
        if answer.userhash:
            return "userhash was not offered"
        if answer.qop is None:
            if not self.legacy_digest or answer.algorithm is not DigestAlgorithm.MD5:
                return "no qop (RFC 2069 form) is not accepted"
        elif answer.qop != QOP_AUTH:
            return f"qop {answer.qop!r} was not offered"
        if answer.uri != request.uri:
            # RFC 7616 §3.4.6: the response must be for this request's URI.
            return f"uri {answer.uri!r} is not the request's"
        return None

    def _stored(self, user: str, algorithm: DigestAlgorithm) -> str:
        return self.store.ha1(user, algorithm) or self._dummy[algorithm.base]

    # --- refusing ----------------------------------------------------------------------

    def _refuse(self, peer: str, now: float, reason: str, stale: bool = False) -> Refused:
        nonce = self.nonces.issue(peer, now)
        challenges = [
            str(DigestChallenge(self.store.realm, nonce, algorithm, (QOP_AUTH,), stale))
            for algorithm in self.store.algorithms
        ]
        if self.allow_basic:
            realm = (("realm", self.store.realm), ("charset", BASIC_CHARSET))
            challenges.append(str(Challenge(BASIC, realm)))
        return Refused(tuple(challenges), reason)
