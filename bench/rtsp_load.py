"""A light RTSP load generator: N UDP sessions (DESCRIBE/SETUP/PLAY), counting RTP per session.

Receiving is one thread with epoll draining every socket; per packet it reads only the marker
bit and the sequence number, so it keeps up with tens of thousands of packets per second.
"""

from __future__ import annotations

import selectors
import socket
import time
from dataclasses import dataclass, field

from local_ports import udp_port_pair

from rtsp_common.headers import Headers
from rtsp_common.headers import Session as SessionHeader
from rtsp_common.rtsp import MessageParser, Request, Response
from rtsp_common.sdp import SessionDescription
from rtsp_common.status import Status

RECEIVE_BUFFER = 2 * 1024 * 1024
MARKER = 0x80  # RFC 3550 §5.1: M bit in the second octet


@dataclass
class SessionCounters:
    """What one session received."""

    packets: int = 0
    frames: int = 0  # packets with the marker bit: one per frame
    first_seq: int | None = None
    highest: int = 0  # extended highest sequence number
    window_packets: int = 0
    window_frames: int = 0
    window_start_highest: int | None = None

    def add(self, seq: int, marker: bool) -> None:
        if self.first_seq is None:
            self.first_seq = seq
            self.highest = seq
        else:
            delta = (seq - self.highest) & 0xFFFF
            if delta < 0x8000:
                self.highest += delta
        self.packets += 1
        self.frames += marker


@dataclass
class LoadSession:
    control: socket.socket
    rtp: socket.socket
    rtcp: socket.socket
    url: str
    session_id: str = ""
    counters: SessionCounters = field(default_factory=SessionCounters)
    cseq: int = 0
    parser: MessageParser = field(default_factory=MessageParser)

    def request(self, method: str, url: str, **headers: str) -> Response:
        self.cseq += 1
        items = [("CSeq", str(self.cseq)), ("User-Agent", "rtsp-workbench-load")]
        items += [(k.replace("_", "-"), v) for k, v in headers.items()]
        if self.session_id:
            items.append(("Session", self.session_id))
        self.control.sendall(Request(method, url, Headers(items)).to_bytes())
        while True:
            for item in self.parser.feed(self.control.recv(65536)):
                if isinstance(item, Response):
                    if item.status != Status.OK:
                        raise RuntimeError(f"{method} {url}: {item.status} {item.reason}")
                    return item


def open_session(host: str, port: int, url: str) -> LoadSession:
    """DESCRIBE, SETUP (UDP) the SDP's track and PLAY."""
    control = socket.create_connection((host, port), timeout=10)
    rtp, rtcp = udp_port_pair(RECEIVE_BUFFER)
    rtp.setblocking(False)
    rtcp.setblocking(False)
    session = LoadSession(control, rtp, rtcp, url)
    described = session.request("DESCRIBE", url, Accept="application/sdp")
    sdp = SessionDescription.parse(described.body.decode())
    base = described.headers.get("Content-Base") or url + "/"
    track = sdp.track_control
    track_url = track if "://" in track else base.rstrip("/") + "/" + track
    rtp_port = rtp.getsockname()[1]
    answer = session.request(
        "SETUP", track_url, Transport=f"RTP/AVP;unicast;client_port={rtp_port}-{rtp_port + 1}"
    )
    session.session_id = SessionHeader.parse(answer.headers["Session"]).id
    aggregate = base.rstrip("/") if sdp.control in ("*", "") else sdp.control
    session.request("PLAY", aggregate, Range="npt=0-")
    return session


@dataclass
class LoadResult:
    sessions: int
    seconds: float
    packets: list[int]
    frames: list[int]
    lost: list[int]

    @property
    def fps(self) -> list[float]:
        return [f / self.seconds for f in self.frames]

    @property
    def loss_ratio(self) -> float:
        expected = sum(self.packets) + sum(self.lost)
        return sum(self.lost) / expected if expected else 0.0


def run_load(
    sessions: list[LoadSession],
    warmup: float,
    seconds: float,
    on_window_start=None,
    on_window_end=None,
) -> LoadResult:
    """Receive on every session; count what arrives during ``seconds`` after ``warmup``."""
    selector = selectors.EpollSelector()
    for s in sessions:
        selector.register(s.rtp, selectors.EVENT_READ, s.counters)
        selector.register(s.rtcp, selectors.EVENT_READ, None)
    start = time.monotonic()
    window_start = start + warmup
    window_end = window_start + seconds
    in_window = False
    buffer = bytearray(65536)
    view = memoryview(buffer)
    try:
        while True:
            now = time.monotonic()
            if not in_window and now >= window_start:
                in_window = True
                for s in sessions:
                    c = s.counters
                    c.window_packets, c.window_frames = c.packets, c.frames
                    c.window_start_highest = c.highest if c.first_seq is not None else None
                if on_window_start:
                    on_window_start()
            if now >= window_end:
                if on_window_end:
                    on_window_end()
                break
            for key, _ in selector.select(timeout=0.05):
                sock = key.fileobj
                counters = key.data
                while True:
                    try:
                        n = sock.recv_into(buffer)  # type: ignore[union-attr]
                    except BlockingIOError:
                        break
                    if counters is not None and n >= 12:
                        counters.add((view[2] << 8) | view[3], bool(view[1] & MARKER))
    finally:
        selector.close()
    packets, frames, lost = [], [], []
    for s in sessions:
        c = s.counters
        got = c.packets - c.window_packets
        packets.append(got)
        frames.append(c.frames - c.window_frames)
        base = (
            c.window_start_highest if c.window_start_highest is not None else (c.first_seq or 0) - 1
        )
        expected = c.highest - base
        lost.append(max(0, expected - got))
    return LoadResult(len(sessions), seconds, packets, frames, lost)


def close_sessions(sessions: list[LoadSession]) -> None:
    for s in sessions:
        try:
            s.control.settimeout(2)
            s.request("TEARDOWN", s.url)
        except (OSError, RuntimeError):
            pass
        for sock in (s.control, s.rtp, s.rtcp):
            sock.close()
