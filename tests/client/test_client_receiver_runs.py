"""In-order runs accounted at once give what the packet-by-packet path gives: the same
RFC 3550 figures, the same frames byte for byte, the same drop reasons."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from media_samples import gradient_jpeg
from stats_figures import figures

from rtsp_client.receiver import DropReason, Frame, Receiver
from rtsp_client.stats import DUPLICATE_WINDOW, SEQ_MOD, StatsAccumulator
from rtsp_common.jpeg import packetize
from rtsp_common.rtp import RTPPacket

SERVER = ("127.0.0.1", 5004)
SSRC = 0x5EED
PT = 26
SPACING = 0.01  # seconds between arrivals: five of them outlast the reorder buffer's wait
END = 60.0  # when what still waits in the reorder buffer is given up


def _packets() -> tuple[list[bytes], list[int]]:
    """Five frames' datagrams (sequence numbers wrapping), and the frame of each."""
    packets, frame_of, seq = [], [], SEQ_MOD - 7
    for n, jpeg in enumerate(gradient_jpeg(seed=i) for i in range(5)):
        payloads = packetize(jpeg, 300)
        for i, payload in enumerate(payloads):
            marker = i == len(payloads) - 1
            packets.append(RTPPacket(PT, seq % SEQ_MOD, n * 3000, SSRC, marker, payload).to_bytes())
            frame_of.append(n)
            seq += 1
    return packets, frame_of


def _receiver() -> Receiver:
    return Receiver(server_host=SERVER[0], ssrc=SSRC, payload_type=PT)


def _packet_by_packet(datagrams) -> tuple[Receiver, list[Frame]]:
    """The general path alone, one datagram at a time: the receive path before runs."""
    receiver, frames = _receiver(), []
    for data, sender, arrival in datagrams:
        receiver._rtp(data, sender, arrival, frames)
    receiver._count_depacketizer_outcomes()
    return receiver, frames + receiver.poll(END)


def _outcome(receiver: Receiver, frames: list[Frame]) -> tuple:
    figures = receiver.snapshot(now=100.0).to_dict()
    return [(f.data, f.timestamp, f.arrival, f.index) for f in frames], figures


def test_loss_reordering_copies_and_a_straggler_in_one_batch():
    packets, frame_of = _packets()
    count = len(packets)
    lost = frame_of.index(3) + 1  # never arrives
    copied = 2  # arrives twice in a row
    swapped = frame_of.index(2) + 1  # comes after the packet that follows it
    straggler = frame_of.index(1) + 1  # comes after its gap was given up
    order = [i for i in range(count) if i not in (lost, straggler)]
    order.insert(order.index(copied), copied)
    at = order.index(swapped)
    order[at], order[at + 1] = order[at + 1], order[at]
    order.insert(order.index(straggler + 6), straggler)
    datagrams = [(packets[i], SERVER, 1.0 + n * SPACING) for n, i in enumerate(order)]

    receiver = _receiver()
    frames = receiver.rtp_batch(datagrams, now=50.0) + receiver.poll(END)
    stats = receiver.snapshot(now=100.0)
    # RFC 3550 A.1/A.3: every datagram but the refused one counts as received; the copy
    # is a duplicate, the swapped packet and the straggler are reordered.
    assert (stats.packets_expected, stats.packets_received) == (count, count)
    assert (stats.packets_lost, stats.duplicates, stats.reordered) == (0, 1, 2)
    assert stats.dropped == {DropReason.DUPLICATE: 1, DropReason.LATE: 1}
    # The frames with the lost packet and the straggler are given up; the rest arrive.
    assert [f.timestamp for f in frames] == [0, 2 * 3000, 4 * 3000]
    assert stats.frames_incomplete == 1  # the last open one (frame 3) waits for a newer frame
    assert _outcome(receiver, frames) == _outcome(*_packet_by_packet(datagrams))


