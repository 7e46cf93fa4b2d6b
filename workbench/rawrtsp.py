"""A bare RTSP connection for the scenario's negative cases.

The client library refuses, rightly, to send PLAY before SETUP or a made-up method; to see
how the server answers such requests they are written on a plain TCP socket here, with the
shared Request and MessageParser rather than ``rtsp_client.ClientConnection``'s state checks.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from rtsp_common.errors import ParseError
from rtsp_common.headers import Headers
from rtsp_common.rtsp import InterleavedFrame, MessageParser, Request, Response

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0  # seconds to wait for a reply on loopback
READ_SIZE = 65536
RTSP_VERSION_PREFIX = "RTSP/"  # RFC 2326 §6.1: RTSP-Version = "RTSP" "/" 1*DIGIT "." 1*DIGIT


class RawRTSPError(Exception):
    """The server did not answer with a parsable RTSP response."""


@dataclass(frozen=True)
class RawExchange:
    """A request as sent and the response as received (both as wire text)."""

    request: Request
    response: Response

    @property
    def request_text(self) -> str:
        return self.request.to_bytes().decode("utf-8", "replace")

    @property
    def response_text(self) -> str:
        return self.response.to_bytes().decode("utf-8", "replace")


class RawRTSPConnection:
    """One TCP connection to an RTSP server; ``send`` writes a request and waits for its reply."""

    def __init__(self, host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._parser = MessageParser()
        self._pending: list[Response] = []
        self._cseq = 0

    def send(
        self, method: str, uri: str, headers: list[tuple[str, str]] | None = None
    ) -> RawExchange:
        """Send ``method uri`` with a fresh CSeq and the given headers; return the exchange."""
        self._cseq += 1
        items = [("CSeq", str(self._cseq)), *(headers or [])]
        request = Request(method, uri, Headers(items))
        self._sock.sendall(request.to_bytes())
        return RawExchange(request, self._read_response())

    def _read_response(self) -> Response:
        while not self._pending:
            try:
                data = self._sock.recv(READ_SIZE)
            except TimeoutError as exc:
                raise RawRTSPError("no reply from the server within the timeout") from exc
            if not data:
                raise RawRTSPError("the server closed the connection without replying")
            try:
                items = self._parser.feed(data)
            except ParseError as exc:
                raise RawRTSPError(f"the server's reply does not parse: {exc}") from exc
            for item in items:
                if isinstance(item, Response):
                    if not item.version.startswith(RTSP_VERSION_PREFIX):
                        raise RawRTSPError(f"not an RTSP reply: {item.version} {item.status}")
                    self._pending.append(item)
                elif not isinstance(item, InterleavedFrame):
                    log.warning("unexpected request from the server: %s", item)
        return self._pending.pop(0)

    @property
    def local(self) -> str:
        """This end of the connection as ``ip:port``: how a capture names the client."""
        host, port = self._sock.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RawRTSPConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
