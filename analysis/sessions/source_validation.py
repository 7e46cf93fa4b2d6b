"""Which datagrams are RTP media and which are not: RFC 3550 §A.1 source validation, and
the NAT keep-alives that clients send toward servers.

A receiver counts a source only after MIN_SEQUENTIAL packets in sequence with valid
headers (§A.1's probation); until then its packets are ignored. The checker does the
same, so that a stray datagram (a keep-alive, a NAT probe, another program's traffic on
the port) is listed for what it is and never judged as a faulty RTP stream.

Keep-alives seen in the field, all sent by a client from its RTP/RTCP ports toward the
server's, to open NAT bindings before media flows:

- live555 (VLC, openRTSP): 4 bytes ``CE FA ED FE`` (0xFEEDFACE, little-endian) to both;
- ffmpeg: one RTP packet of a bare 12-byte header (version 2, PT 0, SSRC 0) to the RTP
  port, and an empty receiver report to the RTCP port (valid RTCP, judged as such);
- GStreamer's rtspsrc: a few datagrams of 200 random bytes to both ports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis.streams.rtp import (
    RTP_HEADER_LEN,
    RTP_PT_MASK,
    RTP_VERSION,
    RTP_VERSION_SHIFT,
    SEQ_MODULUS,
    CapturedStream,
)
from analysis.wire.flows import Endpoint, flow_label

MIN_SEQUENTIAL = 2  # RFC 3550 A.1: packets in sequence before a source is valid
# A flow no SETUP names is called RTP on more evidence than probation alone (Wireshark's
# rtp_udp heuristic asks for a version-2 header only): enough packets, mostly in sequence.
HEURISTIC_MIN_PACKETS = 4
HEURISTIC_MAX_SEQ_STEP = 10
HEURISTIC_MIN_SHARE = 0.8
# RFC 5761 §4: RTCP packet types 200..204 read as marker + PT in an RTP header: PT 72..76.
RTCP_PT_AS_RTP = range(72, 77)

LIVE555_KEEPALIVE = b"\xce\xfa\xed\xfe"  # live555's 0xFEEDFACE, written little-endian
FFMPEG_PUNCH = bytes([RTP_VERSION << RTP_VERSION_SHIFT]) + bytes(RTP_HEADER_LEN - 1)
GSTREAMER_PROBE_LEN = 200  # rtspsrc's dummy packets: fakesrc sizemax=200, random bytes


@dataclass
class NonMedia:
    """Datagrams on a flow that are not media: a known keep-alive form, or packets that fail
    source validation. Listed for information; no rule judges them."""

    src: Endpoint
    dst: Endpoint
    kind: str  # a keep-alive's name, or why the packets are not media
    pktnos: list[int] = field(default_factory=list)
    channel: int | None = None
    session_id: str | None = None
    keepalive: bool = False  # a known keep-alive form, sent on purpose

    @property
    def label(self) -> str:
        """Where the datagrams ran, for texts."""
        return flow_label(self.src, self.dst, self.channel)


def keepalive_kind(payload: bytes, toward_server: bool) -> str | None:
    """The name of a known keep-alive form, or None."""
    if not payload:
        return "empty datagram (NAT keep-alive)"
    if payload == LIVE555_KEEPALIVE:
        return "live555 NAT keep-alive (0xFEEDFACE)"
    if payload == FFMPEG_PUNCH:
        return "ffmpeg NAT punch (bare RTP header)"
    if toward_server and len(payload) == GSTREAMER_PROBE_LEN:
        return "GStreamer NAT probe (200-byte datagram)"
    return None


def valid_header_mask(stream: CapturedStream) -> np.ndarray:
    """RFC 3550 A.1 header checks per packet: version 2, and a payload type that is not an
    RTCP packet type read as RTP (A.1 also asks for a sane length: RTP-LEN-1 judges it)."""
    b0_version = np.ones(len(stream), dtype=bool)
    if stream.bad_version:
        b0_version = ~np.isin(stream.pktno, stream.bad_version)
    pt = stream.b1 & RTP_PT_MASK
    return b0_version & ~np.isin(pt, RTCP_PT_AS_RTP)


def passes_probation(stream: CapturedStream, min_sequential: int = MIN_SEQUENTIAL) -> bool:
    """True when ``min_sequential`` packets with valid headers arrive in sequence."""
    n = len(stream)
    if n < min_sequential:
        return False
    valid = valid_header_mask(stream)
    in_sequence = ((np.diff(stream.seq) % SEQ_MODULUS) == 1) & valid[1:] & valid[:-1]
    run = 1
    best = 1
    for step in in_sequence.tolist():
        run = run + 1 if step else 1
        best = max(best, run)
        if best >= min_sequential:
            return True
    return best >= min_sequential


def looks_like_media(stream: CapturedStream) -> bool:
    """The stricter test for a flow no SETUP names: enough packets, version 2 throughout,
    and most sequence steps small and forward."""
    n = len(stream)
    if n < HEURISTIC_MIN_PACKETS or not passes_probation(stream):
        return False
    valid = valid_header_mask(stream)
    if valid.mean() < HEURISTIC_MIN_SHARE:
        return False
    steps = np.diff(stream.seq) % SEQ_MODULUS
    forward = (steps > 0) & (steps <= HEURISTIC_MAX_SEQ_STEP)
    return bool(forward.mean() >= HEURISTIC_MIN_SHARE)
