"""One sendmmsg per tick: the frames queued in a tick arrive as exactly the datagrams that
one sendmsg per packet puts on the wire, in order, to every destination."""

from __future__ import annotations

import asyncio
import socket
import weakref

import pytest
from server_harness import drain

from rtsp_server import datagram_batch
from rtsp_server.datagram_batch import DatagramBatch
from rtsp_server.rtp_sender import UDPSender
from rtsp_server.scheduler import Scheduler
from rtsp_server.stream import RTPStream

pytestmark = pytest.mark.skipif(
    DatagramBatch.create(socket.AF_INET) is None, reason="no sendmmsg on this system"
)


def frames(count: int, sizes: list[int]) -> tuple[RTPStream, list[list[bytes]]]:
    """``count`` frames of payloads of ``sizes``, each frame's bytes different."""
    payloads = [
        [bytes([(f * 7 + i) % 251]) * size for i, size in enumerate(sizes)] for f in range(count)
    ]
    return RTPStream.create(30, count), payloads


def udp_socket(family: int = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
    return sock


@pytest.fixture
def sockets():
    opened: list[socket.socket] = []

    def make(family: int = socket.AF_INET) -> socket.socket:
        opened.append(udp_socket(family))
        return opened[-1]

    yield make
    for sock in opened:
        sock.close()


def test_a_tick_of_frames_to_many_destinations_is_one_call(sockets):
    sender = UDPSender(sockets(), use_gso=False)
    receivers = [sockets() for _ in range(3)]
    expected: dict[int, list[bytes]] = {i: [] for i in range(3)}
    streams = [frames(2, [1000, 1000, 37]) for _ in receivers]
    for f in range(2):  # frames of three sessions interleave, as sessions due in one tick do
        for i, (receiver, (stream, payloads)) in enumerate(zip(receivers, streams)):
            headers = stream.frame_headers(payloads[f])
            sender.queue_frame(receiver.getsockname(), headers, payloads[f])
            expected[i] += [h + p for h, p in zip(headers, payloads[f])]
    assert sender.batches and drain(receivers[0], quiet=0.05) == []  # nothing before the flush
    assert sender.flush() == 18
    assert sender.syscalls == 1
    for i, receiver in enumerate(receivers):
        assert drain(receiver, quiet=0.2) == expected[i]
    assert sender.flush() == 0 and sender.syscalls == 1  # an empty tick sends nothing


def test_ipv6_destinations(sockets):
    try:
        receiver = sockets(socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    sender = UDPSender(sockets(socket.AF_INET6), use_gso=False)
    stream, payloads = frames(1, [300, 20])
    headers = stream.frame_headers(payloads[0])
    sender.queue_frame(receiver.getsockname(), headers, payloads[0])
    assert sender.flush() == 2
    assert drain(receiver, quiet=0.2) == [h + p for h, p in zip(headers, payloads[0])]


def test_a_full_batch_is_sent_before_the_frame_that_would_overflow_it(sockets):
    receiver = sockets()
    sender_sock = sockets()
    batch = DatagramBatch(socket.AF_INET, capacity=5)
    stream, payloads = frames(3, [100, 100, 100])
    headers = [stream.frame_headers(p) for p in payloads]
    assert batch.add(receiver.getsockname(), headers[0], payloads[0])
    assert not batch.add(receiver.getsockname(), headers[1], payloads[1])  # 6 > 5
    assert len(batch) == 3
    assert batch.send(sender_sock.fileno()).sent == 3 and len(batch) == 0
    # through the sender: it flushes and queues again, nothing is lost or reordered
    sender = UDPSender(sender_sock, use_gso=False)
    sender._batch = DatagramBatch(socket.AF_INET, capacity=5)
    for h, p in zip(headers[1:], payloads[1:]):
        sender.queue_frame(receiver.getsockname(), h, p)
    sender.flush()
    received = drain(receiver, quiet=0.2)
    assert received == [h + p for hs, ps in zip(headers, payloads) for h, p in zip(hs, ps)]
    assert sender.syscalls == 2


def test_what_a_batch_cannot_carry_is_sent_at_once(sockets):
    receiver = sockets()
    sender = UDPSender(sockets(), use_gso=False)
    stream, payloads = frames(2, [50, 60])
    by_name = ("localhost", receiver.getsockname()[1])  # not numeric: the kernel needs no name
    headers = stream.frame_headers(payloads[0])
    sender.queue_frame(by_name, headers, payloads[0])
    assert drain(receiver, quiet=0.2) == [h + p for h, p in zip(headers, payloads[0])]
    views = [memoryview(p) for p in payloads[1]]  # only bytes are known not to move
    headers = stream.frame_headers(payloads[1])
    sender.queue_frame(receiver.getsockname(), headers, views)
    assert drain(receiver, quiet=0.2) == [h + p for h, p in zip(headers, payloads[1])]
    assert sender.flush() == 0


def test_a_refused_destination_costs_only_its_own_datagrams(sockets):
    good = sockets()
    sender = UDPSender(sockets(), use_gso=False)
    stream, payloads = frames(3, [80, 90])
    headers = [stream.frame_headers(p) for p in payloads]
    sender.queue_frame(good.getsockname(), headers[0], payloads[0])
    sender.queue_frame(("127.0.0.1", 0), headers[1], payloads[1])  # port 0: EINVAL
    sender.queue_frame(good.getsockname(), headers[2], payloads[2])
    assert sender.flush() == 4
    expected = [h + p for i in (0, 2) for h, p in zip(headers[i], payloads[i])]
    assert drain(good, quiet=0.2) == expected


def test_frames_without_sendmmsg_batching_go_out_at_once(sockets):
    receiver = sockets()
    sender = UDPSender(sockets(), use_gso=False, batch=False)
    stream, payloads = frames(1, [10, 20, 30])
    headers = stream.frame_headers(payloads[0])
    sender.queue_frame(receiver.getsockname(), headers, payloads[0])
    assert not sender.batches and sender.syscalls == 3
    assert drain(receiver, quiet=0.2) == [h + p for h, p in zip(headers, payloads[0])]


def test_the_scheduler_flushes_once_per_tick_after_every_due_send():
    loop = asyncio.new_event_loop()
    events: list[str] = []

    def send(key, deadline):
        events.append(f"send {key}")
        if key == "broken":
            raise RuntimeError("one session's failure")
        return True

    try:
        scheduler = Scheduler(loop, send, precise=False, flush=lambda: events.append("flush"))
        now = loop.time()
        for key in ("a", "broken", "b"):
            scheduler.add(key, fps=10, start=now)
        scheduler._tick()
    finally:
        loop.close()
    assert events == ["send a", "send broken", "send b", "flush"]


class _Payloads(list):
    """A payload list that can be watched with a weak reference (a plain list cannot)."""


def test_payloads_of_replaced_clips_are_let_go_past_the_byte_budget(sockets, monkeypatch):
    monkeypatch.setattr(datagram_batch, "TEMPLATE_BYTES_LIMIT", 1500)
    receiver, sender_sock = sockets(), sockets()
    batch = DatagramBatch(socket.AF_INET)
    stream = RTPStream.create(30, 10)
    watched = []
    for size in (1000, 1000):  # the second list takes the kept payloads past 1500 bytes
        payloads = _Payloads([bytes(size)])
        watched.append(weakref.ref(payloads))
        assert batch.add(receiver.getsockname(), stream.frame_headers(payloads), payloads)
        del payloads
        assert batch.send(sender_sock.fileno()).sent == 1
    assert [ref() for ref in watched] == [None, None]  # nothing but the batch held them
    assert len(drain(receiver, quiet=0.2)) == 2
