"""RTSP header fields (RFC 2326 §4.2, §12): the fields of a message and the values we read.

:class:`Headers` is the ordered, case-insensitive multimap every message carries. The typed
values (CSeq, Session, Transport, Range, RTP-Info, Public) each parse the header text
tolerantly (the lab's client writes ``Transport: RTP/UDP; client_port= 25000``) and format it
canonically. Every parser raises only :class:`~rtsp_common.errors.ParseError`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rtsp_common.errors import ParseError
from rtsp_common.rtp import SEQ_MOD, TS_MOD
from rtsp_common.status import Status

logger = logging.getLogger(__name__)

# RFC 2326 §12.17: CSeq is 1*DIGIT; ten digits keep it a sane size.
MAX_CSEQ_DIGITS = 10
# RFC 2326 §12.14: Content-Length is 1*DIGIT; 18 digits keep it within a 64-bit integer.
MAX_CONTENT_LENGTH_DIGITS = 18
# RFC 2326 §12.37: the default session timeout is 60 seconds.
DEFAULT_SESSION_TIMEOUT = 60
# RFC 2326 §12.39: ssrc is 8 hexadecimal digits (a 32-bit value).
SSRC_HEX_DIGITS = 8
MAX_PORT = 65535  # TCP and UDP ports are 16 bits (RFC 793, RFC 768)
# RFC 2326 §10.12: an interleaved channel identifier is one byte.
CHANNEL_MAX = 255
# RTP-Info (RFC 2326 §12.33) carries RTP's 16-bit sequence numbers and 32-bit timestamps.
SEQ_MAX = SEQ_MOD - 1
RTPTIME_MAX = TS_MOD - 1

# RFC 2326 §15.1: a token (method and header names, parameters) is 1*<CHAR but CTLs or tspecials>.
TOKEN_PATTERN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"

_DIGITS = re.compile(r"[0-9]+")
_TOKEN = re.compile(TOKEN_PATTERN)
_PROTOCOL = re.compile(r"[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+){1,2}")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_SESSION_ID = re.compile(r'[^\s;,="]+')
_SMALL_INT = re.compile(r"[0-9]{1,6}")
_NPT_WHOLE = re.compile(r"[0-9]{1,12}")
_NPT_SECONDS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{0,9})?")


class Headers:
    """An ordered, case-insensitive multimap of header fields that keeps the original names."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = [(str(k), str(v)) for k, v in items]

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        key = name.lower()
        for k, v in self._items:
            if k.lower() == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        key = name.lower()
        return [v for k, v in self._items if k.lower() == key]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def add(self, name: str, value: str) -> None:
        """Append a field, keeping any earlier ones of the same name."""
        self._items.append((name, value))

    def set(self, name: str, value: str) -> None:
        """Replace all values of ``name`` by one, at the position of the first (or at the end)."""
        key = name.lower()
        for i, (k, _) in enumerate(self._items):
            if k.lower() == key:
                self._items[i] = (name, value)
                self._items[i + 1 :] = [kv for kv in self._items[i + 1 :] if kv[0].lower() != key]
                return
        self._items.append((name, value))

    def remove(self, name: str) -> None:
        """Remove every field called ``name`` (nothing happens when there is none)."""
        key = name.lower()
        self._items = [kv for kv in self._items if kv[0].lower() != key]

    def items(self) -> list[tuple[str, str]]:
        """The fields as (name, value) pairs in order."""
        return list(self._items)

    def copy(self) -> Headers:
        """An independent copy (messages are frozen, their Headers are not)."""
        return Headers(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter([k for k, _ in self._items])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(k.lower(), v) for k, v in self._items] == [(k.lower(), v) for k, v in other._items]

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


def parse_cseq(value: str) -> int:
    """Return the CSeq number of a header value such as ``"3"``; ParseError on anything else."""
    text = value.strip()
    if not _DIGITS.fullmatch(text) or len(text) > MAX_CSEQ_DIGITS:
        raise ParseError(
            f"CSeq must be a decimal number of at most {MAX_CSEQ_DIGITS} digits, got {value!r}"
        )
    return int(text)


