"""RFC 3550 A.1/A.3/A.8 statistics against hand-computed examples."""

from __future__ import annotations

import pytest

from rtsp_client.stats import StatsAccumulator

FRAME = 3000  # 90 kHz ticks per frame at 30 fps


def feed(stats: StatsAccumulator, seqs, start_ts: int = 0) -> None:
    for i, seq in enumerate(seqs):
        stats.packet(seq, start_ts + i * FRAME, i / 30, 100)


def test_in_order_stream_counts_no_loss():
    stats = StatsAccumulator()
    feed(stats, range(100, 110))
    assert (stats.expected, stats.received, stats.lost) == (10, 10, 0)
    assert stats.extended_max == 109
    block = stats.report_block(ssrc=7, now=1.0)
    assert (block.fraction_lost, block.cumulative_lost, block.highest_seq) == (0, 0, 109)


def test_loss_gives_cumulative_and_fraction():
    stats = StatsAccumulator()
    feed(stats, [0, 1, 2, 5, 6])  # 3 and 4 lost
    assert (stats.expected, stats.received, stats.lost) == (7, 5, 2)
    block = stats.report_block(ssrc=1, now=1.0)
    assert block.fraction_lost == (2 * 256) // 7 == 73
    assert block.cumulative_lost == 2
    snap = stats.snapshot()
    assert snap.loss_percent == pytest.approx(100 * 2 / 7)
    # The next interval loses nothing: fraction resets, cumulative stays.
    for seq in (7, 8, 9):
        stats.packet(seq, seq * FRAME, seq / 30, 100)
    block = stats.report_block(ssrc=1, now=2.0)
    assert (block.fraction_lost, block.cumulative_lost) == (0, 2)


def test_sequence_wrap_extends_the_highest_number():
    stats = StatsAccumulator()
    feed(stats, [65534, 65535, 0, 2])  # 1 lost across the wrap
    assert stats.cycles == 65536
    assert stats.extended_max == 65536 + 2
    assert (stats.expected, stats.received, stats.lost) == (5, 4, 1)
    assert stats.report_block(ssrc=1, now=0).highest_seq == 65538


def test_duplicates_count_as_received_and_make_loss_negative():
    stats = StatsAccumulator()
    feed(stats, [0, 1, 1, 2])
    assert stats.duplicates == 1
    assert (stats.expected, stats.received, stats.lost) == (3, 4, -1)
    block = stats.report_block(ssrc=1, now=0)
    assert block.cumulative_lost == -1
    assert block.fraction_lost == 0  # A.3: a negative interval loss reports 0


def test_reordered_packet_is_counted_not_lost():
    stats = StatsAccumulator()
    feed(stats, [0, 2, 1, 3])
    assert stats.reordered == 1
    assert stats.duplicates == 0
    assert stats.lost == 0
    assert stats.extended_max == 3


def test_late_packet_across_the_wrap_is_reordered_not_a_cycle():
    stats = StatsAccumulator()
    feed(stats, [65535, 1, 0, 2])
    assert stats.cycles == 65536
    assert stats.reordered == 1
    assert (stats.expected, stats.lost) == (4, 0)


def test_jitter_follows_a8():
    stats = StatsAccumulator()
    # Perfectly paced packets: transit constant, jitter stays 0.
    for i in range(5):
        stats.packet(i, i * FRAME, i * FRAME / 90000, 100)
    assert stats.jitter == pytest.approx(0, abs=1e-6)
    # One packet 10 ms late: D = 900 ticks, J = 900 / 16.
    stats.packet(5, 5 * FRAME, 5 * FRAME / 90000 + 0.010, 100)
    assert stats.jitter == pytest.approx(56.25, abs=1e-3)
    assert stats.jitter_ms == pytest.approx(0.625, abs=1e-4)
    # Back on time: D = 900 again, J += (900 - J) / 16.
    stats.packet(6, 6 * FRAME, 6 * FRAME / 90000, 100)
    assert stats.jitter == pytest.approx(56.25 + (900 - 56.25) / 16, abs=1e-3)
    assert stats.report_block(ssrc=1, now=1).jitter == 108


def test_no_jitter_is_computed_on_an_unknown_clock():
    # The lab's timestamps: wall-clock seconds, or whatever its server chose. Counted on a
    # guessed rate they gave millions of milliseconds; on no rate they give none.
    stats = StatsAccumulator(clock_rate=None)
    for i in range(5):
        stats.packet(i, 1_700_000_000 + i // 3, i / 20, 100)
        stats.packet(i + 100, 3 * i, i / 20 + 0.4, 100)  # jumps and restarts, still no jitter
    snapshot = stats.snapshot()
    assert stats.jitter_ms is None and snapshot.jitter_ms is None
    assert snapshot.packets_received == 10
    assert stats.report_block(ssrc=1, now=1).jitter == 0


def test_probation_waits_for_sequential_packets():
    stats = StatsAccumulator(probation=2)
    assert stats.packet(10, 0, 0.0, 100) is False
    assert stats.packet(11, FRAME, 0.033, 100) is True
    assert (stats.received, stats.expected, stats.base_seq) == (1, 1, 11)


def test_large_jump_is_a_restart_only_when_confirmed():
    stats = StatsAccumulator()
    feed(stats, [0, 1, 2])
    assert stats.packet(40000, 0, 1.0, 100) is False  # one wild packet: ignored
    assert stats.received == 3
    assert stats.packet(40001, FRAME, 1.03, 100) is True  # the next in line: a restart
    assert (stats.base_seq, stats.received, stats.expected) == (40001, 1, 1)


def test_frames_fps_and_bitrate():
    stats = StatsAccumulator()
    for i in range(31):
        stats.packet(i, i * FRAME, i / 30, 1000)
        stats.frame_complete(i / 30)
    stats.frames_dropped(2)
    snap = stats.snapshot(now=1.0, dropped={"foreign_address": 3})
    assert snap.frames_complete == 31 and snap.frames_incomplete == 2
    assert snap.average_fps == pytest.approx(30.0)
    assert snap.average_bitrate_kbps == pytest.approx(31 * 1000 * 8 / 1.0 / 1000)
    assert snap.fps == pytest.approx(31.0, rel=0.05)
    assert snap.dropped == {"foreign_address": 3}
    assert snap.to_dict()["frames_complete"] == 31


def test_lsr_and_dlsr_follow_the_last_sender_report():
    stats = StatsAccumulator()
    feed(stats, [0])
    ntp = (0x12345678 << 32) | 0x9ABCDEF0
    stats.sender_report(ntp, arrival=10.0)
    block = stats.report_block(ssrc=1, now=10.5)
    assert block.lsr == 0x56789ABC
    assert block.dlsr == 32768  # 0.5 s in 1/65536 s
