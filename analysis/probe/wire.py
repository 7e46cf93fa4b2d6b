"""RTSP requests as the probe sends them, and the replies it reads back (RFC 2326 §6, §7).

Well-formed requests are built with ``scapy.contrib.rtsp.RTSPRequest``; the deliberately
malformed ones (LF line ends, no CSeq, odd versions) are plain bytes, since Scapy's builder
always writes CRLF. ``ReplyReader`` frames replies out of a byte stream (headers up to the
blank line, then Content-Length bytes of body), skipping interleaved '$' frames.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from analysis.wire.rtsp import (
    INTERLEAVED_HEADER_LEN,
    INTERLEAVED_MAGIC,
    RTSP_VERSION,
    header_value,
)
from analysis.wire.sdp import parse_sdp

# RFC 2326 §3.2: the default RTSP port.
RTSP_DEFAULT_PORT = 554
MAX_REPLY_HEAD = 64 * 1024
MAX_REPLY_BODY = 1024 * 1024

_STATUS_LINE = re.compile(rb"^(RTSP/\d+\.\d+)[ \t]+(\d{3})(?:[ \t]+(.*))?$")


class ReplyError(ValueError):
    """The server's bytes are not an RTSP reply."""


@dataclass(frozen=True)
class Target:
    """Where to probe: host, port and path of an rtsp:// URL, and who to be when the server
    asks (``user``, ``password``: from ``rtsp://user:password@host/``, percent-decoded)."""

    host: str
    port: int
    path: str
    user: str | None = None
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, url: str) -> Target:
        """Read an rtsp:// URL; ValueError for any other scheme or no host."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "rtsp" or not parts.hostname:
            raise ValueError(f"not an rtsp://HOST[:PORT]/PATH URL: {url!r}")
        user = None if parts.username is None else unquote(parts.username)
        return cls(
            parts.hostname,
            parts.port or RTSP_DEFAULT_PORT,
            parts.path or "/",
            user,
            unquote(parts.password or ""),
        )

    @property
    def url(self) -> str:
        """The rtsp:// URL with an explicit port (and never the credentials)."""
        return f"rtsp://{self.host}:{self.port}{self.path}"

    def url_for(self, path: str) -> str:
        """The URL of another path on the same server."""
        return f"rtsp://{self.host}:{self.port}{path}"


@dataclass(frozen=True)
class Reply:
    """One RTSP response: status line, headers (in order, names as sent) and body."""

    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    line_ending: str = "\r\n"
    # True when the sender went quiet without the empty line that ends a message (§7).
    unterminated: bool = False

    def get(self, name: str) -> str | None:
        """First value of a header (case-insensitive), or None."""
        return header_value(self.headers, name)

    @property
    def cseq(self) -> str | None:
        """The CSeq as sent (stripped), or None."""
        value = self.get("CSeq")
        return value.strip() if value is not None else None

    @property
    def session_id(self) -> str | None:
        """The Session header's id without ;timeout (RFC 2326 §12.37), or None."""
        value = self.get("Session")
        return value.split(";")[0].strip() if value is not None else None

    @property
    def head(self) -> str:
        """The status line."""
        return f"{self.version} {self.status} {self.reason}".strip()


def build_request(
    method: str, uri: str, headers: list[tuple[str, str]] | None = None, body: bytes = b""
) -> bytes:
    """A well-formed request (CRLF line ends), built with Scapy's RTSPRequest."""
    extra = {name.encode(): value.encode() for name, value in (headers or [])}
    if body:
        extra[b"Content-Length"] = str(len(body)).encode()
    # Imported here: scapy.contrib.rtsp loads matplotlib (~0.1 s), and the probe's other
    # users (the workbench's commands, its --help) should not pay for it.
    from scapy.contrib.rtsp import RTSP, RTSPRequest

    request = RTSPRequest(
        Method=method.encode(),
        Request_Uri=uri.encode(),
        Version=RTSP_VERSION.encode(),
        Unknown_Headers=extra or None,
    )
    return bytes(RTSP() / request) + body


def raw_request(
    request_line: str,
    headers: list[tuple[str, str]],
    *,
    line_end: str = "\r\n",
    final_blank_line: bool = True,
) -> bytes:
    """A request written byte for byte, for the malformed forms Scapy will not build."""
    lines = [request_line] + [f"{name}: {value}" for name, value in headers]
    text = line_end.join(lines) + line_end
    if final_blank_line:
        text += line_end
    return text.encode("latin-1")


