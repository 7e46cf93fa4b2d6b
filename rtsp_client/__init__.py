"""RTSP client: an asyncio core, the lab's synchronous API, a recorder and a Tk player."""

from rtsp_client.client import RTSPClient
from rtsp_client.errors import (
    ClientError,
    ConnectionLost,
    ProtocolViolation,
    RTSPError,
    RTSPTimeout,
    StateError,
)

__all__ = [
    "ClientError",
    "ConnectionLost",
    "ProtocolViolation",
    "RTSPClient",
    "RTSPError",
    "RTSPTimeout",
    "StateError",
]
