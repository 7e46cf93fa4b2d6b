"""The probe's own HTTP authentication for RTSP (RFC 2326 §D.1): reading a server's
challenges, and answering them with Digest (RFC 7616) or Basic (RFC 7617).

Written again here rather than taken from ``rtsp_common.auth``: the analysis is the
independent oracle, and a Digest bug shared by our server and the tool that judges it would
hide itself. The reading is lenient (a server's odd header yields fewer offers, never an
exception); the answers follow the RFC formulas directly.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field

# RFC 7616 §3.3: algorithm names and the hash each stands on (-sess hashes A1 once more).
DIGEST_HASHES = {"md5": "md5", "md5-sess": "md5", "sha-256": "sha256", "sha-256-sess": "sha256"}
# Which offer a client answers when several are made: stronger first.
STRENGTH = ("sha-256", "sha-256-sess", "md5", "md5-sess")
AUTH_HEADER = "Authorization"
CHALLENGE_HEADER = "WWW-Authenticate"
_TCHAR = r"[!#$%&'*+.^_`|~0-9A-Za-z-]"
# RFC 7235 §2.1: a challenge list holds schemes (each with a token68 or followed by
# parameters) and ``name=value`` parameters (token or quoted-string), comma-separated.
_PARAM = re.compile(rf'\s*({_TCHAR}+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*)\s*(?:,|$)')
_SCHEME = re.compile(rf"\s*({_TCHAR}+)(?:[ \t]+([A-Za-z0-9._~+/-]+=*)\s*(?:,|$)|\s*(?:,|$)|[ \t]+)")
_QUOTED_PAIR = re.compile(r"\\(.)")


@dataclass
class Offer:
    """One challenge a server made: its scheme (lower case) and parameters (names lower)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def algorithm(self) -> str:
        """The Digest algorithm, lower case; MD5 when not named (RFC 7616 §3.3)."""
        return self.params.get("algorithm", "MD5").lower()

    @property
    def qops(self) -> list[str]:
        """The qop values offered; empty for an RFC 2069 server."""
        return [q.strip().lower() for q in self.params.get("qop", "").split(",") if q.strip()]

    @property
    def stale(self) -> bool:
        """RFC 7616 §3.3: the previous answer was right, only its nonce was not."""
        return self.params.get("stale", "").lower() == "true"

    @property
    def answerable(self) -> bool:
        """True for Basic, and for Digest with an algorithm and a qop we can answer."""
        if self.scheme == "basic":
            return True
        return (
            self.scheme == "digest"
            and self.algorithm in DIGEST_HASHES
            and "nonce" in self.params
            and (not self.qops or "auth" in self.qops)
            and not (self.algorithm.endswith("-sess") and not self.qops)
        )

    def describe(self) -> str:
        """'Digest SHA-256', 'Basic': the offer in a reason's words."""
        if self.scheme == "digest":
            return f"Digest {self.params.get('algorithm', 'MD5')}"
        return self.scheme.capitalize()


def read_offers(values: list[str]) -> list[Offer]:
    """Every challenge in these WWW-Authenticate values; what cannot be read is skipped."""
    offers: list[Offer] = []
    for value in values:
        pos = 0
        while pos < len(value.rstrip()):
            param = _PARAM.match(value, pos) if offers else None
            if param is not None and param.end() > pos:
                offers[-1].params[param.group(1).lower()] = _unquote(param.group(2))
                pos = param.end()
                continue
            scheme = _SCHEME.match(value, pos)
            if scheme is None or scheme.end() == pos:
                break  # unreadable from here on: keep what came before
            offers.append(Offer(scheme.group(1).lower()))
            pos = scheme.end()
    return offers


def strongest(offers: list[Offer]) -> Offer | None:
    """The offer a careful client answers: the strongest Digest, else Basic, else None."""
    digests = [o for o in offers if o.scheme == "digest" and o.answerable]
    if digests:
        return min(digests, key=lambda o: STRENGTH.index(o.algorithm))
    return next((o for o in offers if o.scheme == "basic"), None)


