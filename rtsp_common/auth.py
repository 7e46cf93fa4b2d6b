"""HTTP authentication as RTSP uses it (RFC 2326 §D.1): Digest (RFC 7616) and Basic (RFC 7617).

The typed challenge and credentials of Digest, the hashes behind a Digest response, and
Basic's base64 user-pass: pure functions and frozen values, shared by the server (which
checks) and the client (which answers). The header grammar is ``rtsp_common.auth_headers``.
Every parser raises only :class:`~rtsp_common.errors.ParseError`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import re
from dataclasses import dataclass

from rtsp_common.auth_headers import Challenge, Credentials
from rtsp_common.errors import ParseError

DIGEST = "Digest"  # RFC 7616 §3.3
BASIC = "Basic"  # RFC 7617 §2
QOP_AUTH = "auth"  # RFC 7616 §3.3: the request line is protected
QOP_AUTH_INT = "auth-int"  # ... and the body too
NC_DIGITS = 8  # RFC 7616 §3.4: nc is 8LHEX
MAX_NC = 16**NC_DIGITS - 1
_NC = re.compile(r"[0-9A-Fa-f]{1,8}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TRUE = "true"  # RFC 7616 §3.3: stale and userhash are case-insensitive "true"/"false"


class DigestAlgorithm(enum.Enum):
    """The Digest algorithms of RFC 7616 §3.3 that we compute (SHA-512-256 is not offered)."""

    MD5 = ("MD5", "md5")
    MD5_SESS = ("MD5-sess", "md5")
    SHA256 = ("SHA-256", "sha256")
    SHA256_SESS = ("SHA-256-sess", "sha256")

    def __init__(self, token: str, hash_name: str) -> None:
        self.token = token
        self.hash_name = hash_name

    @property
    def session(self) -> bool:
        """True for the -sess variants: A1 also takes the nonce and cnonce (RFC 7616 §3.4.2)."""
        return self.token.endswith("-sess")

    @property
    def base(self) -> DigestAlgorithm:
        """The algorithm without -sess: the one whose H(user:realm:password) is stored."""
        return DigestAlgorithm.SHA256 if self.hash_name == "sha256" else DigestAlgorithm.MD5

    def hash(self, text: str) -> str:
        """H(text): the lower-case hex digest of the UTF-8 bytes (RFC 7616 §3.4.1, §4)."""
        return hashlib.new(self.hash_name, text.encode("utf-8")).hexdigest()

    @classmethod
    def parse(cls, token: str | None) -> DigestAlgorithm:
        """The algorithm a token names (absent: MD5, RFC 7616 §3.3); ParseError if unknown."""
        if token is None:
            return cls.MD5
        for algorithm in cls:
            if algorithm.token.lower() == token.lower():
                return algorithm
        raise ParseError(f"Digest algorithm {token!r} is not supported (MD5, SHA-256, -sess)")

    def __str__(self) -> str:
        return self.token


def check_user(user: str) -> None:
    """ValueError for a user name that Basic (RFC 7617 §2: no ':'), an htdigest line or a
    header line (no control character) cannot carry."""
    if not user or ":" in user or _CONTROL.search(user):
        raise ValueError(f"user name {user!r} must be non-empty, without ':' or control characters")


def _required(source: Challenge | Credentials, name: str) -> str:
    value = source.get(name)
    if value is None:
        raise ParseError(f"{source.scheme} {type(source).__name__.lower()} lacks {name}=")
    return value


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() == _TRUE


def _optional(*pairs: tuple[str, str | None]) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in pairs if value is not None)


@dataclass(frozen=True)
class DigestChallenge:
    """A Digest challenge (RFC 7616 §3.3); ``qop`` empty is an RFC 2069 server's."""

    realm: str
    nonce: str
    algorithm: DigestAlgorithm = DigestAlgorithm.MD5
    qop: tuple[str, ...] = (QOP_AUTH,)
    stale: bool = False
    opaque: str | None = None
    domain: str | None = None

    @classmethod
    def from_challenge(cls, challenge: Challenge) -> DigestChallenge:
        """Read a parsed Digest challenge; ParseError when it lacks a field or names an
        algorithm we cannot compute."""
        if not challenge.is_scheme(DIGEST):
            raise ParseError(f"not a Digest challenge: {challenge.scheme}")
        qop = challenge.get("qop")
        return cls(
            realm=_required(challenge, "realm"),
            nonce=_required(challenge, "nonce"),
            algorithm=DigestAlgorithm.parse(challenge.get("algorithm")),
            qop=tuple(q.strip() for q in qop.split(",") if q.strip()) if qop else (),
            stale=_flag(challenge.get("stale")),
            opaque=challenge.get("opaque"),
            domain=challenge.get("domain"),
        )

    def to_challenge(self) -> Challenge:
        """As a WWW-Authenticate challenge, in RFC 7616 §3.3's order."""
        return Challenge(
            DIGEST,
            (("realm", self.realm),)
            + _optional(("domain", self.domain))
            + (("nonce", self.nonce),)
            + _optional(
                ("opaque", self.opaque),
                ("stale", _TRUE if self.stale else None),
                ("algorithm", self.algorithm.token),
                ("qop", ", ".join(self.qop) if self.qop else None),
            ),
        )

    def __str__(self) -> str:
        return str(self.to_challenge())


