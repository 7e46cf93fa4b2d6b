"""RTSP/1.0 messages (RFC 2326): requests, responses, interleaved frames, and their parser.

:class:`MessageParser` is sans-I/O: feed it whatever bytes arrived from the socket and it
returns every complete :class:`Request`, :class:`Response` and :class:`InterleavedFrame`
in order. It accepts LF-only line ends (the lab's client sends them); serializers always
write CRLF.

This module is longer than 500 lines because the messages and their parser share one
grammar (RFC 2326 §4, §6, §7: tokens, versions, start lines, header lines) and the parser
builds the messages; split, each half would import the other's private rules.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from rtsp_common.errors import ParseError
from rtsp_common.headers import (
    CHANNEL_MAX,
    TOKEN_PATTERN,
    Headers,
    parse_content_length,
    parse_cseq,
)
from rtsp_common.status import Status, reason_phrase

logger = logging.getLogger(__name__)

RTSP_VERSION = "RTSP/1.0"
CRLF = "\r\n"
_LINE_BREAKS = b"\r\n"  # skipped between messages (RFC 2326 §4: CRLF, also lone LF)

# RFC 2326 §10.12: "$", one byte channel, two bytes big-endian length, then the payload.
INTERLEAVED_MAGIC = 0x24
INTERLEAVED_HEADER_SIZE = 4
INTERLEAVED_MAX_CHANNEL = CHANNEL_MAX
INTERLEAVED_MAX_PAYLOAD = 0xFFFF

# Limits a server holds clients to (status 413 Request Entity Too Large, RFC 2326 §7.1.1).
DEFAULT_MAX_HEADER_BYTES = 8192
DEFAULT_MAX_HEADERS = 64
DEFAULT_MAX_BODY = 65536

_TOKEN = re.compile(TOKEN_PATTERN)
# A version such as RTSP/1.0; other versions still parse so that a server can answer 505.
_VERSION = r"[A-Za-z]+/[0-9]{1,3}\.[0-9]{1,3}"
_VERSION_RE = re.compile(_VERSION)
# RFC 2326 §7.1.1: three digits, the first naming the class (1xx-5xx, extensions above).
_STATUS_LINE = re.compile(rf"({_VERSION})[ \t]+([1-9][0-9]{{2}})(?:[ \t]+(.*))?")
_REQUEST_LINE = re.compile(rf"({TOKEN_PATTERN})[ \t]+(\S+)[ \t]+({_VERSION})")
_HEAD_END = re.compile(rb"\n\r?\n")
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CSEQ_IN_HEAD = re.compile(r"^cseq[ \t]*:[ \t]*([0-9]{1,10})[ \t]*$", re.IGNORECASE | re.MULTILINE)


class _Message:
    """What requests and responses share: their headers, body and CSeq."""

    headers: Headers
    body: bytes

    def __post_init__(self) -> None:
        # Let callers pass a list of pairs where a Headers is expected, any buffer for the body.
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))
        if not isinstance(self.body, bytes):
            object.__setattr__(self, "body", bytes(self.body))

    @property
    def cseq(self) -> int | None:
        """The CSeq number, or None when absent or not a number."""
        value = self.headers.get("CSeq")
        if value is None:
            return None
        try:
            return parse_cseq(value)
        except ParseError:
            return None


def _serialize(start_line: str, headers: Headers, body: bytes) -> bytes:
    """Start line, header fields and body with CRLF line ends and a correct Content-Length."""
    fixed = headers.copy()
    if body or "Content-Length" in fixed:
        fixed.set("Content-Length", str(len(body)))
    lines = [start_line]
    for name, value in fixed.items():
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"header name {name!r} is not an RFC 2326 token")
        if _CONTROL_CHARS.search(value):
            raise ValueError(
                f"header {name} value {value!r} holds a line break or control character"
            )
        lines.append(f"{name}: {value}")
    return (CRLF.join(lines) + CRLF + CRLF).encode("utf-8") + body


@dataclass(frozen=True)
class Request(_Message):
    """An RTSP request (RFC 2326 §6). ``line_ending`` records what the parser saw."""

    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = RTSP_VERSION
    line_ending: str = CRLF

    def to_bytes(self) -> bytes:
        """The request on the wire: CRLF line ends, Content-Length set when there is a body."""
        if not _TOKEN.fullmatch(self.method) or self.method.startswith("$"):
            # a leading "$" would read as an interleaved frame (RFC 2326 §10.12)
            raise ValueError(f"method {self.method!r} is not an RFC 2326 token")
        if not self.uri or any(c.isspace() for c in self.uri) or _CONTROL_CHARS.search(self.uri):
            raise ValueError(f"request URI {self.uri!r} is empty or holds whitespace")
        if not _VERSION_RE.fullmatch(self.version):
            raise ValueError(f"version {self.version!r} is not of the form RTSP/1.0")
        return _serialize(f"{self.method} {self.uri} {self.version}", self.headers, self.body)


@dataclass(frozen=True)
class Response(_Message):
    """An RTSP response (RFC 2326 §7)."""

    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = RTSP_VERSION
    line_ending: str = CRLF

    @classmethod
    def make(
        cls,
        status: int,
        cseq: int | None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        reason: str | None = None,
    ) -> Response:
        """A response with the standard reason phrase and, when ``cseq`` is given, CSeq first."""
        fields = [("CSeq", str(cseq))] if cseq is not None else []
        fields.extend(headers)
        if reason is None:
            reason = reason_phrase(status)
        return cls(status, reason, Headers(fields), bytes(body))

    def to_bytes(self) -> bytes:
        """The response on the wire: CRLF line ends, Content-Length set when there is a body."""
        if not 100 <= self.status <= 999:
            raise ValueError(f"status {self.status} is not a three-digit code")
        if _CONTROL_CHARS.search(self.reason):
            raise ValueError(f"reason {self.reason!r} holds a line break or control character")
        if not _VERSION_RE.fullmatch(self.version):
            raise ValueError(f"version {self.version!r} is not of the form RTSP/1.0")
        start = f"{self.version} {self.status} {self.reason}".rstrip(" ")
        return _serialize(start, self.headers, self.body)


@dataclass(frozen=True)
class InterleavedFrame:
    """An RTP or RTCP packet carried on the RTSP connection (RFC 2326 §10.12)."""

    channel: int
    payload: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.channel <= INTERLEAVED_MAX_CHANNEL:
            raise ValueError(
                f"interleaved channel {self.channel} is not 0-{INTERLEAVED_MAX_CHANNEL}"
            )
        if not isinstance(self.payload, bytes):
            object.__setattr__(self, "payload", bytes(self.payload))
        if len(self.payload) > INTERLEAVED_MAX_PAYLOAD:
            raise ValueError(
                f"interleaved payload of {len(self.payload)} bytes exceeds {INTERLEAVED_MAX_PAYLOAD}"
            )

    def to_bytes(self) -> bytes:
        """``$``, channel, 16-bit big-endian length, payload."""
        n = len(self.payload)
        return bytes((INTERLEAVED_MAGIC, self.channel, n >> 8, n & 0xFF)) + self.payload


Message = Request | Response | InterleavedFrame


class MessageError(ParseError):
    """A ParseError from :meth:`MessageParser.feed` that also carries what parsed before it.

    ``parsed`` holds the complete items that came before the bad bytes in the same
    ``feed`` call (answer them first); ``cseq`` is the bad message's CSeq when a complete
    ``CSeq`` line could be found in its head (even one over the size limit), so that the
    error response can carry it.
    """

    def __init__(
        self, message: str, status: int = Status.BAD_REQUEST, cseq: int | None = None
    ) -> None:
        super().__init__(message, status)
        self.cseq = cseq
        self.parsed: list[Message] = []


@dataclass
class _PendingBody:
    """A parsed head waiting for ``length`` body bytes."""

    head: Request | Response
    length: int
    head_bytes: int


class ParserState(enum.Enum):
    """Where a :class:`MessageParser` stands between two ``feed`` calls."""

    IDLE = "idle"  # nothing held: the last item ended exactly at the last byte
    HEAD = "head"  # part of a start line and headers
    BODY = "body"  # a complete head, waiting for Content-Length bytes
    FRAME = "frame"  # part of a $-interleaved frame
    FAILED = "failed"  # a ParseError was raised; the stream is unusable


class MessageParser:
    """Incremental parser for an RTSP byte stream, requests and responses alike.

    After a :class:`ParseError` the stream cannot be resynchronised: the parser
    keeps raising, and the connection should be answered (``error.status``) and closed.
    """

    def __init__(
        self,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_headers: int = DEFAULT_MAX_HEADERS,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.max_body = max_body
        self._buf = bytearray()
        # bytes of the current partial head already searched for its end (no rescans)
        self._scanned = 0
        self._start_checked = False
        self._pending: _PendingBody | None = None
        self._error: MessageError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned in an item (a parsed head waiting for its body counts)."""
        held = len(self._buf)
        if self._pending is not None:
            held += self._pending.head_bytes
        return held

    @property
    def state(self) -> ParserState:
        """What the parser is waiting for (an I/O shell times out a peer stuck mid-message)."""
        if self._error is not None:
            return ParserState.FAILED
        if self._pending is not None:
            return ParserState.BODY
        first = self._first_held()
        if first is None:
            return ParserState.IDLE
        return ParserState.FRAME if first == INTERLEAVED_MAGIC else ParserState.HEAD

    def feed(self, data: bytes) -> list[Message]:
        """Add received bytes; return every item they complete, in order.

        Raises :class:`MessageError` (a ParseError) with status 400 for bad syntax
        or 413 for a size limit, naming the limit.
        """
        if self._error is not None:
            raise MessageError(f"stream already failed: {self._error}", self._error.status)
        self._buf += data
        out: list[Message] = []
        pos = 0
        try:
            while True:
                item, pos = self._next(pos)
                if item is None:
                    break
                out.append(item)
        except MessageError as exc:
            exc.parsed = out
            if exc.cseq is None:
                exc.cseq = self._cseq_at(pos)
            self._fail(exc)
            raise
        if pos:
            del self._buf[:pos]
        return out

    def flush(self) -> list[Message]:
        """Treat a head still waiting for its blank line as complete.

        The lab's client and server never write the blank line that ends a message;
        an I/O shell calls this when such a peer has gone quiet for a moment.
        """
        head = self.partial_head
        if not head:
            return []
        return self.feed(b"\n" if head.endswith(b"\n") else b"\n\n")

    @property
    def partial_head(self) -> bytes:
        """The incomplete start line and headers held (line breaks before them skipped), or b"".

        An I/O shell reads it to recognise a peer that never ends its heads (see :meth:`flush`).
        """
        if self._error is not None or self._pending is not None:
            return b""
        head = self._buf.lstrip(_LINE_BREAKS)
        if not head or head[0] == INTERLEAVED_MAGIC:
            return b""
        return bytes(head)

    def _first_held(self) -> int | None:
        """The first byte held that is not a line break between messages, or None."""
        stripped = self._buf.lstrip(_LINE_BREAKS)
        return stripped[0] if stripped else None

    def _cseq_at(self, pos: int) -> int | None:
        """The CSeq of the message starting at ``pos``, read from the complete lines held."""
        head = self._buf[pos : pos + self.max_header_bytes].lstrip(_LINE_BREAKS)
        match = _HEAD_END.search(head)
        end = match.start() if match else head.rfind(b"\n")
        return _find_cseq(_decode(bytes(head[: max(end, 0)])))

    def _fail(self, exc: MessageError) -> None:
        logger.debug("RTSP stream error: %s", exc)
        self._error = exc
        self._buf.clear()
        self._pending = None

    def _next(self, pos: int) -> tuple[Message | None, int]:
        """Parse one item starting at ``pos``; (None, pos) when more bytes are needed."""
        buf = self._buf
        end = len(buf)
        if self._pending is not None:
            pending = self._pending
            if end - pos < pending.length:
                return None, pos
            self._pending = None
            body = bytes(buf[pos : pos + pending.length])
            return _with_body(pending.head, body), pos + pending.length
        while pos < end and buf[pos] in _LINE_BREAKS:
            pos += 1
            self._scanned = 0
        if pos == end:
            return None, pos
        if buf[pos] == INTERLEAVED_MAGIC:
            return self._interleaved(pos)
        match = _HEAD_END.search(buf, pos + max(0, self._scanned - 2))
        if match is None:
            if end - pos >= self.max_header_bytes:
                raise MessageError(
                    f"request line and headers exceed the limit of {self.max_header_bytes} bytes "
                    "(max_header_bytes)",
                    Status.REQUEST_ENTITY_TOO_LARGE,
                )
            self._check_start_line(pos, end)
            self._scanned = end - pos
            return None, pos
        head_end = match.end()
        self._scanned = 0
        self._start_checked = False
        if head_end - pos > self.max_header_bytes:
            raise MessageError(
                f"request line and headers take {head_end - pos} bytes, over the limit of "
                f"{self.max_header_bytes} (max_header_bytes)",
                Status.REQUEST_ENTITY_TOO_LARGE,
            )
        head, length = self._parse_head(bytes(buf[pos : match.start()]))
        if length == 0:
            return head, head_end
        if end - head_end >= length:
            return _with_body(head, bytes(buf[head_end : head_end + length])), head_end + length
        self._pending = _PendingBody(head, length, head_end - pos)
        return None, head_end

    def _interleaved(self, pos: int) -> tuple[Message | None, int]:
        buf = self._buf
        if len(buf) - pos < INTERLEAVED_HEADER_SIZE:
            return None, pos
        length = (buf[pos + 2] << 8) | buf[pos + 3]
        start = pos + INTERLEAVED_HEADER_SIZE
        if len(buf) - start < length:
            return None, pos
        return InterleavedFrame(buf[pos + 1], bytes(buf[start : start + length])), start + length

    def _check_start_line(self, pos: int, end: int) -> None:
        """Reject garbage as soon as its first line is complete, not after 8 KiB of it."""
        if self._start_checked:
            return
        # only the bytes that arrived since the last call: earlier ones held no newline
        first_new = pos + self._scanned
        newline = self._buf.find(b"\n", first_new, end)
        if newline == -1:
            if _BINARY.search(self._buf, first_new, end):
                raise MessageError("binary data where an RTSP start line was expected")
            return
        self._start_checked = True
        _parse_start_line(_decode(bytes(self._buf[pos:newline])).rstrip("\r"))

    def _parse_head(self, raw: bytes) -> tuple[Request | Response, int]:
        text = _decode(raw)
        lines = text.split("\n")
        line_ending = CRLF if lines[0].endswith("\r") else "\n"
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        cseq = _find_cseq("\n".join(lines))
        try:
            start = _parse_start_line(lines[0])
            headers = _parse_header_lines(lines[1:], self.max_headers)
            length = _content_length(headers)
        except MessageError as exc:
            exc.cseq = cseq
            raise
        if length > self.max_body:
            raise MessageError(
                f"body of {length} bytes exceeds the limit of {self.max_body} (max_body)",
                Status.REQUEST_ENTITY_TOO_LARGE,
                cseq,
            )
        if isinstance(start, _StatusLine):
            return Response(
                start.status, start.reason, headers, b"", start.version, line_ending
            ), length
        return Request(start.method, start.uri, headers, b"", start.version, line_ending), length


