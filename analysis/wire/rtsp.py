"""RTSP/1.0 messages and interleaved frames read from a reassembled TCP stream.

This is the checker's own reading of RFC 2326: it keeps each message's raw bytes,
the packet it started in, and every deviation it saw (LF-only line ends, bad start
lines, header lines without a colon, a body that disagrees with Content-Length), so
that rules can judge them instead of the reader silently fixing them.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from analysis.wire.ascii_numbers import is_decimal
from analysis.wire.tcp import TCPStream

RTSP_VERSION = "RTSP/1.0"
# RFC 2326 §10.12: an interleaved frame is '$', a channel byte, a 16-bit length, the packet.
INTERLEAVED_MAGIC = 0x24
INTERLEAVED_HEADER_LEN = 4
MAX_HEAD_BYTES = 65536

_REQUEST_LINE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (RTSP/\d+\.\d+)$")
_STATUS_LINE = re.compile(rb"^(RTSP/\d+\.\d+) (\d{3}) ?(.*)$")
# What may follow a complete message: another message, an interleaved frame, or nothing.
_MESSAGE_START = re.compile(rb"[\r\n]*(?:\$|RTSP/|[A-Z_]{3,20} )")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
# RFC 2326 §10 methods; a request glued to the end of an unterminated header line is found
# by these names, as any token could run on from the line before.
RTSP_METHODS = (
    b"DESCRIBE",
    b"ANNOUNCE",
    b"GET_PARAMETER",
    b"OPTIONS",
    b"PAUSE",
    b"PLAY",
    b"RECORD",
    b"REDIRECT",
    b"SETUP",
    b"SET_PARAMETER",
    b"TEARDOWN",
)
# Where another message's start line begins inside a head that no empty line ended: a
# status line anywhere (the lab's server sends "...Session: 123RTSP/1.0 200 OK"), a
# request line at a line start, or a known method's request line run on from a header.
_NEXT_START_LINE = re.compile(
    rb"RTSP/\d+\.\d+ \d{3}(?=[ \r\n]|$)"
    rb"|(?:(?<=\n)[!#$%&'*+.^_`|~0-9A-Za-z-]+|(?:" + b"|".join(RTSP_METHODS) + rb"))"
    rb" [^\s]+ RTSP/\d+\.\d+(?=\r?\n|$)"
)


class Kind(Enum):
    """What a message's start line says it is."""

    REQUEST = "request"
    RESPONSE = "response"
    INVALID = "invalid"


@dataclass
class RTSPMessage:
    """One RTSP request or response as it appeared on the wire."""

    kind: Kind
    start_line: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes
    offset: int
    pktno: int
    time: float
    method: str = ""
    uri: str = ""
    version: str = ""
    status: int = 0
    reason: str = ""
    lf_only_lines: int = 0  # lines ended by LF alone (RFC 2326 §4 wants CRLF)
    problems: list[str] = field(default_factory=list)  # syntax problems in words
    length_mismatch: str = ""  # why the body disagrees with Content-Length, if it does
    truncated: bool = False  # the capture ends inside this message
    # The capture lacks part of it (its end, or bytes a snap length or a drop took):
    # what is there is read, but it is not judged for syntax or lengths.
    incomplete: bool = False

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive), or None."""
        return header_value(self.headers, name)

    @property
    def cseq(self) -> int | None:
        """The CSeq as a number, or None when absent or not a number."""
        value = self.header("CSeq")
        if value is None or not is_decimal(value.strip()):
            return None
        return int(value.strip())

    @property
    def session_id(self) -> str | None:
        """The Session header's id, without the ;timeout parameter."""
        value = self.header("Session")
        return value.split(";")[0].strip() if value is not None else None