@settings(max_examples=60, deadline=None)
@given(
    seed_order=st.lists(st.integers(-3, 3), min_size=1, max_size=60),
    batch=st.integers(1, 64),
)
def test_runs_in_batches_match_the_packet_by_packet_path(seed_order, batch):
    packets, _ = _packets()
    # Each step moves a packet a little: reordering, copies (0) and losses (big moves
    # past the end are dropped).
    order = list(range(len(packets)))
    for n, step in enumerate(seed_order):
        i = n % len(order)
        if step == 0:
            order.insert(i, order[i])
        elif 0 <= i + step < len(order):
            order.insert(i + step, order.pop(i))
        else:
            order.pop(i)
    datagrams = [(packets[i], SERVER, 1.0 + n * SPACING) for n, i in enumerate(order)]
    receiver, frames = _receiver(), []
    for start in range(0, len(datagrams), batch):
        frames += receiver.rtp_batch(datagrams[start : start + batch], now=50.0)
    frames += receiver.poll(END)
    assert _outcome(receiver, frames) == _outcome(*_packet_by_packet(datagrams))


def _size(step: int) -> int:
    return 100 + step % 7  # payload octets vary, so each frame's share is told apart


@settings(max_examples=100, deadline=None)
@given(
    start=st.integers(0, SEQ_MOD - 1),
    runs=st.lists(st.integers(1, DUPLICATE_WINDOW + 40), min_size=1, max_size=4),
    copy_back=st.integers(1, DUPLICATE_WINDOW + 40),
    frame_every=st.integers(1, 50),
)
def test_a_run_accounted_at_once_equals_its_packets_one_by_one(start, runs, copy_back, frame_every):
    at_once, one_by_one = StatsAccumulator(), StatsAccumulator()

    def ends_frame(step: int) -> bool:
        return step % frame_every == frame_every - 1

    def general(seq: int, timestamp: int, arrival: float, size: int, frame: bool) -> bool:
        """RFC 3550 A.1's general path for one packet, with no shortcut; ``frame``: the
        packet ends a frame."""
        if one_by_one._first_arrival is None:
            one_by_one._first_arrival = arrival
        one_by_one._last_arrival = arrival
        counted = one_by_one._account(seq, timestamp, arrival, size)
        if frame:
            one_by_one.frame_complete(arrival)
        return counted

    seq, step = start, 0
    for run in runs:
        steps = list(range(step, step + run))
        timestamps = [s * 300 % (1 << 32) for s in steps]
        arrivals = [s / 100 + (s % 3) * 1e-4 for s in steps]
        first = at_once.next_in_order()
        if first is None:  # a new source: its first packet starts it (A.1 init_seq)
            at_once.packet(seq, timestamps[0], arrivals[0], _size(step))
            if ends_frame(step):
                at_once.frame_complete(arrivals[0])
            assert general(seq, timestamps[0], arrivals[0], _size(step), ends_frame(step))
            steps, timestamps, arrivals = steps[1:], timestamps[1:], arrivals[1:]
            seq, step, run = (seq + 1) % SEQ_MOD, step + 1, run - 1
        else:
            assert first == seq
        # The frames the run completed: (packets up to and with its last, its arrival).
        frames = [(n + 1, arrivals[n]) for n, s in enumerate(steps) if ends_frame(s)]
        at_once.in_order_run(timestamps, arrivals, [_size(s) for s in steps], frames)
        for s, timestamp, arrival in zip(steps, timestamps, arrivals):
            assert general(seq, timestamp, arrival, _size(s), ends_frame(s))
            seq = (seq + 1) % SEQ_MOD
        step += run
    # A copy of an earlier packet: a duplicate while it is within the window remembered.
    copy = (seq - min(copy_back, sum(runs))) % SEQ_MOD
    assert at_once.packet(copy, 0, 99.0, 100) == general(copy, 0, 99.0, 100, False)
    # Each frame's octets, for the bit rate (before the snapshots, which trim the window).
    assert at_once._window == one_by_one._window
    assert figures(at_once) == figures(one_by_one)
