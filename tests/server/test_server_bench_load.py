"""The benchmark's load generator counts what it receives correctly (no timing asserted)."""

from __future__ import annotations

import sys

from realtools import ROOT

sys.path.insert(0, str(ROOT))  # bench/ is a folder of scripts, not an installed package
from bench.rtsp_load import SessionCounters, close_sessions, open_session, run_load  # noqa: E402


def test_counters_extend_sequence_numbers_across_the_wrap():
    counters = SessionCounters()
    for seq in (65534, 65535, 0, 2):  # 1 is missing
        counters.add(seq, marker=seq == 0)
    assert counters.highest == 65536 + 2
    assert (counters.packets, counters.frames) == (4, 1)
    counters.add(65535, marker=False)  # a late duplicate does not move the highest back
    assert counters.highest == 65536 + 2


def test_load_generator_against_our_server(server):
    url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
    sessions = [open_session("127.0.0.1", server.port, url) for _ in range(2)]
    try:
        assert server.stats()["streaming"] == 2
        result = run_load(sessions, warmup=0.1, seconds=0.4)
    finally:
        close_sessions(sessions)
    assert result.sessions == 2
    assert all(p > 0 for p in result.packets) and all(f > 0 for f in result.frames)
    assert result.lost == [0, 0]
    assert server.stats()["sessions"] == 0