def parse_content_length(value: str) -> int:
    """Return a Content-Length value (RFC 2326 §12.14) as a non-negative int."""
    text = value.strip()
    if not _DIGITS.fullmatch(text) or len(text) > MAX_CONTENT_LENGTH_DIGITS:
        raise ParseError(f"Content-Length must be a non-negative decimal number, got {value!r}")
    return int(text)


def _split_params(value: str, sep: str = ";") -> list[str]:
    """Split on ``sep`` outside double quotes, stripping blanks and dropping empty parts."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quoted:
        raise ParseError(f"unbalanced double quote in {value!r}")
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _key_value(param: str) -> tuple[str, str | None]:
    """``"client_port= 25000"`` -> ``("client_port", "25000")``; ``"unicast"`` -> ``("unicast", None)``."""
    if "=" not in param:
        return param.strip(), None
    key, _, val = param.partition("=")
    return key.strip(), val.strip()


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@dataclass(frozen=True)
class Session:
    """The Session header (RFC 2326 §12.37): an identifier and an optional timeout in seconds."""

    id: str
    timeout: int | None = None

    @classmethod
    def parse(cls, value: str) -> Session:
        """Parse ``"12345678;timeout=60"`` or ``"12345678"``; unknown parameters are ignored."""
        session_id, _, rest = value.partition(";")
        session_id = session_id.strip()
        if not _SESSION_ID.fullmatch(session_id):
            raise ParseError(f"Session header needs an identifier without spaces, got {value!r}")
        timeout = None
        for param in _split_params(rest):
            key, val = _key_value(param)
            if key.lower() != "timeout":
                logger.debug("ignoring Session parameter %r", param)
                continue
            if val is None or not _DIGITS.fullmatch(val) or len(val) > MAX_CSEQ_DIGITS:
                raise ParseError(f"Session timeout must be a number of seconds, got {param!r}")
            timeout = int(val)
        return cls(session_id, timeout)

    def __str__(self) -> str:
        if self.timeout is None:
            return self.id
        return f"{self.id};timeout={self.timeout}"


def _parse_pair(key: str, val: str | None, maximum: int) -> tuple[int, int]:
    """Parse ``a-b`` or ``a`` (then ``(a, a+1)``: RTP on even, RTCP on the next, RFC 3550 §11)."""
    if val is None:
        raise ParseError(f"Transport parameter {key} needs a value, such as {key}=5000-5001")
    first, dash, second = val.partition("-")
    first, second = first.strip(), second.strip()
    if not _SMALL_INT.fullmatch(first) or (dash and not _SMALL_INT.fullmatch(second)):
        raise ParseError(f"Transport parameter {key} must be N or N-M, got {val!r}")
    low = int(first)
    high = int(second) if dash else low + 1
    if low > maximum or high > maximum:
        raise ParseError(f"Transport parameter {key}={val} is out of range (0-{maximum})")
    return low, high


@dataclass(frozen=True)
class Transport:
    """One transport specification of the Transport header (RFC 2326 §12.39).

    A spec without ``unicast`` or ``multicast`` counts as unicast: the lab's client
    omits it and every real client means unicast.
    """

    protocol: str = "RTP/AVP"
    unicast: bool = True
    client_port: tuple[int, int] | None = None
    server_port: tuple[int, int] | None = None
    interleaved: tuple[int, int] | None = None
    ssrc: int | None = None
    destination: str | None = None
    source: str | None = None
    mode: str | None = None
    params: tuple[tuple[str, str | None], ...] = ()

    @property
    def is_tcp(self) -> bool:
        """True when the lower transport is TCP (interleaved on the RTSP connection)."""
        return self.protocol.upper().endswith("/TCP")

    @property
    def is_lab_form(self) -> bool:
        """True for the lab client's non-standard ``RTP/UDP`` protocol name."""
        return self.protocol.upper() == "RTP/UDP"

    @classmethod
    def parse(cls, value: str) -> Transport:
        """Parse one transport spec, tolerant of blanks around ``;`` and ``=``."""
        parts = _split_params(value)
        if not parts:
            raise ParseError(
                "empty Transport header: expected e.g. RTP/AVP;unicast;client_port=5000-5001"
            )
        protocol = parts[0].replace(" ", "")
        if not _PROTOCOL.fullmatch(protocol):
            raise ParseError(
                f"Transport must start with a protocol such as RTP/AVP, got {parts[0]!r}"
            )
        fields: dict[str, object] = {}
        unknown: list[tuple[str, str | None]] = []
        for param in parts[1:]:
            key, val = _key_value(param)
            name = key.lower()
            if name == "unicast" and val is None:
                fields["unicast"] = True
            elif name == "multicast" and val is None:
                fields["unicast"] = False
            elif name in ("client_port", "server_port"):
                fields[name] = _parse_pair(key, val, MAX_PORT)
            elif name == "interleaved":
                fields[name] = _parse_pair(key, val, CHANNEL_MAX)
            elif name == "ssrc":
                if val is None or not _HEX.fullmatch(val) or len(val) > SSRC_HEX_DIGITS:
                    raise ParseError(f"Transport ssrc must be up to 8 hex digits, got {param!r}")
                fields["ssrc"] = int(val, 16)
            elif name == "destination":
                fields["destination"] = "" if val is None else _unquote(val)
            elif name == "source" and val is not None:
                fields["source"] = _unquote(val)
            elif name == "mode" and val is not None:
                fields["mode"] = _unquote(val)
            else:
                if not _TOKEN.fullmatch(key):
                    raise ParseError(f"malformed Transport parameter {param!r}")
                unknown.append((key, val))
        return cls(protocol=protocol, params=tuple(unknown), **fields)  # type: ignore[arg-type]

    def __str__(self) -> str:
        parts = [self.protocol, "unicast" if self.unicast else "multicast"]
        if self.destination is not None:
            parts.append(f"destination={self.destination}" if self.destination else "destination")
        if self.source is not None:
            parts.append(f"source={self.source}")
        for name in ("interleaved", "client_port", "server_port"):
            pair = getattr(self, name)
            if pair is not None:
                parts.append(f"{name}={pair[0]}-{pair[1]}")
        if self.ssrc is not None:
            parts.append(f"ssrc={self.ssrc:08X}")
        if self.mode is not None:
            parts.append(f'mode="{self.mode}"')
        for key, val in self.params:
            parts.append(key if val is None else f"{key}={val}")
        return ";".join(parts)


