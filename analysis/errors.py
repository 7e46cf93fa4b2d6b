"""Errors raised by analysis for bad input (corrupt captures, unreadable files)."""

from __future__ import annotations


class AnalysisError(Exception):
    """Base class of every error analysis raises for bad input."""


class CaptureFileError(AnalysisError):
    """A capture file is corrupt, truncated or of an unknown format.

    ``offset`` is the byte offset in the file where reading stopped; ``packets_read``
    says how many packets were read whole before it (they remain usable).
    """

    def __init__(self, message: str, offset: int, packets_read: int = 0) -> None:
        super().__init__(f"{message} (at byte offset {offset}, after {packets_read} packets)")
        self.reason = message
        self.offset = offset
        self.packets_read = packets_read
