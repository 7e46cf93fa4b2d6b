"""The send path: GSO and scatter/gather put exactly header+payload datagrams on the wire."""

from __future__ import annotations

import socket

import pytest
from server_harness import drain

from rtsp_common.rtp import RTPPacket
from rtsp_common.rtsp import InterleavedFrame, MessageParser
from rtsp_server.rtp_sender import UDPSender, interleaved_frame
from rtsp_server.stream import RTPStream


def frame_packets(sizes: list[int]) -> tuple[list[bytes], list[bytes]]:
    payloads = [bytes([i % 251]) * size for i, size in enumerate(sizes)]
    headers = RTPStream.create(30, 10).frame_headers(payloads)
    return headers, payloads


@pytest.fixture
def pair():
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    yield sender, receiver
    sender.close()
    receiver.close()


@pytest.mark.parametrize("use_gso", [True, False])
@pytest.mark.parametrize(
    "sizes",
    [[1000] * 5 + [123], [1000], [1000, 1000], [500, 900, 900]],  # the last: unequal first packet
)
def test_datagrams_are_header_plus_payload(pair, use_gso, sizes):
    sender_sock, receiver = pair
    sender = UDPSender(sender_sock, use_gso=use_gso)
    headers, payloads = frame_packets(sizes)
    assert sender.send_frame(receiver.getsockname(), headers, payloads) == len(sizes)
    received = drain(receiver, quiet=0.2)
    assert received == [h + p for h, p in zip(headers, payloads)]
    assert [RTPPacket.parse(d).marker for d in received] == [False] * (len(sizes) - 1) + [True]


def test_gso_sends_a_frame_in_one_syscall(pair):
    sender_sock, receiver = pair
    sender = UDPSender(sender_sock, use_gso=True)
    headers, payloads = frame_packets([1300] * 11 + [400])
    sender.send_frame(receiver.getsockname(), headers, payloads)
    assert len(drain(receiver, quiet=0.2)) == 12
    if not sender.use_gso:
        pytest.skip("kernel without UDP GSO: one syscall per packet is the fallback")
    assert sender.syscalls == 1


def test_interleaved_frame_bytes_parse_back():
    headers, payloads = frame_packets([700, 700, 5])
    items = MessageParser().feed(interleaved_frame(2, headers, payloads))
    assert items == [InterleavedFrame(2, h + p) for h, p in zip(headers, payloads)]