def _find_cseq(head: str) -> int | None:
    """The CSeq in a head's header lines (not its start line), without parsing the rest."""
    match = _CSEQ_IN_HEAD.search(head.partition("\n")[2].replace("\r", ""))
    return int(match.group(1)) if match else None


def _with_body(head: Request | Response, body: bytes) -> Request | Response:
    return dataclasses.replace(head, body=body)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # tolerate legacy 8-bit header text


@dataclass(frozen=True)
class _RequestLine:
    method: str
    uri: str
    version: str


@dataclass(frozen=True)
class _StatusLine:
    status: int
    reason: str
    version: str


def _parse_start_line(line: str) -> _RequestLine | _StatusLine:
    """Read a request line (``METHOD uri RTSP/1.0``) or a status line (``RTSP/1.0 200 OK``)."""
    if _CONTROL_CHARS.search(line):
        raise MessageError(f"start line holds control characters: {line[:80]!r}")
    match = _STATUS_LINE.fullmatch(line.rstrip(" \t"))
    if match:
        return _StatusLine(int(match.group(2)), match.group(3) or "", match.group(1))
    match = _REQUEST_LINE.fullmatch(line.rstrip(" \t"))
    if match:
        return _RequestLine(match.group(1), match.group(2), match.group(3))
    raise MessageError(
        f"not an RTSP request or status line: {line[:80]!r} "
        "(expected 'METHOD uri RTSP/1.0' or 'RTSP/1.0 200 OK')"
    )


