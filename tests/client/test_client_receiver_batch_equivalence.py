"""A batch of datagrams handed over at once gives what the same datagrams give one by one:
the same frames, byte for byte, the same statistics and the same drop counts."""

from __future__ import annotations

import random

from client_support import decode, make_jpeg
from hypothesis import given, settings
from hypothesis import strategies as st

from rtsp_client.receiver import Receiver
from rtsp_common.jpeg import packetize
from rtsp_common.rtp import RTPPacket

SERVER = ("127.0.0.1", 5004)
SSRC = 0x51A7E
PT = 26
FRAMES = 8
MAX_PAYLOAD = 300  # small packets: several fragments per frame


def _jpeg(index: int) -> bytes:
    return make_jpeg(64 + 8 * (index % 3), 48, quality=60 + index)


def _datagrams() -> list[tuple[bytes, tuple, float]]:
    """A clip's packets in order, each with its arrival time."""
    out, seq = [], 65530  # the sequence numbers wrap within the clip
    for index in range(FRAMES):
        payloads = packetize(_jpeg(index), MAX_PAYLOAD)
        for n, payload in enumerate(payloads):
            marker = n == len(payloads) - 1
            packet = RTPPacket(PT, seq % 65536, index * 3000, SSRC, marker, payload)
            out.append((packet.to_bytes(), SERVER, 1.0 + index / 30 + n * 1e-4))
            seq += 1
    return out


def _mangle(datagrams, seed: int):
    """Loss, duplicates, reordering, a foreign sender, a broken header and a broken payload."""
    rng = random.Random(seed)
    out = []
    for data, sender, arrival in datagrams:
        roll = rng.random()
        if roll < 0.05:
            continue  # lost
        if roll < 0.08:
            out.append((data, sender, arrival))  # duplicated
        elif roll < 0.10:
            out.append((data, ("10.9.9.9", 5004), arrival))  # someone else's
        elif roll < 0.12:
            out.append((data[:7], sender, arrival))  # a header cut short
        elif roll < 0.14:
            out.append((data[:12] + b"\x00\x01", sender, arrival))  # an RFC 2435 header cut short
        out.append((data, sender, arrival))
    for _ in range(len(out) // 10):  # neighbours swapped: reordering
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


def _receiver() -> Receiver:
    return Receiver(server_host=SERVER[0], ssrc=SSRC, payload_type=PT)


def _outcome(receiver: Receiver, frames) -> tuple:
    stats = receiver.snapshot(now=10.0).to_dict()
    return ([(f.data, f.timestamp, f.arrival, f.index) for f in frames], stats)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), batch=st.integers(1, 40))
def test_batches_give_what_single_packets_give(seed, batch):
    datagrams = _mangle(_datagrams(), seed)
    one_by_one, batched = _receiver(), _receiver()
    frames_one = [f for d in datagrams for f in one_by_one.rtp_received(*d)]
    frames_batched = []
    for start in range(0, len(datagrams), batch):
        frames_batched += batched.rtp_batch(datagrams[start : start + batch], now=0.0)
    frames_one += one_by_one.poll(10.0)
    frames_batched += batched.poll(10.0)
    assert _outcome(batched, frames_batched) == _outcome(one_by_one, frames_one)


def test_a_clean_stream_in_one_batch_gives_every_frame_whole():
    datagrams = _datagrams()
    receiver = _receiver()
    frames = receiver.rtp_batch(datagrams, now=0.0)
    assert [f.index for f in frames] == list(range(FRAMES))
    # Rebuilt with our headers, each decodes to the picture that was sent.
    assert [decode(f.data).tobytes() for f in frames] == [
        decode(_jpeg(i)).tobytes() for i in range(FRAMES)
    ]
    snapshot = receiver.snapshot()
    assert (snapshot.packets_received, snapshot.packets_lost) == (len(datagrams), 0)
    assert snapshot.dropped == {}


def test_an_unstamped_datagram_arrives_at_the_time_the_batch_was_read():
    (first, second, *_) = _datagrams()
    receiver = _receiver()
    receiver.rtp_batch([(first[0], SERVER, None), (second[0], SERVER, 5.0)], now=4.0)
    assert receiver.stats._first_arrival == 4.0
    assert receiver.stats._last_arrival == 5.0
