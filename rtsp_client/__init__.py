"""RTSP client: a sans-I/O connection, an asyncio core, the lab's blocking API, a Tk player."""

from rtsp_client.client import RTSPClient
from rtsp_client.connection import ClientConnection
from rtsp_client.errors import (
    AuthenticationError,
    ClientError,
    ConnectionLost,
    ProtocolViolation,
    RTSPError,
    RTSPTimeout,
    StateError,
    UnsupportedMedia,
)
from rtsp_client.options import ClientOptions, Dialect, LowerTransport

__all__ = [
    "AuthenticationError",
    "ClientConnection",
    "ClientError",
    "UnsupportedMedia",
    "ClientOptions",
    "ConnectionLost",
    "Dialect",
    "LowerTransport",
    "ProtocolViolation",
    "RTSPClient",
    "RTSPError",
    "RTSPTimeout",
    "StateError",
]
