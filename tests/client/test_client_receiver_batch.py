"""Reading RTP in timed batches: every frame still arrives, with the kernel's arrival times."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from client_support import decode

from rtsp_client import RTSPClient
from rtsp_client.cli import ExitCode, main
from rtsp_client.options import ClientOptions
from rtsp_client.receiver import DropReason, Receiver
from rtsp_client.udp_media import MIN_BATCH_INTERVAL, enable_kernel_timestamps, kernel_arrival
from rtsp_common.jpeg import packetize
from rtsp_common.mjpeg import open_media
from rtsp_common.rtp import RTPPacket
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

FPS = 30.0
BATCH = 0.2  # seconds between batches: several frames wait in the socket each time
FRAMES = 24
SSRC = 0x0BADCAFE
PT = 26


@pytest.fixture(scope="module")
def server(lab_movie):
    with RTSPServer(
        options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1", fps=FPS)
    ) as running:
        yield running


def test_batched_reading_keeps_every_frame_and_its_arrival_time(server, lab_movie):
    delivered: list[tuple[int, float, float, bytes]] = []
    done = threading.Event()

    def on_frame(jpeg: bytes, timestamp: int, arrival: float, index: int) -> None:
        delivered.append((index, arrival, time.time(), jpeg))
        if len(delivered) >= FRAMES:
            done.set()

    url = f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg"
    options = ClientOptions(batch_interval=BATCH)
    with RTSPClient.from_url(url, options, on_frame=on_frame, queue_frames=False) as client:
        client.setup()
        client.play()
        assert done.wait(15), f"only {len(delivered)} frames"
        stats = client.stats()
    frames = delivered[:FRAMES]
    assert [index for index, *_ in frames] == list(range(FRAMES))
    with open_media(lab_movie) as media:
        for index, _, _, jpeg in frames[:: FRAMES // 4]:
            assert decode(jpeg).tobytes() == decode(media[index]).tobytes()
    assert stats.packets_lost == 0 and not stats.dropped
    waits = [handed - arrival for _, arrival, handed, _ in frames]
    # Arrival is when the kernel took the last packet in, not when the batch was read:
    # never after the hand-over, and well before it for a frame that waited for the timer.
    assert min(waits) > -0.005
    assert max(waits) > BATCH / 4
    arrivals = [arrival for _, arrival, _, _ in frames]
    assert all(b > a for a, b in zip(arrivals, arrivals[1:]))
    # Stamped at read time, a batch's frames would look bunched: jitter near the batch period.
    assert stats.jitter_ms < BATCH * 1000 / 4


def test_kernel_timestamp_is_the_datagram_arrival():
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with receiver, sender:
        receiver.bind(("127.0.0.1", 0))
        if not enable_kernel_timestamps(receiver):
            pytest.skip("no SO_TIMESTAMPNS on this system")
        # Linux switches receive timestamps on for the whole stack from deferred work: until
        # it has run (when this is the first socket to ask), datagrams are stamped when read.
        sender.sendto(b"warm-up", receiver.getsockname())
        time.sleep(0.05)
        receiver.recv(16)
        before = time.time()
        sender.sendto(b"x", receiver.getsockname())
        time.sleep(0.05)  # read late on purpose
        buffer = bytearray(16)
        _, ancillary, _, _ = receiver.recvmsg_into([buffer], socket.CMSG_SPACE(16))
        read = time.time()
    stamp = kernel_arrival(ancillary)
    assert stamp is not None
    assert before - 0.001 <= stamp <= read - 0.03


def test_no_arrival_without_its_ancillary_data():
    assert kernel_arrival([]) is None
    assert kernel_arrival([(socket.SOL_SOCKET, 12345, b"\0" * 16)]) is None


def _packets(jpegs: list[bytes]) -> list[bytes]:
    packets, seq = [], 0
    for n, jpeg in enumerate(jpegs):
        payloads = packetize(jpeg, 300)
        for i, payload in enumerate(payloads):
            marker = i == len(payloads) - 1
            packets.append(RTPPacket(PT, seq, n * 3000, SSRC, marker, payload).to_bytes())
            seq += 1
    return packets


def test_a_late_batch_gives_up_a_gap_as_the_poll_timer_would(small_jpegs):
    packets = _packets(small_jpegs[:2])
    assert len(packets) >= 4
    # Packet 1 comes 0.2 s late, after packet 2: past the reorder buffer's 0.05 s.
    order = [(0, 0.0), (2, 0.01), (1, 0.2), *((i, 0.2 + i * 0.001) for i in range(3, len(packets)))]
    results = []
    for polled in (True, False):
        receiver = Receiver(server_host="127.0.0.1", ssrc=SSRC, payload_type=PT)
        frames = []
        for i, at in order:
            if polled and at == 0.2:  # live reading: the timer fired at its deadline first
                frames += receiver.poll(receiver.deadline() or at)
            frames += receiver.rtp_received(packets[i], ("127.0.0.1", 5004), at)
        results.append(([f.jpeg for f in frames], dict(receiver.drops)))
    assert results[0] == results[1]
    frames, drops = results[1]
    assert drops.get(DropReason.LATE) == 1
    assert len(frames) == 1  # the first frame lost a fragment; the second is whole
    assert decode(frames[0]).tobytes() == decode(small_jpegs[1]).tobytes()


def test_batch_period_grows_while_batches_are_small_and_halves_when_big(server):
    url = f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg"
    options = ClientOptions(batch_interval=0.4)
    with RTSPClient.from_url(url, options, queue_frames=False) as client:
        client.setup()
        client.play()
        media = client.core.media
        assert media is not None
        deadline = time.monotonic() + 5
        while media.batching is None and time.monotonic() < deadline:
            time.sleep(0.05)
        batching = media.batching
        assert batching is not None
        while batching.seconds < 0.4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert batching.seconds == 0.4  # 0.05, 0.1, 0.2, 0.4: a 2.9 Mbit/s stream fits
        # Room for about two frames (~19 kB each in the buffer): 0.4 s batches would hold
        # twelve, so the period comes down and stays where a batch fits.
        client._loop.call(lambda: setattr(batching, "room", 40_000))
        deadline = time.monotonic() + 5
        while batching.seconds > 0.1 and time.monotonic() < deadline:
            time.sleep(0.05)
        periods = []
        for _ in range(10):
            time.sleep(0.1)
            periods.append(batching.seconds)
        assert MIN_BATCH_INTERVAL <= min(periods) and max(periods) <= 0.1, periods
        assert client.stats().packets_lost == 0


def test_unattended_cli_counts_what_arrived_after_its_last_batch(server, tmp_path, capsys):
    stats_file = tmp_path / "stats.json"
    url = f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg"
    played = time.monotonic()
    assert main([url, "--duration", "1.5", "--stats-json", str(stats_file)]) == ExitCode.OK
    elapsed = time.monotonic() - played
    stats = json.loads(stats_file.read_text())
    # Batches come up to HEADLESS_BATCH_INTERVAL apart; the TEARDOWN reads the rest, so the
    # count is what 1.5 s of a 30 fps stream brings, not up to a batch fewer.
    assert stats["packets_lost"] == 0 and stats["frames_incomplete"] == 0
    assert stats["frames_complete"] >= int(1.5 * FPS) - 3, stats["frames_complete"]
    assert stats["frames_complete"] <= int(elapsed * FPS) + 3


def test_a_copy_is_dropped_as_a_duplicate_and_a_straggler_as_late(small_jpegs):
    packets = _packets(small_jpegs[:2])
    receiver = Receiver(server_host="127.0.0.1", ssrc=SSRC, payload_type=PT)
    source = ("127.0.0.1", 5004)
    receiver.rtp_received(packets[0], source, 0.0)
    receiver.rtp_received(packets[2], source, 0.001)  # packet 1 is missing for now
    receiver.rtp_received(packets[2], source, 0.002)  # a copy of a packet held back
    receiver.rtp_received(packets[0], source, 0.003)  # a copy of one already released
    receiver.poll(0.2)  # the gap is given up
    receiver.rtp_received(packets[1], source, 0.3)  # the missing one, too late
    assert receiver.drops[DropReason.DUPLICATE] == 2
    assert receiver.drops[DropReason.LATE] == 1
    assert receiver.stats.duplicates == 2
