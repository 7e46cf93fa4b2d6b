"""What a client session can be told: one documented dataclass, each default stated once.

``ClientOptions`` is what the asyncio core, the blocking ``RTSPClient``, the Tk player and
``rtsp-client`` all read; the command line takes its defaults and help text from the fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rtsp_client.frame_queue import DEFAULT_QUEUE_BYTES
from rtsp_client.receiver import DEFAULT_MAX_FRAME_BYTES
from rtsp_common.arguments import option
from rtsp_common.auth import check_user
from rtsp_common.headers import MAX_PORT
from rtsp_common.rtcp import REPORT_INTERVAL


class Dialect(StrEnum):
    """How requests are written: standard RFC 2326, or the wire form of the lab's Client.py."""

    STANDARD = "standard"
    LAB = "lab"


class LowerTransport(StrEnum):
    """How media travels (RFC 2326 §12.39 lower-transport): a UDP port pair, or on the RTSP
    connection itself (interleaved, RFC 2326 §10.12)."""

    UDP = "udp"
    TCP = "tcp"


@dataclass(frozen=True)
class ClientOptions:
    """Settings of one client session. Strings are accepted for the two enums."""

    transport: LowerTransport = option(
        LowerTransport.UDP, "udp: RTP on an even/odd UDP port pair; tcp: interleaved on RTSP"
    )
    rtp_port: int = option(0, "even local UDP port for RTP, RTCP on the next; 0 picks a free pair")
    # Behind a port forward (a NAT, a relay, a test's impairment proxy) the server must send
    # to the outside port, which forwards to the one bound here.
    announce_port: int = option(
        0,
        "even UDP port SETUP names instead of the bound one (a port forward or relay); 0: the bound",
    )
    dialect: Dialect = option(Dialect.STANDARD, "'lab' speaks the lab's Client.py wire form")
    timeout: float = option(5.0, "seconds to wait for a reply")
    max_frame_bytes: int = option(
        DEFAULT_MAX_FRAME_BYTES, "largest frame reassembled, in bytes; a bigger one is dropped"
    )
    # The RTSPClient API's queue for frames() / next_frame(): 256 frames of the largest size
    # allowed would be 2 GB; a byte budget keeps a caller that stops reading bounded.
    frame_queue_bytes: int = option(
        DEFAULT_QUEUE_BYTES, "bytes of frames queued for a slow reader; beyond, the oldest go"
    )
    # > 0: once the first frame is in, RTP over UDP is read on a timer every this many
    # seconds instead of on every burst: far fewer wake-ups, frames up to this late. Only
    # where the kernel stamps datagrams, so arrival times stay exact.
    batch_interval: float = option(
        0.0, "read RTP every S seconds once frames flow, not on every burst; 0: off"
    )
    rtcp_interval: float = option(
        REPORT_INTERVAL, "nominal seconds between RTCP receiver reports (RFC 3550 §6.2)"
    )
    # Sent only when the server asks (401), as Digest when it offers Digest (RFC 7616).
    user: str | None = option(None, "user name, when the server asks for one")
    password: str | None = option(None, "password of --user", secret=True)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "transport", LowerTransport(self.transport))
        except ValueError:
            raise ValueError(f"transport must be 'udp' or 'tcp', not {self.transport!r}") from None
        try:
            object.__setattr__(self, "dialect", Dialect(self.dialect))
        except ValueError:
            raise ValueError(f"dialect must be 'standard' or 'lab', not {self.dialect!r}") from None
        if self.dialect is Dialect.LAB and self.transport is LowerTransport.TCP:
            raise ValueError("the lab's dialect only knows RTP over UDP")
        if not 0 <= self.rtp_port < MAX_PORT:
            # RTCP takes the port above RTP's (RFC 3550 §11), so RTP stops one short.
            raise ValueError(f"RTP port {self.rtp_port} is not a port for RTP (0-{MAX_PORT - 1})")
        if not 0 <= self.announce_port < MAX_PORT or self.announce_port % 2:
            raise ValueError(f"announced port {self.announce_port} is not an even port for RTP")
        if self.announce_port and self.transport is LowerTransport.TCP:
            raise ValueError("an announced UDP port needs the UDP transport")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {self.timeout}")
        if self.frame_queue_bytes < 1:
            raise ValueError(f"frame_queue_bytes must be 1 or more, not {self.frame_queue_bytes}")
        if not self.batch_interval >= 0 or not self.rtcp_interval > 0:
            raise ValueError("batch_interval must be >= 0 and rtcp_interval > 0 seconds")
        self._check_credentials()

    def _check_credentials(self) -> None:
        if self.user is None:
            if self.password is not None:
                raise ValueError("a password needs a user name (--user)")
            return
        check_user(self.user)
        if self.dialect is Dialect.LAB:
            raise ValueError("the lab's dialect has no authentication")
