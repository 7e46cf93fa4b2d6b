"""The package's errors for bad input: every parser raises only these."""

from __future__ import annotations

from rtsp_common.status import Status


class ParseError(ValueError):
    """Bytes or text that do not follow the format; the message says what and where.

    ``status`` is the RTSP status a server should answer with (400 by default,
    413 when a size limit was exceeded).
    """

    def __init__(self, message: str, status: int = Status.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


class UnsupportedJPEG(ParseError):
    """A JPEG that RFC 2435 cannot carry; the message names the reason and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=Status.UNSUPPORTED_MEDIA_TYPE)


class MediaFileError(ParseError):
    """A media file that cannot be read or written as asked."""