def header_value(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """First value of header ``name`` among (name, value) pairs; names are
    case-insensitive (RFC 2326 §4.2). None when absent."""
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return None


@dataclass
class InterleavedFrame:
    """A ``$``-framed binary packet (RTP or RTCP) on an RTSP connection."""

    channel: int
    payload: bytes
    offset: int
    pktno: int
    time: float
    wire_length: int = -1  # the length its header declares; more than len(payload) if cut

    def __post_init__(self) -> None:
        if self.wire_length < 0:
            self.wire_length = len(self.payload)


def read_stream(stream: TCPStream) -> list[RTSPMessage | InterleavedFrame]:
    """Every RTSP message and interleaved frame in one direction of a connection.

    Where the capture lacks bytes (``stream.gaps``: a snap length, dropped packets) the
    message or frame that spans the hole is kept as far as it goes and marked, and reading
    resumes at the next plausible message or frame; so does a stream whose start the
    capture missed."""
    data = stream.data
    n = len(data)
    holes = [offset for offset, _missing in stream.gaps]
    items: list[RTSPMessage | InterleavedFrame] = []
    pos = 0 if stream.syn_seen or _plausible_start(data, 0, holes) else _resync(data, 0, holes)
    while pos < n:
        first = data[pos]
        if first in (0x0D, 0x0A):  # blank lines between messages are tolerated
            pos += 1
            continue
        hole = _hole_after(holes, pos)
        if first == INTERLEAVED_MAGIC:
            if pos + INTERLEAVED_HEADER_LEN > min(n, hole):
                pos = _resync(data, hole, holes) if hole < n else n
                continue
            length = (data[pos + 2] << 8) | data[pos + 3]
            end = pos + INTERLEAVED_HEADER_LEN + length
            pktno, t = stream.packet_at(pos)
            if end > hole:  # its tail went with the hole: keep what is there
                items.append(
                    InterleavedFrame(
                        data[pos + 1], data[pos + INTERLEAVED_HEADER_LEN : hole], pos, pktno, t,
                        length,
                    )
                )  # fmt: skip
                pos = _resync(data, hole, holes)
                continue
            if end > n:
                break
            items.append(
                InterleavedFrame(
                    data[pos + 1], data[pos + INTERLEAVED_HEADER_LEN : end], pos, pktno, t
                )
            )
            pos = end
            continue
        window = min(n, pos + MAX_HEAD_BYTES, hole)
        match = _HEAD_END.search(data, pos, window)
        pktno, t = stream.packet_at(pos)
        if match is None and hole < n and (pos + MAX_HEAD_BYTES > hole):
            # The head runs into a hole: read the lines that are whole, resume after it.
            head = data[pos:hole]
            head = head[: head.rfind(b"\n") + 1] if b"\n" in head else head
            message = _parse_head(head.rstrip(b"\r\n"), pos, pktno, t)
            message.raw = data[pos:hole]
            message.incomplete = True
            items.append(message)
            pos = _resync(data, hole, holes)
            continue
        # Another start line before the empty line (or with none at all) ends this head:
        # the sender left out the empty line (the lab's peers do). Without an empty line,
        # a segment that begins a message or frame ends it too.
        boundary = _next_boundary_start(stream, pos) if match is None else n
        limit = match.start() if match is not None else boundary
        next_start = _NEXT_START_LINE.search(data, pos + 1, min(limit, window))
        if next_start is not None or match is None:
            stop = next_start.start() if next_start is not None else boundary
            message = _parse_head(data[pos:stop].rstrip(b"\r\n"), pos, pktno, t)
            message.raw = data[pos:stop]
            message.lf_only_lines = message.raw.count(b"\n") - message.raw.count(b"\r\n")
            if stop < n or stream.closed:
                # Something followed, or the sender closed the connection: the message
                # was complete without its empty line (RFC 2326 §6, §7).
                message.problems.append("header not ended by an empty line")
            else:
                message.truncated = message.incomplete = True
            items.append(message)
            pos = stop
            continue
        head_end = match.end()
        message = _parse_head(data[pos : match.start()], pos, pktno, t)
        terminated = data[pos:head_end]
        message.lf_only_lines = terminated.count(b"\n") - terminated.count(b"\r\n")
        length_text = message.header("Content-Length")
        body_len = 0
        if length_text is not None:
            if is_decimal(length_text.strip()):
                body_len = int(length_text.strip())
            else:
                message.problems.append(f"Content-Length {length_text!r} is not a number")
        end = head_end + body_len
        if end > hole:  # the body went with the hole
            message.body = data[head_end:hole]
            message.raw = data[pos:hole]
            message.incomplete = True
            items.append(message)
            pos = _resync(data, hole, holes)
            continue
        if end > n:
            message.truncated = message.incomplete = True
            end = n
        message.body = data[head_end:end]
        message.raw = data[pos:end]
        items.append(message)
        pos = end
        if pos < n and not _MESSAGE_START.match(data, pos):
            # The bytes after the body are not a message: the body was longer than
            # Content-Length said. Skip to the next plausible message start.
            resync = _next_message_start(data, pos)
            extra = resync - pos
            declared = "no Content-Length" if length_text is None else f"Content-Length {body_len}"
            message.length_mismatch = f"{declared} but {extra} more body bytes follow"
            message.body += data[pos:resync]
            message.raw += data[pos:resync]
            pos = resync
    return items


def _hole_after(holes: list[int], pos: int) -> int:
    """The first hole offset after ``pos`` (bytes before it are contiguous), or infinity."""
    i = bisect.bisect_right(holes, pos)
    return holes[i] if i < len(holes) else 1 << 62


_START_LINE_AT = rb"(?:RTSP/\d+\.\d+ \d{3}[ \r\n]|[A-Z_]{3,20} \S+ RTSP/\d+\.\d+\r?\n)"
_START_LINE = re.compile(_START_LINE_AT)  # a start line right here
_START_LINE_ANYWHERE = re.compile(rb"(?:^|(?<=\n))" + _START_LINE_AT)  # at a line start
RESYNC_CHAIN = 2  # interleaved frames in a row that make a '$' a frame start, not data


def _plausible_start(data: bytes, pos: int, holes: list[int]) -> bool:
    """True when a message or a chain of interleaved frames begins at ``pos``."""
    if pos >= len(data):
        return True
    if data[pos] == INTERLEAVED_MAGIC:
        return _frame_chain(data, pos, holes)
    return _START_LINE.match(data, pos) is not None


def _frame_chain(data: bytes, pos: int, holes: list[int]) -> bool:
    """True when RESYNC_CHAIN frames follow one another from ``pos`` (the chain may end at
    the end of the data, in a hole, or at a message)."""
    n = len(data)
    for _ in range(RESYNC_CHAIN):
        if pos + INTERLEAVED_HEADER_LEN > n or data[pos] != INTERLEAVED_MAGIC:
            return False
        end = pos + INTERLEAVED_HEADER_LEN + ((data[pos + 2] << 8) | data[pos + 3])
        if end >= n or _hole_after(holes, pos) <= end:
            return True  # nothing after it to contradict it
        pos = end
        if data[pos] != INTERLEAVED_MAGIC:
            return _START_LINE.match(data, pos) is not None
    return True


SNIFF_FRAMES = 4  # frames in a row, each holding an RTP/RTCP version 2 header
SNIFF_WINDOW = 65536
RTP_VERSION_BITS = 0x80  # RFC 3550 §5.1: version 2 in the top two bits of the first byte


def starts_midway_as_rtsp(data: bytes) -> bool:
    """For a TCP stream whose beginning the capture missed: an RTSP start line, or a run of
    interleaved frames that each hold a version-2 RTP/RTCP header, within its first bytes."""
    window = data[:SNIFF_WINDOW]
    if _START_LINE_ANYWHERE.search(window):
        return True
    dollar = window.find(b"$")
    while dollar != -1:
        pos, run = dollar, 0
        while run < SNIFF_FRAMES and pos + INTERLEAVED_HEADER_LEN < len(window):
            if window[pos] != INTERLEAVED_MAGIC or (
                window[pos + INTERLEAVED_HEADER_LEN] & 0xC0 != RTP_VERSION_BITS
            ):
                break
            pos += INTERLEAVED_HEADER_LEN + ((window[pos + 2] << 8) | window[pos + 3])
            run += 1
        if run >= SNIFF_FRAMES:
            return True
        dollar = window.find(b"$", dollar + 1)
    return False


def _resync(data: bytes, pos: int, holes: list[int]) -> int:
    """The first offset at or after ``pos`` where a message or a frame chain begins (at
    ``pos`` itself, a hole's end, whatever byte came before)."""
    n = len(data)
    if pos < n and _plausible_start(data, pos, holes):
        return pos
    line = _START_LINE_ANYWHERE.search(data, pos)
    line_at = line.start() if line else n
    dollar = data.find(b"$", pos, line_at)
    while dollar != -1:
        if _frame_chain(data, dollar, holes):
            return dollar
        dollar = data.find(b"$", dollar + 1, line_at)
    return line_at


def _next_boundary_start(stream: TCPStream, pos: int) -> int:
    """The first segment boundary after ``pos`` where a message or frame begins."""
    data = stream.data
    i = bisect.bisect_right(stream.starts, pos)
    for start in stream.starts[i:]:
        if _MESSAGE_START.match(data, start) and data[start : start + 1] not in (b"\r", b"\n"):
            return start
    return len(data)


def _next_message_start(data: bytes, pos: int) -> int:
    """The start of the first line after ``pos`` that begins a message or a frame."""
    newline = data.find(b"\n", pos)
    while newline >= 0:
        candidate = newline + 1
        if data[candidate : candidate + 1] not in (b"\r", b"\n") and _MESSAGE_START.match(
            data, candidate
        ):
            return candidate
        newline = data.find(b"\n", candidate)
    return len(data)


def _parse_head(head: bytes, offset: int, pktno: int, t: float) -> RTSPMessage:
    lines = head.split(b"\n")
    lf_only = sum(1 for line in lines[:-1] if not line.endswith(b"\r"))
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    start = lines[0] if lines else b""
    message = RTSPMessage(
        Kind.INVALID,
        start.decode("latin-1"),
        [],
        b"",
        b"",
        offset,
        pktno,
        t,
        lf_only_lines=lf_only,
    )
    if m := _REQUEST_LINE.match(start):
        message.kind = Kind.REQUEST
        message.method, message.uri, message.version = (g.decode("latin-1") for g in m.groups())
    elif m := _STATUS_LINE.match(start):
        message.kind = Kind.RESPONSE
        message.version = m.group(1).decode("latin-1")
        message.status = int(m.group(2))
        message.reason = m.group(3).decode("latin-1")
    else:
        message.problems.append(
            f"start line {message.start_line[:60]!r} is neither request nor status line"
        )
    if message.version and message.version != RTSP_VERSION:
        message.problems.append(f"version {message.version} is not {RTSP_VERSION}")
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and message.headers:  # folded continuation (RFC 2326 §4.2)
            name, value = message.headers[-1]
            message.headers[-1] = (name, value + " " + line.strip().decode("latin-1"))
            continue
        raw_name, colon, raw_value = line.partition(b":")
        if not colon or not raw_name.strip():
            message.problems.append(
                f"header line {line[:60].decode('latin-1')!r} has no name: value"
            )
            continue
        message.headers.append(
            (raw_name.strip().decode("latin-1"), raw_value.strip().decode("latin-1"))
        )
    return message
