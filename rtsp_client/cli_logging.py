"""What ``-v`` means to rtsp-client and the player: warnings only by default; -v adds what
the client notices (a BYE, the keep-alive method, a reply it ignores); -vv every request
and reply as sent and received."""

from __future__ import annotations

import logging

VERBOSE_HELP = (
    "-v: log what the client notices (BYE, keep-alive, ignored replies); "
    "-vv: also every request and reply"
)
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure_logging(verbose: int) -> None:
    """Log to stderr at the level ``verbose`` (the count of -v) asks for."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format=LOG_FORMAT)
