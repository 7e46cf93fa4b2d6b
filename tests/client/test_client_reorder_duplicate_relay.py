"""Reordering and duplication on the path, made by a small UDP relay between the server and
the client (tc netem is not on these machines): the client announces the relay's port
(`announce_port`, as behind a port forward), the relay swaps neighbouring packets and
repeats others at seeded random, and counts what it did. The client's RFC 3550 counts must
equal the relay's, with no loss, and every frame must come out whole and equal to its source."""

from __future__ import annotations

import itertools
import random
import select
import socket
import threading
import time
from dataclasses import dataclass, field

from local_ports import free_port
from media_samples import decode, read_lab_frames

from rtsp_client import RTSPClient
from rtsp_client.options import ClientOptions
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

FPS = 60
FRAMES = 90
SWAP_PROBABILITY = 0.03  # a packet held back and sent after the next one
DUPLICATE_PROBABILITY = 0.03  # a packet sent twice
HOLD_TIMEOUT = 0.05  # s: a packet held with nothing after it goes out alone
LOOPBACK = "127.0.0.1"


@dataclass
class Relay:
    """Forwards RTP from ``port`` to ``target`` (RTCP from port+1 to target+1 unchanged),
    swapping and duplicating RTP packets as a seeded random source says."""

    target: int
    seed: int = 7
    swapped: int = 0
    duplicated: int = 0
    port: int = field(init=False)

    def __post_init__(self) -> None:
        self.port = free_port(pair=True)
        self._rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._rtp.bind((LOOPBACK, self.port))
        self._rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._rtcp.bind((LOOPBACK, self.port + 1))
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)

    def __enter__(self) -> Relay:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in (self._rtp, self._rtcp, self._out):
            sock.close()

    def _send(self, packet: bytes) -> None:
        self._out.sendto(packet, (LOOPBACK, self.target))

    def _run(self) -> None:
        rng = random.Random(self.seed)
        held: bytes | None = None
        while not self._stop.is_set():
            ready, _, _ = select.select([self._rtp, self._rtcp], [], [], HOLD_TIMEOUT)
            if not ready and held is not None:
                self._send(held)  # nothing came after it: out alone, in order
                held = None
            if self._rtcp in ready:
                self._out.sendto(self._rtcp.recv(65536), (LOOPBACK, self.target + 1))
            if self._rtp not in ready:
                continue
            packet = self._rtp.recv(65536)
            if held is not None:
                self._send(packet)
                self._send(held)  # after its successor: one reordered packet
                self.swapped += 1
                held = None
                continue
            draw = rng.random()
            if draw < SWAP_PROBABILITY:
                held = packet
            elif draw < SWAP_PROBABILITY + DUPLICATE_PROBABILITY:
                self._send(packet)
                self._send(packet)
                self.duplicated += 1
            else:
                self._send(packet)


def test_reordered_and_duplicated_packets_are_counted_as_the_relay_made_them(lab_movie):
    options = ServerOptions(port=0, media=lab_movie, host=LOOPBACK, fps=FPS, mtu=1000)
    client_port = free_port(pair=True)
    with (
        RTSPServer(options=options) as server,
        Relay(target=client_port) as relay,
        RTSPClient.from_url(
            f"rtsp://{LOOPBACK}:{server.port}/movie.Mjpeg",
            ClientOptions(rtp_port=client_port, announce_port=relay.port, timeout=5),
        ) as client,
    ):
        client.setup()
        client.play()
        shown = list(itertools.islice(client.frames(timeout=5), FRAMES))
        client.pause()
        # The last packets before PAUSE, a held one too, reach the client before counting.
        sent = server.call(lambda: sum(s.stream.packet_count for s in server.sessions))
        for _ in range(100):
            stats = client.stats()
            if stats.packets_received >= sent + relay.duplicated:
                break
            time.sleep(0.05)
    assert relay.swapped > 0 and relay.duplicated > 0
    assert stats.packets_expected == sent
    assert stats.reordered == relay.swapped
    assert stats.duplicates == relay.duplicated
    # Each copy is refused as a duplicate, none as late: the relay's holds stay in the window.
    assert stats.dropped.get("duplicate") == relay.duplicated
    assert "late" not in stats.dropped
    # RFC 3550 A.3: lost = expected - received, so each duplicate counts as one less lost.
    assert stats.packets_lost == -relay.duplicated
    assert stats.frames_incomplete == 0
    assert stats.jitter_ms is not None and 0 <= stats.jitter_ms < 1000
    source = read_lab_frames(lab_movie, FRAMES)
    first = shown[0].timestamp
    step = 90_000 // FPS
    for frame in shown:
        number = (frame.timestamp - first) // step
        assert decode(frame.jpeg).tobytes() == decode(source[number]).tobytes(), number
