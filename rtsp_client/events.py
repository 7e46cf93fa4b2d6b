"""What a ``ClientConnection`` makes of the bytes a server sent: small frozen values.

The I/O shell feeds received bytes to the connection and acts on each event in order,
as h11's users act on its events.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtsp_client.errors import ClientError
from rtsp_common.rtsp import Request, Response


@dataclass(frozen=True)
class ReplyReceived:
    """The reply to our request ``cseq``; ``error`` says why it failed, None when it did not.

    A non-2xx status is an ``RTSPError``; a 2xx whose content cannot be used (SDP, Session,
    Transport) is a ``ProtocolViolation``. Only a reply without ``error`` moved the state.
    """

    cseq: int
    method: str
    response: Response
    error: ClientError | None = None


@dataclass(frozen=True)
class RequestRetried:
    """Request ``previous`` was answered 401 and is sent again as ``request``, with credentials
    (its reply will come under the new CSeq): the shell writes ``request.data``."""

    previous: int
    request: OutgoingRequest


@dataclass(frozen=True)
class InterleavedReceived:
    """A packet the server sent on the RTSP connection (RFC 2326 §10.12): RTP, or RTCP."""

    payload: bytes
    rtcp: bool


@dataclass(frozen=True)
class ServerRequestRefused:
    """The server sent a request (ANNOUNCE, SET_PARAMETER...); ``answer`` (501) is owed to it."""

    request: Request
    answer: bytes


@dataclass(frozen=True)
class NotRTSP:
    """The server sent bytes that are not RTSP/1.0: the connection is unusable, close it."""

    reason: str


@dataclass(frozen=True)
class OutgoingRequest:
    """A request ready for the wire: its CSeq (the reply will name it) and its bytes."""

    cseq: int
    method: str
    data: bytes


Event = ReplyReceived | RequestRetried | InterleavedReceived | ServerRequestRefused | NotRTSP
