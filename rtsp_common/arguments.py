"""Command-line value types shared by rtsp-server and rtsp-client (argparse ``type=``).

Pure checks on text: each raises ``argparse.ArgumentTypeError`` with a message that says
what was wrong, so both commands refuse bad values with the same words.
"""

from __future__ import annotations

import argparse
import math

MAX_PORT = 65535  # TCP and UDP ports are 16 bits (RFC 793, RFC 768)


def number(text: str, kind: type[int] | type[float]) -> int | float:
    """``text`` as an int or float, or a usage error saying it is not a number."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def port(text: str) -> int:
    """A TCP/UDP port, 0 (any free port) to 65535."""
    value = int(number(text, int))
    if not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-{MAX_PORT})")
    return value


def rtp_port(text: str) -> int:
    """An even RTP port whose odd neighbour above carries RTCP (RFC 3550 §11)."""
    value = int(number(text, int))
    if not 0 <= value <= MAX_PORT - 1:
        raise argparse.ArgumentTypeError(
            f"{value} is not a port for RTP (0-{MAX_PORT - 1}; RTCP takes the next one)"
        )
    if value % 2:
        raise argparse.ArgumentTypeError(
            f"{value} is odd: RTP takes an even port and RTCP the next one (RFC 3550 §11)"
        )
    return value


def positive_int(text: str) -> int:
    """A count of 1 or more."""
    value = int(number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def positive_seconds(text: str) -> float:
    """A finite duration above zero (NaN and infinity are refused)."""
    value = float(number(text, float))
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value
