"""Reading several datagrams per system call (recvmmsg), and the one-at-a-time fallback."""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time

import pytest

from rtsp_client import RTSPClient, mmsg
from rtsp_client.mmsg import SO_TIMESTAMPNS, BatchReader
from rtsp_client.udp_media import ANCILLARY_SPACE, MAX_DATAGRAM
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

pytestmark = pytest.mark.skipif(
    mmsg._recvmmsg is None, reason="recvmmsg is Linux-only; elsewhere the fallback is used"
)
COUNT = 4


@pytest.fixture
def pair():
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    yield receiver, sender
    receiver.close()
    sender.close()


def _reader(sock: socket.socket) -> BatchReader:
    reader = BatchReader.create(sock, COUNT, MAX_DATAGRAM, ANCILLARY_SPACE)
    assert reader is not None
    return reader


def _read_all(reader: BatchReader, expected: int) -> list[tuple[bytes, tuple | None, float | None]]:
    got: list[tuple[bytes, tuple | None, float | None]] = []
    deadline = time.monotonic() + 5
    while len(got) < expected and time.monotonic() < deadline:
        batch = reader.read()
        assert len(batch) <= COUNT
        got += batch
        if not batch:
            time.sleep(0.01)
    return got


def test_datagrams_come_in_order_with_sender_and_kernel_time(pair):
    receiver, sender = pair
    receiver.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    reader = _reader(receiver)
    assert reader.read() == []  # nothing waiting: an empty batch, never a block
    before = time.time()
    payloads = [bytes([i]) * (100 + i) for i in range(COUNT * 2 + 1)]
    for payload in payloads:
        sender.sendto(payload, receiver.getsockname())
    got = _read_all(reader, len(payloads))
    after = time.time()
    assert [data for data, _, _ in got] == payloads
    assert {addr for _, addr, _ in got} == {sender.getsockname()}
    stamps = [stamp for _, _, stamp in got]
    assert all(stamp is not None and before - 1 <= stamp <= after + 1 for stamp in stamps)
    assert stamps == sorted(stamps)
    assert reader.read() == []


def test_each_datagram_keeps_its_own_sender_when_several_share_a_batch(pair):
    receiver, first = pair
    reader = _reader(receiver)
    others = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        for other in others:
            other.bind(("127.0.0.1", 0))
        senders = [first, *others]
        order = [0, 0, 1, 2, 1, 0, 2, 2]  # one batch: a stream's server and two strangers
        for i, which in enumerate(order):
            senders[which].sendto(bytes([i]), receiver.getsockname())
        got = _read_all(reader, len(order))
        assert [(data, addr) for data, addr, _ in got] == [
            (bytes([i]), senders[which].getsockname()) for i, which in enumerate(order)
        ]
        first.sendto(b"alone", receiver.getsockname())  # one sender again: decoded once
        assert [(d, a) for d, a, _ in _read_all(reader, 1)] == [(b"alone", first.getsockname())]
    finally:
        for other in others:
            other.close()


def test_without_the_timestamp_option_the_time_is_none(pair):
    receiver, sender = pair
    reader = _reader(receiver)
    sender.sendto(b"abc", receiver.getsockname())
    assert _read_all(reader, 1) == [(b"abc", sender.getsockname(), None)]


def test_an_ipv6_sender_reads_as_recvfrom_gives_it():
    try:
        receiver = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        receiver.bind(("::1", 0))
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with receiver, socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sender:
        receiver.setblocking(False)
        sender.bind(("::1", 0))
        reader = _reader(receiver)
        sender.sendto(b"six", receiver.getsockname())
        sender.sendto(b"six", receiver.getsockname())
        got = _read_all(reader, 2)
        receiver.setblocking(True)
        sender.sendto(b"six", receiver.getsockname())
        _, expected = receiver.recvfrom(16)
        assert got == [(b"six", expected, None)] * 2


def test_a_large_datagram_is_not_truncated(pair):
    receiver, sender = pair
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    reader = _reader(receiver)
    big = bytes(range(256)) * 250  # 64000 bytes, like a whole-JPEG datagram
    sender.sendto(big, receiver.getsockname())
    sender.sendto(b"x", receiver.getsockname())
    got = _read_all(reader, 2)
    assert [data for data, _, _ in got] == [big, b"x"]


def test_a_closed_socket_is_an_os_error(pair):
    receiver, _ = pair
    reader = _reader(receiver)
    receiver.close()
    with pytest.raises(OSError):
        reader.read()


def test_no_recvmmsg_means_no_reader(monkeypatch, pair):
    monkeypatch.setattr(mmsg, "_recvmmsg", None)
    assert BatchReader.create(pair[0], COUNT, MAX_DATAGRAM, ANCILLARY_SPACE) is None
    with pytest.raises(OSError):
        BatchReader(pair[0], COUNT, MAX_DATAGRAM, ANCILLARY_SPACE)


def test_sender_addresses_decode_like_the_socket_module():
    ipv4 = struct.pack("@H", socket.AF_INET) + struct.pack("!H4s8x", 5004, bytes([10, 0, 0, 7]))
    assert mmsg._decode_sockaddr(ipv4) == ("10.0.0.7", 5004)
    address = socket.inet_pton(socket.AF_INET6, "fe80::1")
    ipv6 = (
        struct.pack("@H", socket.AF_INET6)
        + struct.pack("!HI16s", 5006, 0x12345, address)
        + struct.pack("@I", 3)
    )
    assert mmsg._decode_sockaddr(ipv6) == ("fe80::1", 5006, 0x12345, 3)
    assert mmsg._decode_sockaddr(struct.pack("@H", 0xFFFF) + bytes(14)) is None
    assert mmsg._decode_sockaddr(b"") is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kernel timestamps: Linux")
@pytest.mark.parametrize("batched", [True, False], ids=["recvmmsg", "one-per-call"])
def test_the_client_receives_every_frame_either_way(monkeypatch, lab_movie, batched):
    if not batched:
        monkeypatch.setattr(mmsg, "_recvmmsg", None)
    frames: list[tuple[int, float]] = []
    done = threading.Event()

    def on_frame(jpeg: bytes, timestamp: int, arrival: float, index: int) -> None:
        frames.append((index, arrival))
        if len(frames) >= 10:
            done.set()

    with RTSPServer(
        options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1", fps=30.0)
    ) as server:
        url = f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg"
        with RTSPClient.from_url(url, on_frame=on_frame, queue_frames=False) as client:
            client.setup()
            assert client.core.media is not None
            assert isinstance(client.core.media.reader, BatchReader) is batched
            client.play()
            assert done.wait(15), f"only {len(frames)} frames"
            stats = client.stats()
    assert [index for index, _ in frames[:10]] == list(range(10))
    assert stats.packets_lost == 0 and not stats.dropped
    arrivals = [arrival for _, arrival in frames[:10]]
    assert all(b > a for a, b in zip(arrivals, arrivals[1:]))
