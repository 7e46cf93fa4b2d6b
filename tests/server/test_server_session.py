"""Session ids, the RFC 2326 A.2 state table, the registry, and per-session RTP numbering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtsp_common.rtp import RTPPacket
from rtsp_server.session import (
    SESSION_ID_DIGITS,
    TRANSITIONS,
    InvalidTransition,
    SessionLimitReached,
    SessionRegistry,
    SessionState,
    new_session_id,
    next_state,
)
from rtsp_server.stream import RTP_CLOCK_RATE, RTPStream


def test_session_ids_are_long_random_digits():
    ids = {new_session_id() for _ in range(500)}
    assert len(ids) == 500
    for session_id in ids:
        assert session_id.isdigit() and len(session_id) == SESSION_ID_DIGITS >= 16
        assert int(session_id) >= 10 ** (SESSION_ID_DIGITS - 1)  # int() keeps every digit


@pytest.mark.parametrize(
    ("state", "method", "after"),
    [
        (SessionState.READY, "PLAY", SessionState.PLAYING),
        (SessionState.PLAYING, "PAUSE", SessionState.READY),
        (SessionState.PLAYING, "PLAY", SessionState.PLAYING),
        (SessionState.READY, "TEARDOWN", SessionState.INIT),
        (SessionState.PLAYING, "TEARDOWN", SessionState.INIT),
        (SessionState.INIT, "SETUP", SessionState.READY),
    ],
)
def test_allowed_transitions(state, method, after):
    assert next_state(state, method) is after


@pytest.mark.parametrize(
    ("state", "method"),
    [
        (SessionState.READY, "PAUSE"),
        (SessionState.PLAYING, "SETUP"),
        (SessionState.INIT, "PLAY"),
        (SessionState.INIT, "PAUSE"),
    ],
)
def test_invalid_transitions_raise(state, method):
    with pytest.raises(InvalidTransition, match=method):
        next_state(state, method)


def test_table_covers_only_known_states_and_methods():
    methods = {m for _, m in TRANSITIONS}
    assert methods == {"SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER"}


def test_registry_limit():
    registry = SessionRegistry(0)
    with pytest.raises(SessionLimitReached):
        registry.new_id("127.0.0.1")


def test_stream_starts_random_and_steps_90khz_per_frame():
    streams = [RTPStream.create(30, 100) for _ in range(20)]
    assert len({s.ssrc for s in streams}) == 20
    assert len({s.next_seq for s in streams}) > 1
    assert len({s.ts_base for s in streams}) > 1
    stream = streams[0]
    first = RTPPacket.parse(stream.frame_headers([b"a", b"b"])[0] + b"a")
    second = RTPPacket.parse(stream.frame_headers([b"c"])[0] + b"c")
    assert (second.timestamp - first.timestamp) % (1 << 32) == RTP_CLOCK_RATE // 30
    assert second.sequence == (first.sequence + 2) % 65536
    assert (stream.packet_count, stream.octet_count) == (3, 3)


def test_marker_on_last_fragment_only_and_shared_timestamp():
    stream = RTPStream.create(25, 10)
    packets = [RTPPacket.parse(h + b"p") for h in stream.frame_headers([b"p"] * 4)]
    assert [p.marker for p in packets] == [False, False, False, True]
    assert len({p.timestamp for p in packets}) == 1
    assert all(p.payload_type == 26 for p in packets)


def test_lab_stream_numbers_frames_from_one():
    stream = RTPStream.create(20, 10, lab_dialect=True)
    seqs = [RTPPacket.parse(stream.frame_headers([b"j"])[0] + b"j").sequence for _ in range(3)]
    assert seqs == [1, 2, 3]


def test_loop_wraps_position_and_keeps_time_running():
    stream = RTPStream.create(10, 3, loop=True)
    stamps = [RTPPacket.parse(stream.frame_headers([b"x"])[0] + b"x").timestamp for _ in range(5)]
    steps = {(b - a) % (1 << 32) for a, b in zip(stamps, stamps[1:])}
    assert steps == {9000}
    assert stream.position == 2 and stream.loops == 1 and not stream.at_end


def test_new_run_continues_the_media_clock_from_the_last_frame():
    stream = RTPStream.create(25, 100)
    stream.start_run(10.0)
    assert stream.next_timestamp == stream.ts_base
    stream.frame_headers([b"x"], sent_at=10.0)
    stream.frame_headers([b"x"], sent_at=10.04)
    last = stream.last_timestamp
    stream.seek(3.0)
    stream.start_run(11.54)  # 1.5 s after the last frame was due
    assert (stream.next_timestamp - last) % (1 << 32) == 135_000
    stream.start_run(10.041)  # never less than one frame interval after the last frame
    assert (stream.next_timestamp - last) % (1 << 32) == 3600


def test_timestamp_at_runs_the_media_clock_on_from_the_last_frame():
    stream = RTPStream.create(25, 100)
    assert stream.timestamp_at(5.0) == stream.next_timestamp  # nothing sent yet
    stream.start_run(10.0)
    stream.frame_headers([b"x"], sent_at=10.0)
    last = stream.last_timestamp
    assert (stream.timestamp_at(10.5) - last) % (1 << 32) == 45_000  # what an SR or BYE carries


def test_end_without_loop():
    stream = RTPStream.create(10, 2)
    stream.frame_headers([b"x"])
    stream.frame_headers([b"x"])
    assert stream.at_end


@given(
    seconds=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    fps=st.sampled_from([10, 20, 25, 29.97, 30]),
)
def test_seek_lands_on_a_frame_within_the_file(seconds, fps):
    stream = RTPStream.create(fps, 100)
    exact = stream.seek(seconds)
    assert 0 <= stream.position < 100
    assert exact == pytest.approx(stream.position / fps)
    if seconds * fps < 99:
        assert abs(exact - seconds) <= 0.5 / fps + 1e-9