def _unquote(value: str) -> str:
    if value.startswith('"'):
        return _QUOTED_PAIR.sub(r"\1", value[1:].removesuffix('"'))
    return value


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _h(hash_name: str, data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.new(hash_name, raw).hexdigest()


def basic_header(user: str, password: str) -> str:
    """Basic credentials (RFC 7617 §2): base64 of user:password in UTF-8."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def digest_header(
    offer: Offer,
    user: str,
    password: str,
    method: str,
    uri: str,
    nc: int = 1,
    cnonce: str | None = None,
    use_qop: bool = True,
    nonce: str | None = None,
) -> str:
    """Digest credentials answering ``offer`` (RFC 7616 §3.4), with qop=auth when offered
    and ``use_qop``, else in RFC 2069's form. ``nonce`` replaces the offered one (to send a
    nonce the server never issued)."""
    hash_name = DIGEST_HASHES[offer.algorithm]
    realm = offer.params.get("realm", "")
    nonce = offer.params["nonce"] if nonce is None else nonce
    cnonce = cnonce or secrets.token_hex(8)
    qop = "auth" if use_qop and "auth" in offer.qops else None
    ha1 = _h(hash_name, f"{user}:{realm}:{password}")
    if offer.algorithm.endswith("-sess"):
        ha1 = _h(hash_name, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _h(hash_name, f"{method}:{uri}")
    count = f"{nc:08x}"
    middle = f"{nonce}:{count}:{cnonce}:{qop}" if qop else nonce
    fields = [
        ("username", _quote(user)),
        ("realm", _quote(realm)),
        ("nonce", _quote(nonce)),
        ("uri", _quote(uri)),
        ("response", _quote(_h(hash_name, f"{ha1}:{middle}:{ha2}"))),
        ("algorithm", offer.params.get("algorithm", "MD5")),
    ]
    if qop:
        fields += [("qop", qop), ("nc", count), ("cnonce", _quote(cnonce))]
    if "opaque" in offer.params:
        fields.append(("opaque", _quote(offer.params["opaque"])))
    return "Digest " + ", ".join(f"{name}={value}" for name, value in fields)


@dataclass
class Answerer:
    """Answers one server's challenge for one user: the offer adopted, and the nonce count."""

    user: str
    password: str
    offer: Offer | None = None
    nc: int = 0

    def adopt(self, offers: list[Offer]) -> Offer | None:
        """Take the strongest answerable offer (a new nonce counts from 1 again)."""
        best = strongest(offers)
        if best is not None:
            if self.offer is None or best.params.get("nonce") != self.offer.params.get("nonce"):
                self.nc = 0
            self.offer = best
        return best

    def header(self, method: str, uri: str) -> str | None:
        """The Authorization for the next request, or None before any challenge."""
        if self.offer is None:
            return None
        if self.offer.scheme == "basic":
            return basic_header(self.user, self.password)
        self.nc += 1
        return digest_header(self.offer, self.user, self.password, method, uri, self.nc)


def request_line(data: bytes) -> tuple[str, str]:
    """The method and URI of a request's first line ('', '' when there is none)."""
    parts = data.split(b"\n", 1)[0].decode("latin-1").split()
    return (parts[0], parts[1]) if len(parts) >= 2 else ("", "")


def with_authorization(data: bytes, value: str) -> bytes:
    """``data`` with its Authorization lines replaced by one carrying ``value``, right after
    the request line and with the request's own line ending."""
    first_end = data.find(b"\n")
    if first_end < 0:
        return data
    ending = b"\r\n" if data[first_end - 1 : first_end] == b"\r" else b"\n"
    head, sep, body = data.partition(ending * 2)
    lines = head.split(ending)
    kept = [line for line in lines[1:] if not line.lower().startswith(b"authorization:")]
    field_line = f"{AUTH_HEADER}: {value}".encode("latin-1", "replace")
    return ending.join([lines[0], field_line, *kept]) + sep + body
