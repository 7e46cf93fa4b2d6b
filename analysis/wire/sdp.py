"""SDP (RFC 4566) as the checker reads it: syntax problems, media, rtpmap, framerate."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from analysis.wire.ascii_numbers import is_decimal

_LINE = re.compile(r"^([a-z])=(.*)$")
SDP_TYPES = set("vosiuepcbtrzkam")  # RFC 4566 §5
REQUIRED = ("v", "o", "s", "t")


@dataclass
class SDPMedia:
    """One m= section."""

    kind: str
    port: int
    proto: str
    formats: list[int]
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)  # pt -> (encoding, clock)
    framerate: float | None = None
    control: str | None = None
    fmtp: dict[int, dict[str, str]] = field(default_factory=dict)  # pt -> parameters
    ptime: float | None = None  # RFC 4566 §6: milliseconds of media in a packet


@dataclass
class SDPInfo:
    """A session description and the problems found in it."""

    text: str
    media: list[SDPMedia] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    framerate: float | None = None  # session-level a=framerate
    control: str | None = None


def format_parameters(text: str) -> dict[str, str]:
    """``a=fmtp`` parameters as a dict: ``name=value`` pairs separated by ``;`` (RFC 6184
    §8.1, RFC 7798 §7.1, RFC 3640 §4.1), names lower-cased as they are case-insensitive."""
    params = {}
    for item in text.split(";"):
        name, sep, value = item.strip().partition("=")
        if name:
            params[name.strip().lower()] = value.strip() if sep else ""
    return params


def parse_sdp(body: bytes) -> SDPInfo:
    """Read an SDP body; never raises, problems are listed instead."""
    text = body.decode("utf-8", "replace")
    info = SDPInfo(text)
    lines = [line for line in re.split(r"\r?\n", text) if line]
    if not lines:
        info.problems.append("empty session description")
        return info
    if lines[0] != "v=0":
        info.problems.append(f"first line is {lines[0][:40]!r}, not v=0")
    seen = set()
    current: SDPMedia | None = None
    for line in lines:
        m = _LINE.match(line)
        if not m:
            info.problems.append(f"line {line[:40]!r} is not <type>=<value>")
            continue
        kind, value = m.groups()
        if kind not in SDP_TYPES:
            info.problems.append(f"unknown line type {kind!r}")
        seen.add(kind)
        if kind == "m":
            parts = value.split()
            if len(parts) < 4 or not is_decimal(parts[1].split("/")[0]):
                info.problems.append(f"malformed m= line {value!r}")
                current = None
                continue
            formats = [int(f) for f in parts[3:] if is_decimal(f)]
            current = SDPMedia(parts[0], int(parts[1].split("/")[0]), parts[2], formats)
            info.media.append(current)
        elif kind == "a":
            name, _, arg = value.partition(":")
            if name == "rtpmap" and current is not None:
                pt, _, enc = arg.partition(" ")
                enc_parts = enc.split("/")
                if is_decimal(pt) and len(enc_parts) >= 2 and is_decimal(enc_parts[1]):
                    current.rtpmap[int(pt)] = (enc_parts[0], int(enc_parts[1]))
                else:
                    info.problems.append(f"malformed rtpmap {arg!r}")
            elif name == "fmtp" and current is not None:
                pt, _, params = arg.partition(" ")
                if is_decimal(pt):
                    current.fmtp[int(pt)] = format_parameters(params)
                else:
                    info.problems.append(f"malformed fmtp {arg[:40]!r}")
            elif name == "ptime" and current is not None:
                try:
                    current.ptime = float(arg)
                except ValueError:
                    info.problems.append(f"malformed ptime {arg[:40]!r}")
            elif name == "framerate":
                try:
                    rate = float(arg)
                except ValueError:
                    info.problems.append(f"malformed framerate {arg!r}")
                    continue
                if current is not None:
                    current.framerate = rate
                else:
                    info.framerate = rate
            elif name == "control":
                if current is not None:
                    current.control = arg
                else:
                    info.control = arg
    for kind in REQUIRED:
        if kind not in seen:
            info.problems.append(f"required {kind}= line missing")
    if not info.media:
        info.problems.append("no m= line")
    return info