@dataclass(frozen=True)
class DigestCredentials:
    """A Digest Authorization (RFC 7616 §3.4); without ``qop`` it is RFC 2069's form."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: DigestAlgorithm = DigestAlgorithm.MD5
    qop: str | None = None
    nc: int | None = None
    cnonce: str | None = None
    opaque: str | None = None
    userhash: bool = False

    @classmethod
    def from_credentials(cls, credentials: Credentials) -> DigestCredentials:
        """Read parsed Digest credentials; ParseError for a missing or malformed field."""
        if not credentials.is_scheme(DIGEST):
            raise ParseError(f"not Digest credentials: {credentials.scheme}")
        qop = credentials.get("qop")
        nc_text = credentials.get("nc")
        nc = None
        if nc_text is not None:
            if not _NC.fullmatch(nc_text):
                raise ParseError(f"Digest nc must be 8 hexadecimal digits, got {nc_text!r}")
            nc = int(nc_text, 16)
        cnonce = credentials.get("cnonce")
        if qop is not None and (nc is None or cnonce is None):
            raise ParseError("Digest credentials with qop need nc= and cnonce= (RFC 7616 §3.4)")
        return cls(
            username=_required(credentials, "username"),
            realm=_required(credentials, "realm"),
            nonce=_required(credentials, "nonce"),
            uri=_required(credentials, "uri"),
            response=_required(credentials, "response"),
            algorithm=DigestAlgorithm.parse(credentials.get("algorithm")),
            qop=qop,
            nc=nc,
            cnonce=cnonce,
            opaque=credentials.get("opaque"),
            userhash=_flag(credentials.get("userhash")),
        )

    def to_credentials(self) -> Credentials:
        """As an Authorization value, in RFC 7616 §3.4's order."""
        return Credentials(
            DIGEST,
            (
                ("username", self.username),
                ("realm", self.realm),
                ("uri", self.uri),
                ("algorithm", self.algorithm.token),
                ("nonce", self.nonce),
            )
            + _optional(
                ("nc", None if self.nc is None else format_nc(self.nc)),
                ("cnonce", self.cnonce),
                ("qop", self.qop),
                ("response", self.response),
                ("opaque", self.opaque),
                ("userhash", _TRUE if self.userhash else None),
            ),
        )

    def __str__(self) -> str:
        return str(self.to_credentials())


def format_nc(count: int) -> str:
    """The nonce count as RFC 7616 §3.4's 8LHEX."""
    if not 0 <= count <= MAX_NC:
        raise ValueError(f"nonce count {count} does not fit {NC_DIGITS} hex digits")
    return f"{count:0{NC_DIGITS}x}"


def digest_ha1(algorithm: DigestAlgorithm, username: str, realm: str, password: str) -> str:
    """H(username:realm:password): what a server stores instead of the password (htdigest)."""
    return algorithm.base.hash(f"{username}:{realm}:{password}")


def digest_response(
    algorithm: DigestAlgorithm,
    ha1: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None = None,
    nc: int | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The ``response`` of RFC 7616 §3.4.1 from the stored H(username:realm:password).

    Without ``qop`` it is RFC 2069's KD(HA1, nonce:H(A2)), which older clients send.
    """
    if algorithm.session:
        # RFC 7616 §3.4.2: A1 = H(user:realm:password):nonce:cnonce
        ha1 = algorithm.hash(f"{ha1}:{nonce}:{cnonce or ''}")
    a2 = f"{method}:{uri}"
    if qop == QOP_AUTH_INT:
        # RFC 7616 §3.4.3: A2 = Method:request-uri:H(entity-body)
        a2 += ":" + hashlib.new(algorithm.hash_name, body).hexdigest()
    ha2 = algorithm.hash(a2)
    if qop is None:
        return algorithm.hash(f"{ha1}:{nonce}:{ha2}")
    return algorithm.hash(f"{ha1}:{nonce}:{format_nc(nc or 0)}:{cnonce or ''}:{qop}:{ha2}")


def basic_token(user: str, password: str) -> str:
    """Basic's token68: base64 of UTF-8 ``user:password`` (RFC 7617 §2, §2.1)."""
    if ":" in user:
        raise ValueError("a Basic user-id cannot contain ':' (RFC 7617 §2)")
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def parse_basic(credentials: Credentials) -> tuple[str, str]:
    """(user, password) from Basic credentials; ParseError when they are not base64 user:pass."""
    if not credentials.is_scheme(BASIC) or credentials.token68 is None:
        raise ParseError("Basic credentials are one base64 token (RFC 7617 §2)")
    try:
        raw = base64.b64decode(credentials.token68, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ParseError(f"Basic credentials are not base64: {exc}") from exc
    text = raw.decode("utf-8", "replace")
    user, colon, password = text.partition(":")
    if not colon:
        raise ParseError("Basic credentials lack the ':' between user and password")
    return user, password