def _parse_header_lines(lines: list[str], max_headers: int) -> Headers:
    items: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not items:
                raise MessageError(f"continuation line before any header: {line[:80]!r}")
            name, value = items[-1]
            if _CONTROL_CHARS.search(line):
                raise MessageError(f"header {name} holds control characters")
            items[-1] = (name, f"{value} {line.strip()}".strip())  # RFC 2326 §4.2 folding
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not _TOKEN.fullmatch(name):
            raise MessageError(f"malformed header line {line[:80]!r}: expected 'Name: value'")
        if _CONTROL_CHARS.search(value):
            raise MessageError(f"header {name} holds control characters")
        items.append((name, value.strip(" \t")))
        if len(items) > max_headers:
            raise MessageError(
                f"more than {max_headers} header fields (max_headers)",
                Status.REQUEST_ENTITY_TOO_LARGE,
            )
    return Headers(items)


def _content_length(headers: Headers) -> int:
    values = {v.strip() for v in headers.get_all("Content-Length")}
    if not values:
        return 0  # RFC 2326 §12.14: no Content-Length means no body
    if len(values) > 1:
        raise MessageError(f"conflicting Content-Length values {sorted(values)}")
    try:
        return parse_content_length(values.pop())
    except ParseError as exc:
        raise MessageError(str(exc)) from None
