"""The Request-URI of an RTSP request (RFC 2326 §6.1, §3.2), checked before anything uses it.

A Request-URI is ``*``, an absolute URL (``rtsp://host[:port]/path``, RFC 3986 syntax), or,
from the lab's client, a bare path (``movie.Mjpeg``). :func:`parse_request_uri` splits it
and refuses what no server can act on with a :class:`~rtsp_common.errors.ParseError` (400):
an authority that does not parse (``rtsp://[::1/x``, a port that is not a number or out of
range), an absolute URL without a host, a malformed percent escape, whitespace or control
characters. The server answers each with 400 and the request's CSeq; the client refuses to
send a URI built from a server's reply that does not pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from rtsp_common.errors import ParseError

ANY_RESOURCE = "*"  # RFC 2326 §6.1: "*" addresses the server itself (OPTIONS)
SCHEME_SEPARATOR = "://"
# RFC 3986 §2.1: "%" is followed by two hexadecimal digits, always.
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# RFC 3986 §2: whitespace and control characters never appear in a URI.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")


@dataclass(frozen=True)
class RequestURI:
    """A checked Request-URI: ``scheme`` and ``netloc`` are empty for ``*`` and bare paths.

    ``path`` is the path as written (``/a/b.mjpeg`` in a URL, ``movie.Mjpeg`` from the lab),
    still percent-encoded and without the query.
    """

    text: str
    scheme: str
    netloc: str
    host: str | None
    port: int | None
    path: str
    query: str

    @property
    def is_absolute(self) -> bool:
        """True for ``scheme://authority/...``; False for ``*`` and the lab's bare paths."""
        return bool(self.scheme)

    @property
    def decoded_path(self) -> str:
        """The path with its percent escapes decoded (RFC 3986 §2.1)."""
        return unquote(self.path)


def parse_request_uri(text: str) -> RequestURI:
    """Split and check a Request-URI; ParseError (status 400) says what is wrong with it."""
    if not text:
        raise ParseError("empty Request-URI")
    bad = _FORBIDDEN.search(text)
    if bad:
        raise ParseError(f"Request-URI holds whitespace or a control character ({bad[0]!r})")
    escape = _BAD_ESCAPE.search(text)
    if escape:
        where = text[escape.start() :][:3]
        raise ParseError(f"Request-URI has a malformed percent escape at {where!r}")
    if text == ANY_RESOURCE:
        return RequestURI(text, "", "", None, None, ANY_RESOURCE, "")
    if SCHEME_SEPARATOR not in text:
        # The lab's client names the file alone: a relative reference (RFC 3986 §4.2).
        path, _, query = text.partition("?")
        return RequestURI(text, "", "", None, None, path, query)
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port  # each may raise for a bad authority
    except ValueError as exc:
        raise ParseError(f"Request-URI {text!r} has a malformed host or port: {exc}") from None
    if not parts.scheme or not host:
        raise ParseError(f"Request-URI {text!r} names no host")
    return RequestURI(text, parts.scheme.lower(), parts.netloc, host, port, parts.path, parts.query)