def parse_transports(value: str) -> list[Transport]:
    """Parse a Transport header's comma-separated alternatives, in the client's preference order."""
    specs = _split_params(value, ",")
    if not specs:
        raise ParseError(
            "empty Transport header: expected e.g. RTP/AVP;unicast;client_port=5000-5001"
        )
    return [Transport.parse(spec) for spec in specs]


def _parse_npt_time(text: str) -> float:
    """RFC 2326 §3.6 npt-time: seconds (``10.5``) or ``h:mm:ss[.frac]``."""
    pieces = text.split(":")
    whole = all(_NPT_WHOLE.fullmatch(p) for p in pieces[:-1])
    if len(pieces) not in (1, 3) or not whole or not _NPT_SECONDS.fullmatch(pieces[-1]):
        raise ParseError(
            f"malformed npt time {text!r}: expected seconds or h:mm:ss", Status.INVALID_RANGE
        )
    numbers = [int(p) for p in pieces[:-1]] + [float(pieces[-1])]
    seconds = 0.0
    for n in numbers:
        seconds = seconds * 60 + n
    if not math.isfinite(seconds):
        raise ParseError(f"npt time {text!r} is out of range", Status.INVALID_RANGE)
    return seconds


@dataclass(frozen=True)
class NPTRange:
    """A Range header in normal play time (RFC 2326 §3.6, §12.29); ``start=None`` means "now"."""

    start: float | None = 0.0
    end: float | None = None

    @classmethod
    def parse(cls, value: str) -> NPTRange:
        """Parse ``npt=10.5-``, ``npt=0-20``, ``npt=now-`` or ``npt=-20``; a ``;time=`` suffix is ignored."""
        spec = value.split(";", 1)[0].strip()
        unit, eq, rest = spec.partition("=")
        if not eq or unit.strip().lower() != "npt":
            raise ParseError(
                f"only npt ranges are supported (e.g. npt=0-), got {value!r}", Status.INVALID_RANGE
            )
        first, dash, second = rest.strip().partition("-")
        first, second = first.strip(), second.strip()
        if not dash or (not first and not second):
            raise ParseError(
                f"npt range needs a '-', as in npt=10-, got {value!r}", Status.INVALID_RANGE
            )
        if first.lower() == "now":
            start: float | None = None
        else:
            start = _parse_npt_time(first) if first else 0.0
        end = _parse_npt_time(second) if second else None
        if start is not None and end is not None and end < start:
            raise ParseError(f"npt range ends before it starts: {value!r}", Status.INVALID_RANGE)
        return cls(start, end)

    def __str__(self) -> str:
        start = "now" if self.start is None else f"{self.start:.3f}"
        end = "" if self.end is None else f"{self.end:.3f}"
        return f"npt={start}-{end}"


