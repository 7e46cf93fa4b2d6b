"""Error and warning lines of the rtsp-workbench commands, in one form for all of them.

``rtsp-workbench check: error: ...`` is argparse's own form, so a usage error and an error
found later read alike. The line goes to stderr as plain text: never wrapped (a user greps
it, a test asserts on it, the terminal's width must not split it), never read as markup.
"""

from __future__ import annotations

import sys

from rtsp_common.arguments import error_line

PROG = "rtsp-workbench"
EXIT_ERROR = 2  # the input could not be used at all (argparse's usage code too)


def error(command: str, message: str, code: int = EXIT_ERROR) -> int:
    """Print ``rtsp-workbench COMMAND: error: MESSAGE`` to stderr; return ``code``."""
    print(error_line(f"{PROG} {command}", message), file=sys.stderr, flush=True)
    return code


def warning(command: str, message: str) -> None:
    """Print ``rtsp-workbench COMMAND: warning: MESSAGE`` to stderr."""
    print(f"{PROG} {command}: warning: {message}", file=sys.stderr, flush=True)
