"""The WWW-Authenticate and Authorization header grammar (RFC 7235 §2.1, §4.1), no I/O.

RTSP borrows HTTP authentication (RFC 2326 §D.1). A challenge or a set of credentials is an
auth-scheme followed by either a token68 (Basic's base64) or a comma-separated list of
``name=value`` parameters, each value a token or a quoted-string. One WWW-Authenticate value
may hold several challenges, and those commas are the same commas that separate parameters:
a new challenge starts where a token is followed by something other than ``=``.

:class:`Challenge` and :class:`Credentials` keep parameter names in lower case (they are
case-insensitive, RFC 7235 §2.1) and values unquoted; ``str()`` writes them back, quoting what
RFC 7616 says to quote. Every parser raises only :class:`~rtsp_common.errors.ParseError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from rtsp_common.errors import ParseError
from rtsp_common.headers import TOKEN_PATTERN

# RFC 7235 §2.1: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_TOKEN = re.compile(TOKEN_PATTERN)
_OWS = re.compile(r"[ \t]*")  # RFC 7230 §3.2.3: optional whitespace
# RFC 7230 §3.2.6: qdtext and quoted-pair allow HTAB, SP, VCHAR and obs-text: no other CTL.
_QUOTABLE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")
# RFC 7616 §3.3, §3.4: values sent as quoted-strings whatever they hold. ``qop`` is quoted in a
# challenge (a list) and a bare token in credentials; ``stale``, ``algorithm`` and ``nc`` never.
CHALLENGE_QUOTED = frozenset({"realm", "domain", "nonce", "opaque", "qop", "charset"})
CREDENTIALS_QUOTED = frozenset(
    {"username", "realm", "uri", "nonce", "response", "cnonce", "opaque"}
)
MAX_PARAMS = 32  # parameters in one challenge: Digest defines 12, more is not a header we use


@dataclass(frozen=True)
class _Scheme:
    """An auth-scheme and either its token68 or its parameters (names in lower case)."""

    scheme: str
    params: tuple[tuple[str, str], ...] = ()
    token68: str | None = None

    QUOTED = frozenset[str]()

    def __post_init__(self) -> None:
        if not _TOKEN.fullmatch(self.scheme):
            raise ValueError(f"auth-scheme {self.scheme!r} is not a token")
        if self.token68 is not None and (self.params or not _TOKEN68.fullmatch(self.token68)):
            raise ValueError(f"token68 {self.token68!r} is not token68, or comes with parameters")
        for name, value in self.params:
            if not _TOKEN.fullmatch(name) or name != name.lower():
                raise ValueError(f"auth-param name {name!r} is not a lower-case token")
            if not _QUOTABLE.fullmatch(value):
                raise ValueError(f"auth-param {name} holds a control character")

    def is_scheme(self, name: str) -> bool:
        """True when this is auth-scheme ``name`` (schemes are case-insensitive)."""
        return self.scheme.lower() == name.lower()

    def get(self, name: str) -> str | None:
        """The value of parameter ``name`` (first of repeats), or None."""
        key = name.lower()
        return next((value for param, value in self.params if param == key), None)

    def __str__(self) -> str:
        if self.token68 is not None:
            return f"{self.scheme} {self.token68}"
        if not self.params:
            return self.scheme
        return f"{self.scheme} " + ", ".join(
            f"{name}={_format_value(value, name in self.QUOTED)}" for name, value in self.params
        )


class Challenge(_Scheme):
    """One challenge of a WWW-Authenticate header (RFC 7235 §4.1)."""

    QUOTED = CHALLENGE_QUOTED

    @classmethod
    def parse_all(cls, value: str) -> list[Challenge]:
        """Every challenge in one header value, in order; ParseError when there is none."""
        found = [cls(*parts) for parts in _Reader(value).items()]
        if not found:
            raise ParseError(f"WWW-Authenticate holds no challenge: {value!r}")
        return found


class Credentials(_Scheme):
    """The value of an Authorization header (RFC 7235 §4.2): exactly one scheme."""

    QUOTED = CREDENTIALS_QUOTED

    @classmethod
    def parse(cls, value: str) -> Credentials:
        """The credentials in ``value``; ParseError for none, several or a malformed one."""
        found = list(_Reader(value).items())
        if len(found) != 1:
            raise ParseError(
                f"Authorization needs one auth-scheme with its credentials, got {value!r}"
            )
        return cls(*found[0])


def _format_value(value: str, quoted: bool) -> str:
    if not quoted and _TOKEN.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Reader:
    """A cursor over one header value, reading schemes, token68s and auth-params."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def items(self) -> Iterator[tuple[str, tuple[tuple[str, str], ...], str | None]]:
        """(scheme, params, token68) for each scheme in the value."""
        self._skip_commas()
        while self.pos < len(self.text):
            scheme = self._token("an auth-scheme")
            token68 = None
            params: list[tuple[str, str]] = []
            after_scheme = self.pos
            self._ows()
            if self.pos < len(self.text) and self.text[self.pos] != ",":
                if self.pos == after_scheme:
                    self._fail("a space after the auth-scheme")
                if self._param_ahead():
                    params.append(self._param())
                else:
                    token68 = self._match(_TOKEN68, "token68 or auth-param")
                    self._ows()
            while token68 is None and self._comma_then_param():
                params.append(self._param())
                if len(params) > MAX_PARAMS:
                    self._fail(f"at most {MAX_PARAMS} parameters")
            if self.pos < len(self.text) and self.text[self.pos] != ",":
                self._fail("a comma between challenges")
            yield scheme, tuple(params), token68
            self._skip_commas()

    def _comma_then_param(self) -> bool:
        """Step over the commas before a parameter; stay put before a new scheme or the end."""
        start = self.pos
        self._skip_commas()
        if self.pos < len(self.text) and self._param_ahead():
            return True
        self.pos = start
        self._ows()
        return False

    def _param_ahead(self) -> bool:
        """True when ``name = value`` starts here (and not a token68 with '=' padding)."""
        match = _TOKEN.match(self.text, self.pos)
        if match is None:
            return False
        rest = self.text[match.end() :].lstrip(" \t")
        if not rest.startswith("="):
            return False
        value = rest[1:].lstrip(" \t")
        return value[:1] == '"' or _TOKEN.match(value) is not None

    def _param(self) -> tuple[str, str]:
        name = self._token("a parameter name").lower()
        self._ows()
        self.pos += 1  # the "=" _param_ahead saw
        self._ows()
        value = self._quoted() if self.text[self.pos] == '"' else self._token("a value")
        self._ows()
        return name, value

    def _quoted(self) -> str:
        out: list[str] = []
        self.pos += 1  # the opening quote
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch == '"':
                return "".join(out)
            if ch == "\\":
                if self.pos == len(self.text):
                    break
                ch = self.text[self.pos]
                self.pos += 1
            if not _QUOTABLE.fullmatch(ch):
                self._fail("no control character inside a quoted-string", self.pos - 1)
            out.append(ch)
        self._fail("a closing double quote")

    def _token(self, what: str) -> str:
        return self._match(_TOKEN, what)

    def _match(self, pattern: re.Pattern[str], what: str) -> str:
        match = pattern.match(self.text, self.pos)
        if match is None:
            self._fail(what)
        self.pos = match.end()
        return match.group()

    def _ows(self) -> None:
        self.pos = _OWS.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def _skip_commas(self) -> None:
        while True:
            self._ows()
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
            else:
                return

    def _fail(self, expected: str, at: int | None = None) -> NoReturn:
        where = self.pos if at is None else at
        raise ParseError(
            f"authentication header: expected {expected} at offset {where} of {self.text!r}"
        )