@dataclass(frozen=True)
class RTPInfo:
    """One stream of the RTP-Info header (RFC 2326 §12.33)."""

    url: str
    seq: int | None = None
    rtptime: int | None = None


def _bounded_int(name: str, val: str | None, maximum: int) -> int:
    if val is None or not _DIGITS.fullmatch(val) or len(val) > 12 or int(val) > maximum:
        raise ParseError(f"RTP-Info {name} must be a number 0-{maximum}, got {val!r}")
    return int(val)


def parse_rtp_info(value: str) -> list[RTPInfo]:
    """Parse ``url=...;seq=...;rtptime=...`` entries separated by commas."""
    entries = [e.strip() for e in re.split(r",\s*(?=url\s*=)", value.strip(), flags=re.IGNORECASE)]
    result = []
    for entry in entries:
        params = [p.strip() for p in entry.split(";") if p.strip()]
        if not params:
            raise ParseError(f"empty RTP-Info entry in {value!r}")
        key, url = _key_value(params[0])
        if key.lower() != "url" or not url:
            raise ParseError(f"RTP-Info entry must start with url=, got {entry!r}")
        seq = rtptime = None
        for param in params[1:]:
            key, val = _key_value(param)
            if key.lower() == "seq":
                seq = _bounded_int("seq", val, SEQ_MAX)
            elif key.lower() == "rtptime":
                rtptime = _bounded_int("rtptime", val, RTPTIME_MAX)
            else:
                logger.debug("ignoring RTP-Info parameter %r", param)
        result.append(RTPInfo(url, seq, rtptime))
    return result


def format_rtp_info(entries: Iterable[RTPInfo]) -> str:
    """Format RTP-Info entries as ``url=U;seq=S;rtptime=T,url=...``."""
    texts = []
    for entry in entries:
        text = f"url={entry.url}"
        if entry.seq is not None:
            text += f";seq={entry.seq}"
        if entry.rtptime is not None:
            text += f";rtptime={entry.rtptime}"
        texts.append(text)
    return ",".join(texts)


def parse_public(value: str) -> list[str]:
    """Parse the Public header (RFC 2326 §12.28): a comma-separated list of method names."""
    methods = [m.strip() for m in value.split(",") if m.strip()]
    for method in methods:
        if not _TOKEN.fullmatch(method):
            raise ParseError(f"Public lists method names separated by commas, got {method!r}")
    return methods


def format_public(methods: Iterable[str]) -> str:
    """Format method names for the Public header."""
    return ", ".join(methods)
