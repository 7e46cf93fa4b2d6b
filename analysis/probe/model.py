"""What the probe's battery and its cases share: verdicts, exchanges, and the channel.

Apart from ``analysis.probe.battery`` so that case modules (``analysis.probe.access``) and the
battery can both use them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from analysis.probe.wire import Reply


class Verdict(StrEnum):
    """A probe case's outcome; WARN is a legal but unhelpful answer."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class ProbeExchange:
    """What came back for one request: a reply, or the connection closed, or nothing in time."""

    reply: Reply | None = None
    closed: bool = False
    error: str | None = None


class Channel(Protocol):
    """One RTSP connection: send a request and read its reply, or count '$' frames."""

    def exchange(self, request: bytes) -> ProbeExchange: ...
    def wait_interleaved(self, timeout: float) -> int: ...
    def close(self) -> None: ...
