"""Session descriptions (RFC 4566) for one video track, as DESCRIBE returns them.

:meth:`SessionDescription.to_text` writes what the server announces; :meth:`SessionDescription.parse`
reads that and also what real servers (GStreamer's rtsp-server, ffmpeg, live555) write:
unknown lines and attributes are ignored, and the first video media section is taken.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from rtsp_common.errors import ParseError
from rtsp_common.headers import NPTRange
from rtsp_common.rtp import MAX_PAYLOAD_TYPE

logger = logging.getLogger(__name__)

SDP_VERSION = "0"  # RFC 4566 §5.1
# RFC 3551 §6: static payload type 26 is JPEG (RFC 2435) with a 90 kHz clock.
JPEG_PAYLOAD_TYPE = 26
JPEG_ENCODING = "JPEG"
VIDEO_CLOCK_RATE = 90000
# RFC 3551 §6 static video payload types, for media lines without a=rtpmap.
STATIC_VIDEO_TYPES: dict[int, tuple[str, int]] = {
    JPEG_PAYLOAD_TYPE: (JPEG_ENCODING, VIDEO_CLOCK_RATE),
    31: ("H261", VIDEO_CLOCK_RATE),
    32: ("MPV", VIDEO_CLOCK_RATE),
    33: ("MP2T", VIDEO_CLOCK_RATE),
    34: ("H263", VIDEO_CLOCK_RATE),
}

_SESSION_ID = re.compile(r"[0-9]{1,20}")
_LINE = re.compile(r"([a-z])=(.*)")
_NUMBER = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
_DIMENSIONS = re.compile(r"([0-9]{1,5})\s*,\s*([0-9]{1,5})")
_FRAMESIZE = re.compile(r"[0-9]{1,3}\s+([0-9]{1,5})-([0-9]{1,5})")
_RTPMAP = re.compile(r"([0-9]{1,3})\s+([^/\s]+)/([0-9]{1,9})(?:/.*)?")
_FMTP = re.compile(r"([0-9]{1,3})\s+(.*)")
MAX_FMTP_PARAMETERS = 64  # a bound on what one a=fmtp line may name


def _format_number(value: float) -> str:
    """Decimal text without exponent or needless trailing zeros: 30 -> "30", 29.97 -> "29.97"."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.9f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class SessionDescription:
    """An SDP description of one MJPEG video track (RFC 4566, RFC 2435, RFC 2326 Appendix C).

    ``control``/``track_control`` are the a=control values (relative or absolute URLs);
    an empty string means the description had none. ``duration`` comes from
    ``a=range:npt=0-D`` (None for live), ``width``/``height`` from ``a=x-dimensions:W,H``.
    ``fmtp`` holds the ``a=fmtp`` parameters of the track's payload type (RFC 4566 §6), names
    in lower case, as (name, value) pairs in their order.
    """

    session_name: str = "rtsp-workbench"
    origin_address: str = "127.0.0.1"
    session_id: int = 0
    connection_address: str = "0.0.0.0"
    control: str = "*"
    track_control: str = "track1"
    payload_type: int = JPEG_PAYLOAD_TYPE
    encoding: str = JPEG_ENCODING
    clock_rate: int = VIDEO_CLOCK_RATE
    framerate: float | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fmtp: tuple[tuple[str, str], ...] = ()

    @property
    def format_parameters(self) -> dict[str, str]:
        """The a=fmtp parameters by lower-case name."""
        return dict(self.fmtp)

    def to_text(self) -> str:
        """The description as SDP text with CRLF line ends (RFC 4566 §5)."""
        origin_family = "IP6" if ":" in self.origin_address else "IP4"
        conn_family = "IP6" if ":" in self.connection_address else "IP4"
        lines = [
            f"v={SDP_VERSION}",
            f"o=- {self.session_id} {self.session_id} IN {origin_family} {self.origin_address}",
            f"s={self.session_name or ' '}",  # RFC 4566 §5.3: s= must not be empty
            f"c=IN {conn_family} {self.connection_address}",
            "t=0 0",
        ]
        if self.control:
            lines.append(f"a=control:{self.control}")
        if self.duration is not None:
            lines.append(f"a=range:npt=0-{_format_number(self.duration)}")
        lines.append(f"m=video 0 RTP/AVP {self.payload_type}")
        lines.append(f"a=rtpmap:{self.payload_type} {self.encoding}/{self.clock_rate}")
        if self.fmtp:
            params = ";".join(f"{name}={value}" for name, value in self.fmtp)
            lines.append(f"a=fmtp:{self.payload_type} {params}")
        if self.track_control:
            lines.append(f"a=control:{self.track_control}")
        if self.framerate is not None:
            lines.append(f"a=framerate:{_format_number(self.framerate)}")
        if self.width is not None and self.height is not None:
            lines.append(f"a=x-dimensions:{self.width},{self.height}")
        for line in lines:
            if "\r" in line or "\n" in line:
                raise ValueError(f"SDP field holds a line break: {line!r}")
        return "\r\n".join(lines) + "\r\n"

    @classmethod
    def parse(cls, text: str) -> SessionDescription:
        """Read a session description; ParseError when it is not SDP or has no video track."""
        lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
        lines = [line for line in lines if line]
        for line in lines:
            if "\0" in line or "\r" in line:
                raise ParseError(
                    f"malformed SDP line {line[:80]!r}: a NUL or CR inside a line (RFC 4566 §5)"
                )
        if not lines or not lines[0].startswith("v="):
            raise ParseError("not an SDP description: the first line must be v=0 (RFC 4566 §5.1)")
        if lines[0] != f"v={SDP_VERSION}":
            raise ParseError(f"unsupported SDP version {lines[0]!r}: only v=0 exists")
        fields: dict[str, object] = {"control": "", "track_control": ""}
        connections: dict[str, str] = {}
        section = "session"  # then "video" for the first video media section, else "other"
        rtpmaps: dict[int, tuple[str, int]] = {}
        fmtps: dict[int, tuple[tuple[str, str], ...]] = {}
        for line in lines[1:]:
            match = _LINE.fullmatch(line)
            if match is None:
                raise ParseError(f"malformed SDP line {line[:80]!r}: expected <type>=<value>")
            kind, value = match.groups()
            if kind == "m":
                media = value.split()
                if "payload_type" not in fields and len(media) >= 4 and media[0] == "video":
                    section = "video"
                    fields["payload_type"] = _payload_type(media[3])
                else:
                    section = "other"
            elif section == "other":
                continue
            elif kind == "o" and section == "session":
                parts = value.split()
                if len(parts) >= 6:
                    # RFC 4566 §5.2 suggests an NTP timestamp; tolerate anything else as 0
                    fields["session_id"] = int(parts[1]) if _SESSION_ID.fullmatch(parts[1]) else 0
                    fields["origin_address"] = parts[5]
            elif kind == "s" and section == "session":
                fields["session_name"] = value.strip()
            elif kind == "c":
                parts = value.split()
                if len(parts) >= 3:
                    connections.setdefault(section, parts[2].split("/")[0])  # drop multicast /ttl
            elif kind == "a":
                _attribute(value, section, fields, rtpmaps, fmtps)
        if "payload_type" not in fields:
            raise ParseError("SDP has no video media section (m=video ...)")
        pt = fields["payload_type"]
        assert isinstance(pt, int)
        if pt in rtpmaps:
            fields["encoding"], fields["clock_rate"] = rtpmaps[pt]
        elif pt in STATIC_VIDEO_TYPES:
            fields["encoding"], fields["clock_rate"] = STATIC_VIDEO_TYPES[pt]
        else:
            raise ParseError(f"SDP video payload type {pt} has no a=rtpmap line")
        if pt in fmtps:
            fields["fmtp"] = fmtps[pt]
        connection = connections.get("session") or connections.get("video")
        if connection:
            fields["connection_address"] = connection
        return cls(**fields)  # type: ignore[arg-type]


