"""What a server can be told: one documented dataclass, each default stated once.

``ServerOptions`` is what ``RTSPServer``, each connection and each request handler read;
``rtsp-server`` takes its defaults and help text from the fields (as aioquic's
``QuicConfiguration`` serves its clients and servers).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from rtsp_common.arguments import option
from rtsp_common.auth import check_user
from rtsp_common.headers import CHANNEL_MAX, DEFAULT_SESSION_TIMEOUT, MAX_PORT
from rtsp_common.rtcp import REPORT_INTERVAL
from rtsp_server.credentials import DEFAULT_REALM
from rtsp_server.media import max_rtp_payload

# RFC 2326 §10.12: a one-byte channel id, an RTP and an RTCP channel per session.
MAX_INTERLEAVED_SESSIONS = (CHANNEL_MAX + 1) // 2
DEFAULT_PORT = 8554  # RFC 2326 §3.2 names 554; 8554 needs no privileges
MIN_RTP_PAYLOAD = 256  # bytes: room for the RFC 2435 headers and quantization tables
WRITE_BUFFER_LIMIT = 1024 * 1024  # bytes queued on a TCP connection before frames are skipped
# Above the frame-skipping limit, so media alone never reaches it: only unread replies do.
REPLY_BACKLOG_LIMIT = 4 * WRITE_BUFFER_LIMIT
# Long enough that a client answering each 401 once is not asked again within a session's
# first minutes; stale=true (RFC 7616 §3.3) renews it without asking for the password again.
NONCE_LIFETIME = 300.0


@dataclass(frozen=True)
class ServerOptions:
    """Settings of one server; ValueError names a value it cannot run with."""

    media: str | os.PathLike[str] = option(".", "folder of .Mjpeg/.mjpeg/.mjpg files, or one file")
    host: str = option("0.0.0.0", "address to listen on")
    port: int = option(DEFAULT_PORT, "RTSP TCP port; 0 picks a free one")
    fps: float = option(20.0, "frames per second")
    mtu: int = option(1400, "largest IP packet in bytes")
    loop: bool = option(False, "start over at the end of a file")
    # RFC 2326 §12.37's default: a client that assumes it without reading the header is right.
    session_timeout: float = option(float(DEFAULT_SESSION_TIMEOUT), "idle session timeout, s")
    max_sessions: int = option(1000, "most sessions at once")
    ready_timeout: float = option(
        30.0, "seconds a session set up but never played keeps its slot, keep-alives or not"
    )
    max_connections: int = option(1000, "most RTSP connections")
    # One stray ICMP must not end a stream (a NAT may answer before the client's packets
    # open its path); three within 10 s of a peer whose port is closed do, within 0.1 s at
    # 30 fps on a LAN (Linux sends at most one a second to a remote host: about 3 s).
    unreachable_limit: int = option(
        3,
        "ICMP port unreachables within 10 s that end a UDP session's stream (Linux; 0: never)",
    )
    # One address must not take every slot; a tenth of the server leaves room for a site
    # behind one NAT address and for this project's own load tests (60 sessions on loopback).
    max_sessions_per_peer: int = option(
        100, "most sessions one client address may hold (across worker processes too)"
    )
    max_connections_per_peer: int = option(
        100, "most RTSP connections one client address may hold open (across workers too)"
    )
    # RFC 2326 §10.12: channels 0-255, two per session (RTP, RTCP): 128 at most. A client
    # sets up one pair per track; 16 bounds what one connection holds with room to spare.
    max_interleaved_sessions: int = option(
        16, "TCP-interleaved sessions on one connection (two channels each, 461 beyond)"
    )
    rtp_port: int = option(
        0,
        "even UDP port for RTP, RTCP on the next; 0 picks a free pair (with workers, worker i "
        "takes the i-th pair from there)",
    )
    workers: int = option(
        1,
        "worker processes sharing the RTSP port (SO_REUSEPORT), each with its own sessions "
        "and RTP/RTCP port pair; the limits hold for them all",
    )
    use_gso: bool = option(
        False,
        "UDP segmentation offload: one syscall per frame instead of one per packet; a "
        "capture on this host then shows one large datagram per frame",
    )
    pace: float = option(
        0.0,
        "spread each frame's packets over this fraction of the frame interval, in up to 8 "
        "bursts (0: all at once; 0.5: over half the interval); gentler on switches and Wi-Fi",
    )
    max_request_bytes: int = option(
        8192, "largest request head, and largest body, in bytes (413 above)"
    )
    request_timeout: float = option(10.0, "seconds a request may take to arrive whole")
    idle_timeout: float | None = option(
        None, "seconds a connection owning no session may stay silent; None: session_timeout"
    )
    lab_flush_delay: float = option(
        0.15, "seconds before a request without its blank line (the lab's client) is read"
    )
    report_interval: float = option(REPORT_INTERVAL, "seconds between RTCP sender reports")
    write_buffer_limit: int = option(
        WRITE_BUFFER_LIMIT, "bytes queued on a TCP connection before frames are skipped"
    )
    reply_backlog_limit: int = option(
        REPLY_BACKLOG_LIMIT,
        "bytes of unsent replies after which a connection's requests are no longer read "
        "(a peer pipelining requests without reading the replies); closed if it stays there "
        "for request_timeout",
    )
    # Access control (RFC 2326 §D.1): off unless auth or auth_file names a user.
    auth: tuple[str, ...] = option(
        (), "USER:PASSWORD allowed in (repeatable); kept only as its Digest hashes", secret=True
    )
    auth_file: str | os.PathLike[str] | None = option(
        None, "htdigest-style file of user:realm:hash lines (MD5 or SHA-256 hex)"
    )
    auth_realm: str = option(DEFAULT_REALM, "realm named in challenges and in --auth-file")
    auth_basic: bool = option(
        False, "accept Basic too (RFC 7617): the password crosses the network in clear"
    )
    auth_legacy_digest: bool = option(
        True,
        "accept Digest without qop (RFC 2069; GStreamer 1.22's rtspsrc): no nonce count "
        "guards it against replay from the same address while its nonce lives",
    )
    nonce_lifetime: float = option(
        NONCE_LIFETIME, "seconds a Digest nonce is valid; then stale=true asks for a new one"
    )

    def __post_init__(self) -> None:
        if not 0 < self.fps < math.inf:  # NaN fails this too
            raise ValueError(f"fps must be a positive number, not {self.fps}")
        if max_rtp_payload(self.mtu) < MIN_RTP_PAYLOAD:
            raise ValueError(f"mtu {self.mtu} leaves no room for RFC 2435 headers and tables")
        if not 0 <= self.port <= MAX_PORT or not 0 <= self.rtp_port < MAX_PORT:
            raise ValueError(f"port {self.port} or RTP port {self.rtp_port} is not a port")
        if not 0 <= self.pace < 1:
            raise ValueError(f"pace is a fraction of the frame interval in [0, 1), not {self.pace}")
        if not 0 < self.ready_timeout <= math.inf:
            raise ValueError(f"ready_timeout must be a positive number, not {self.ready_timeout}")
        if self.workers < 1:
            raise ValueError(f"workers must be 1 or more, not {self.workers}")
        if self.rtp_port and self.rtp_port + 2 * self.workers - 1 > MAX_PORT:
            raise ValueError(f"{self.workers} workers need RTP ports past {MAX_PORT}")
        if not 1 <= self.max_interleaved_sessions <= MAX_INTERLEAVED_SESSIONS:
            raise ValueError(
                f"max_interleaved_sessions must be 1 to {MAX_INTERLEAVED_SESSIONS} "
                f"(two of the 256 channels each), not {self.max_interleaved_sessions}"
            )
        if self.max_connections_per_peer < 1:
            raise ValueError(
                f"max_connections_per_peer must be 1 or more, not {self.max_connections_per_peer}"
            )
        if self.unreachable_limit < 0:
            raise ValueError(f"unreachable_limit must be 0 or more, not {self.unreachable_limit}")
        if self.max_sessions_per_peer < 1:
            raise ValueError(
                f"max_sessions_per_peer must be 1 or more, not {self.max_sessions_per_peer}"
            )
        self._check_auth()

    def _check_auth(self) -> None:
        object.__setattr__(self, "auth", tuple(self.auth))  # a list from a caller is fine
        for entry in self.auth:
            user, colon, _ = entry.partition(":")
            if not colon:
                raise ValueError(f"--auth takes USER:PASSWORD, not {user!r} alone")
            check_user(user)
        if self.auth_basic and not self.auth_required:
            raise ValueError("--auth-basic needs users: --auth USER:PASSWORD or --auth-file")
        if not 0 < self.nonce_lifetime < math.inf:
            raise ValueError(f"nonce_lifetime must be a positive number, not {self.nonce_lifetime}")
        if not self.auth_realm or '"' in self.auth_realm or ":" in self.auth_realm:
            raise ValueError(f"realm {self.auth_realm!r} must be non-empty, without '\"' or ':'")

    @classmethod
    def lab(cls, server_port: int, video_file: str | os.PathLike[str]) -> ServerOptions:
        """The lab's ``Server.py PORT`` serving one ``video_file``; the rest as default."""
        return cls(media=video_file, port=server_port)

    @property
    def max_payload(self) -> int:
        """RTP payload bytes per packet that keep a datagram within ``mtu``."""
        return max_rtp_payload(self.mtu)

    @property
    def auth_required(self) -> bool:
        """True when requests need credentials (some user is named)."""
        return bool(self.auth) or self.auth_file is not None

    @property
    def connection_idle_timeout(self) -> float:
        """Seconds a connection owning no session may stay silent before it is closed."""
        return self.session_timeout if self.idle_timeout is None else self.idle_timeout
