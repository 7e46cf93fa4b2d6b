"""What rtsp-server and rtsp-client share on the command line.

The value types (argparse ``type=``) are pure checks on text: each raises
``argparse.ArgumentTypeError`` with a message that says what was wrong, so both commands
refuse bad values with the same words. :func:`option` lets each side's options dataclass
hold its defaults and help text once, and :func:`add_option` puts them on its command line.
:func:`error_line` is the one form of an error line every command prints.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import math
from typing import Any, TypeVar

from rtsp_common.headers import MAX_PORT

HELP = "help"  # the metadata key of an option's help text
# Where a command finds the password of --user when --password is not given: unlike the
# command line, the environment of a process is not shown to other users by ps.
PASSWORD_VARIABLE = "RTSP_PASSWORD"

T = TypeVar("T")


def option(default: T, help: str, *, secret: bool = False) -> T:
    """A dataclass field with ``default`` and the help text a command line shows for it.

    A ``secret`` field (a password) is left out of the dataclass's repr, hence out of logs.
    """
    return dataclasses.field(default=default, metadata={HELP: help}, repr=not secret)


def add_option(
    parser: argparse._ActionsContainer, flag: str, options: Any, name: str, **kwargs: Any
) -> None:
    """Add ``flag`` to ``parser`` (or one of its groups) with the default and help of field
    ``name`` of ``options``."""
    default = getattr(options, name)  # a dataclass's class attribute is its field's default
    if kwargs.get("action") == "append":
        default = list(default)  # argparse appends to its default: a list, never the tuple
    parser.add_argument(flag, default=default, help=option_help(options, name), **kwargs)


def option_help(options: Any, name: str) -> str:
    """The help text of field ``name`` of an options dataclass, with its default."""
    found = {f.name: f for f in dataclasses.fields(options)}[name]
    default = found.default
    if isinstance(default, enum.Enum):
        shown = str(default.value)
    elif isinstance(default, bool):
        shown = "on" if default else "off"
    elif isinstance(default, float):
        shown = f"{default:g}"
    elif default is None or default == ():
        shown = "none"
    else:
        shown = str(default)
    return f"{found.metadata[HELP]} (default {shown})"


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


def server_port(text: str) -> int:
    """The port of a server to connect to, 1 to 65535 (0 names no port there)."""
    value = int(number(text, int))
    if not 1 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{value} is not a server port (1-{MAX_PORT})")
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


def count(text: str) -> int:
    """A count of 0 or more (0 usually turns the feature off)."""
    value = int(number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is not 0 or more")
    return value


def positive_seconds(text: str) -> float:
    """A finite duration above zero (NaN and infinity are refused)."""
    value = float(number(text, float))
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def error_line(prog: str, message: str) -> str:
    """An error as every command prints it, in argparse's own form: ``prog: error: message``."""
    return f"{prog}: error: {message}"