def _payload_type(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,3}", text) or int(text) > MAX_PAYLOAD_TYPE:
        raise ParseError(f"SDP media format must be an RTP payload type 0-127, got {text!r}")
    return int(text)


def _attribute(
    value: str,
    section: str,
    fields: dict[str, object],
    rtpmaps: dict[int, tuple[str, int]],
    fmtps: dict[int, tuple[tuple[str, str], ...]],
) -> None:
    """Record one a= line of the session section or of the chosen video section."""
    name, _, arg = value.partition(":")
    name, arg = name.strip().lower(), arg.strip()
    if name == "control":
        fields["control" if section == "session" else "track_control"] = arg
    elif name == "range":
        if "duration" in fields:
            return
        try:
            npt = NPTRange.parse(arg)
        except ParseError:
            logger.debug("ignoring SDP range %r", arg)
            return
        fields["duration"] = npt.end if npt.start == 0.0 else None
    elif section != "video":
        return
    elif name == "rtpmap":
        match = _RTPMAP.fullmatch(arg)
        if match is None:
            logger.debug("ignoring malformed a=rtpmap:%s", arg)
            return
        rtpmaps[int(match.group(1))] = (match.group(2), int(match.group(3)))
    elif name == "fmtp":
        match = _FMTP.fullmatch(arg)
        if match is None:
            logger.debug("ignoring malformed a=fmtp:%s", arg)
            return
        fmtps[int(match.group(1))] = _format_parameters(match.group(2))
    elif name == "framerate":
        if not _NUMBER.fullmatch(arg) or float(arg) <= 0:
            logger.debug("ignoring malformed a=framerate:%s", arg)
            return
        fields["framerate"] = float(arg)
    elif name == "x-dimensions":
        _dimensions(fields, _DIMENSIONS.fullmatch(arg), arg)
    elif name == "framesize" and "width" not in fields:
        # a=framesize:<pt> <W>-<H>, written by some servers instead of x-dimensions
        _dimensions(fields, _FRAMESIZE.fullmatch(arg), arg)


def _dimensions(fields: dict[str, object], match: re.Match[str] | None, arg: str) -> None:
    if match is None or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        logger.debug("ignoring malformed frame dimensions %r", arg)
        return
    fields["width"], fields["height"] = int(match.group(1)), int(match.group(2))


def _format_parameters(text: str) -> tuple[tuple[str, str], ...]:
    """``name=value;name=value`` of an a=fmtp line (RFC 4566 §6), names lower-cased; a
    parameter without ``=`` keeps an empty value."""
    pairs: list[tuple[str, str]] = []
    for item in text.split(";")[:MAX_FMTP_PARAMETERS]:
        name, _, param = item.partition("=")
        name = name.strip().lower()
        if name:
            pairs.append((name, param.strip()))
    return tuple(pairs)
