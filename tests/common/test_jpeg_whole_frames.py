"""Frames taken whole from a run of packets (``push_run``) are what ``push`` gives packet by
packet: the same JPEG files, completed by the same packets, and the same counts, whatever
the packets (lost, copied, swapped, cut short, with tables in band or not)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jpeg_samples import payloads_with_q
from media_samples import gradient_jpeg

from rtsp_common.jpeg import packetize, parse_jpeg
from rtsp_common.payload_formats import JPEGFrames

TICK = 3000  # 90 kHz at 30 fps


def _tables(jpeg: bytes) -> bytes:
    return b"".join(parse_jpeg(jpeg).qtables[:2])


# Each kind of frame: how its payloads are written.
FRAME_KINDS = {
    "q255": lambda jpeg: packetize(jpeg, 200),  # in-band tables in every frame
    "q200 tables": lambda jpeg: payloads_with_q(jpeg, 200, _tables(jpeg), 180),
    "q200 cached": lambda jpeg: payloads_with_q(jpeg, 200, None, 180),
    "q50": lambda jpeg: payloads_with_q(jpeg, 50, None, 150),
    "one packet": lambda jpeg: packetize(jpeg, 4000),
}
JPEGS = [gradient_jpeg(seed=seed) for seed in range(3)] + [gradient_jpeg(48, 32, seed=7)]


def _stream(kinds: list[tuple[str, int]]) -> list[tuple[bytes, int, bool]]:
    """(payload, RTP timestamp, marker) of the frames named, one timestamp each."""
    packets = []
    for n, (kind, picture) in enumerate(kinds):
        payloads = FRAME_KINDS[kind](JPEGS[picture])
        for i, payload in enumerate(payloads):
            packets.append((payload, n * TICK, i == len(payloads) - 1))
    return packets


def _damage(packets: list, edits: list[tuple[int, int]]) -> list:
    """Packets lost, copied, swapped, cut to their main header, or given a foreign
    timestamp: each edit (what, where)."""
    packets = list(packets)
    for what, where in edits:
        if not packets:
            break
        i = where % len(packets)
        payload, timestamp, marker = packets[i]
        if what == 0:
            del packets[i]
        elif what == 1:
            packets.insert(i, packets[i])
        elif what == 2 and i + 1 < len(packets):
            packets[i], packets[i + 1] = packets[i + 1], packets[i]
        elif what == 3:
            packets[i] = (payload[:8], timestamp, marker)
        elif what == 4:
            packets[i] = (payload, timestamp + TICK // 2, marker)
        elif what == 5:
            packets[i] = (payload, timestamp, not marker)
        elif what == 6:
            packets[i] = (b"\xff\xd8" + payload[2:], timestamp, marker)  # looks like an SOI
    return packets


def _counts(frames: JPEGFrames) -> tuple:
    inner = frames._depacketizer
    return (
        frames.frames_complete,
        frames.frames_dropped,
        frames.packets_malformed,
        inner.packets_late,
        inner.pending,
    )


def _one_by_one(packets) -> tuple[list, tuple]:
    frames, completed = JPEGFrames(1 << 20), []
    for i, (payload, timestamp, marker) in enumerate(packets):
        completed += [(i, ts, jpeg) for ts, jpeg in frames.push(payload, timestamp, marker)]
    return completed, _counts(frames)


def _in_runs(packets, run: int, max_frame_bytes: int = 1 << 20) -> tuple[list, tuple]:
    frames, completed = JPEGFrames(max_frame_bytes), []
    for start in range(0, len(packets), run):
        chunk = packets[start : start + run]
        payloads = [memoryview(payload) for payload, _, _ in chunk]
        done = frames.push_run(payloads, [t for _, t, _ in chunk], [m for _, _, m in chunk], 0)
        completed += [(start + i, ts, bytes(jpeg)) for i, ts, jpeg in done]
    return completed, _counts(frames)


def test_a_run_of_whole_frames_gives_each_frame_at_its_marker_packet():
    packets = _stream([("q255", 0), ("q255", 1), ("q255", 2)])
    completed, counts = _in_runs(packets, len(packets))
    markers = [i for i, (_, _, marker) in enumerate(packets) if marker]
    assert [i for i, _, _ in completed] == markers
    assert [ts for _, ts, _ in completed] == [0, TICK, 2 * TICK]
    assert (completed, counts) == _one_by_one(packets)
    assert counts == (3, 0, 0, 0, 0)


def test_frames_after_the_first_skip_the_packet_by_packet_path():
    # The first frame's headers are read packet by packet; the next frames repeat them,
    # so each is taken whole in one step.
    packets = _stream([("q255", 0), ("q255", 1), ("q255", 2)])
    frames, pushed = JPEGFrames(1 << 20), []
    push = frames.push
    frames.push = lambda payload, *args: pushed.append(payload) or push(payload, *args)
    done = frames.push_run(
        [p for p, _, _ in packets], [t for _, t, _ in packets], [m for _, _, m in packets], 0
    )
    assert len(done) == 3
    assert len(pushed) == [t for _, t, _ in packets].count(0)


def test_a_frame_over_the_size_limit_is_dropped_as_push_drops_it():
    packets = _stream([("q255", 0), ("q255", 1)])
    completed, counts = _in_runs(packets, len(packets), max_frame_bytes=100)
    assert completed == [] and counts[1] == 2


@pytest.mark.parametrize("kind", sorted(FRAME_KINDS))
def test_every_kind_of_frame_matches_push(kind):
    packets = _stream([(kind, 0), (kind, 1), (kind, 0), (kind, 3)])
    assert _in_runs(packets, 1000) == _one_by_one(packets)


@settings(max_examples=150, deadline=None)
@given(
    kinds=st.lists(
        st.tuples(st.sampled_from(sorted(FRAME_KINDS)), st.integers(0, len(JPEGS) - 1)),
        min_size=1,
        max_size=8,
    ),
    edits=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 10_000)), max_size=6),
    run=st.integers(1, 80),
)
def test_runs_match_packet_by_packet_whatever_arrives(kinds, edits, run):
    packets = _damage(_stream(kinds), edits)
    assert _in_runs(packets, run) == _one_by_one(packets)


def test_a_first_fragment_without_scan_data_then_the_real_one_drops_the_frame():
    # Two fragments at offset 0 (the first empty) conflict: push drops the frame, and so
    # must the run, though the offsets run on without a gap.
    packets = _stream([("q50", 0), ("q50", 1)])
    second = next(i for i, (payload, ts, _) in enumerate(packets) if ts == TICK)
    payload, timestamp, marker = packets[second]
    packets.insert(second, (payload[:8], timestamp, False))
    completed, counts = _in_runs(packets, len(packets))
    assert [ts for _, ts, _ in completed] == [0]
    assert (completed, counts) == _one_by_one(packets)
