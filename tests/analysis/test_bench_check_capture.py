"""The benchmark's capture (bench.check_capture) is what it claims: a clean capture whose
sessions repeat one clip, or whose every frame is distinct, as a camera's are; and among
distinct frames decoded on several threads, a broken one is named."""

from __future__ import annotations

from analysis.check import check_capture
from analysis.payloads.jpeg_decoding import decode_threads, limit_decode_threads, usable_cores
from analysis.pcap.reader import read_records
from analysis.rules.registry import Outcome
from bench.check_capture import DISTINCT_FRAMES, FPS, write_capture

SESSIONS = 2
SECONDS = 1.0
UDP_PAYLOAD_AT = 14 + 20 + 8  # Ethernet, IPv4 without options, UDP
RTP_HEADER_LEN = 12


def _frame_keys(result) -> set:
    return {f.jpeg() for s in result.streams for f in s.frames}


def test_repeated_frames_are_the_clip_s_eight(tmp_path):
    path = tmp_path / "repeated.pcap"
    write_capture(path, SESSIONS, SECONDS)
    result = check_capture(path)
    assert result.verdict() == "passed"
    assert len(_frame_keys(result)) == DISTINCT_FRAMES


def test_distinct_frames_all_differ_and_all_decode(tmp_path):
    path = tmp_path / "distinct.pcap"
    write_capture(path, SESSIONS, SECONDS, distinct=True)
    result = check_capture(path)
    frames = SESSIONS * round(SECONDS * FPS)
    assert result.verdict() == "passed"
    assert len(_frame_keys(result)) == frames
    decoded = result.result("JPEG-DEC-1")
    assert decoded.outcome is Outcome.PASSED
    assert decoded.evidence == f"{frames} frame(s) decode with Pillow"


def test_among_distinct_frames_decoded_on_several_threads_the_broken_one_is_named(tmp_path):
    path = tmp_path / "distinct.pcap"
    write_capture(path, SESSIONS, SECONDS, distinct=True)
    victim = check_capture(path).streams[1].frames[5]
    second = victim.first_pktno + 1  # a packet of scan data only
    data = bytearray(path.read_bytes())
    # A JPEG SOI marker inside the entropy-coded data: no decoder can read past it.
    at = read_records(bytes(data)).offsets[second - 1] + UDP_PAYLOAD_AT + RTP_HEADER_LEN + 20
    data[at : at + 2] = b"\xff\xd8"
    path.write_bytes(bytes(data))
    limit_decode_threads(2)
    try:
        result = check_capture(path)
    finally:
        limit_decode_threads(None)
    decoded = result.result("JPEG-DEC-1")
    assert decoded.outcome is Outcome.FAILED
    assert decoded.count == 1 and decoded.packets == [victim.first_pktno]


def test_a_worker_process_decodes_with_its_share_of_the_cores():
    limit_decode_threads(1)
    try:
        assert decode_threads() == 1
    finally:
        limit_decode_threads(None)
    assert decode_threads() == usable_cores()