@dataclass
class ReplyReader:
    """Frames RTSP replies out of a TCP byte stream (sans-I/O: feed bytes, take replies)."""

    buffer: bytearray = field(default_factory=bytearray)
    skipped_interleaved: int = 0

    def feed(self, data: bytes) -> list[Reply]:
        """Add bytes; return every complete reply. ``ReplyError`` on bytes that are not RTSP."""
        self.buffer += data
        replies: list[Reply] = []
        while True:
            reply = self._next()
            if reply is None:
                return replies
            replies.append(reply)

    def _next(self) -> Reply | None:
        buf = self.buffer
        while buf[:1] in (b"\r", b"\n"):
            del buf[:1]
        if buf[:1] == bytes([INTERLEAVED_MAGIC]):
            if len(buf) < INTERLEAVED_HEADER_LEN:
                return None
            size = int.from_bytes(buf[2:4], "big")
            if len(buf) < INTERLEAVED_HEADER_LEN + size:
                return None
            del buf[: INTERLEAVED_HEADER_LEN + size]
            self.skipped_interleaved += 1
            return self._next()
        match = re.search(rb"\r?\n\r?\n", buf)
        if match is None:
            self._incomplete(buf)  # raises when the head has grown too long
            return None
        return self._reply_from(buf, match)

    def _incomplete(self, buf: bytearray) -> None:
        if len(buf) > MAX_REPLY_HEAD:
            raise ReplyError(f"reply head exceeds {MAX_REPLY_HEAD} bytes without a blank line")
        if buf and not bytes(buf[:5]).startswith(b"RTSP/"[: len(buf)]):
            raise ReplyError(f"not an RTSP reply: {bytes(buf[:40])!r}")
        return None

    def flush_unterminated(self) -> Reply | None:
        """The buffered head as a reply when the peer stopped sending before the empty line
        (the lab's server does); None when nothing that looks like a reply is buffered."""
        buf = self.buffer
        while buf[:1] in (b"\r", b"\n"):
            del buf[:1]
        if not bytes(buf[:5]) == b"RTSP/":
            return None
        reply = self._parse_head(bytes(buf).rstrip(b"\r\n"), b"", unterminated=True)
        buf.clear()
        return reply

    def _reply_from(self, buf: bytearray, match: re.Match) -> Reply | None:
        head = bytes(buf[: match.start()])
        length = _content_length(head)
        end = match.end() + length
        if len(buf) < end:
            return None
        body = bytes(buf[match.end() : end])
        del buf[:end]
        return self._parse_head(head, body, crlf=match.group(0).startswith(b"\r"))

    @staticmethod
    def _parse_head(
        head: bytes, body: bytes, *, crlf: bool = False, unterminated: bool = False
    ) -> Reply:
        line_ending = "\r\n" if b"\r\n" in head or crlf else "\n"
        lines = re.split(rb"\r?\n", head)
        status = _STATUS_LINE.match(lines[0])
        if status is None:
            raise ReplyError(f"bad status line: {lines[0][:80]!r}")
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise ReplyError(f"header line without a colon: {line[:80]!r}")
            headers.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
        return Reply(
            status.group(1).decode(),
            int(status.group(2)),
            (status.group(3) or b"").decode("latin-1").strip(),
            tuple(headers),
            body,
            line_ending,
            unterminated,
        )


def _content_length(head: bytes) -> int:
    match = re.search(rb"(?im)^content-length[ \t]*:[ \t]*(\S*)[ \t]*\r?$", head)
    if match is None:
        return 0
    value = match.group(1)
    if not value.isdigit() or int(value) > MAX_REPLY_BODY:
        raise ReplyError(f"bad Content-Length: {value.decode('latin-1')!r}")
    return int(value)


def sdp_setup_urls(reply: Reply, request_url: str) -> list[str]:
    """The URLs to SETUP for each media of a DESCRIBE reply (RFC 2326 C.1.1 control rules)."""
    base = reply.get("Content-Base") or reply.get("Content-Location") or request_url
    if not base.endswith("/"):
        base += "/"
    urls = []
    for media in parse_sdp(reply.body).media:
        control = (media.control or "").strip()
        if not control:
            continue
        if control == "*":
            urls.append(base.rstrip("/"))
        elif "://" in control:
            urls.append(control)
        else:
            urls.append(base + control)
    return urls or [request_url]
