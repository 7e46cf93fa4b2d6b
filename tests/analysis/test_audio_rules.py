"""The audio rules on crafted sessions: G.711 packets against their timestamps and a=ptime,
MPEG-4 AAC (RFC 3640) AU-headers against the payload. A clean stream passes; each defect is
named by exactly its rule."""

from __future__ import annotations

import pytest

from analysis.check import check_capture
from analysis.craft.session_builder import SessionBuilder
from analysis.rules import Outcome
from analysis.rules.audio import au_header_problem

PACKETS = 60
SAMPLES = 160  # 20 ms at 8 kHz
PCMU = "m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n"
AAC = (
    "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 mpeg4-generic/8000/1\r\n"
    "a=fmtp:97 streamtype=5;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3\r\n"
)
AAC_PARAMS = {"sizelength": "13", "indexlength": "3", "indexdeltalength": "3"}
AAC_SAMPLES = 1024  # one AAC frame
CRAFTED_RULES = {"AUDIO-G711-1", "AUDIO-PTIME-1", "AUDIO-AAC-1"}  # each named by a test here


def aac_payload(sizes: list[int], lie: int = 0) -> bytes:
    """AU-headers for ``sizes`` (the first size off by ``lie``), then the access units."""
    bits = 16 * len(sizes)
    headers = b"".join(
        ((n + (lie if i == 0 else 0)) << 3).to_bytes(2, "big") for i, n in enumerate(sizes)
    )
    return (
        bits.to_bytes(2, "big")
        + headers
        + b"".join(bytes([i + 1]) * n for i, n in enumerate(sizes))
    )


def session(media: str, packets: list[tuple[bytes, int]], pt: int):
    b = SessionBuilder()
    b.media_description = media
    b.start()
    ts = b.next_ts
    for payload, step in packets:
        b.rtp(payload, timestamp=ts, payload_type=pt, gap=step / 8000)
        ts = (ts + step) % (1 << 32)
    b.teardown()
    return b


def failed(result) -> set[str]:
    return {r.rule.id for r in result.rules if r.outcome is Outcome.FAILED}


def pcmu(edit=None):
    packets = [(bytes([0xFF]) * SAMPLES, SAMPLES) for _ in range(PACKETS)]
    if edit:
        edit(packets)
    return packets


def test_clean_g711_passes(tmp_path):
    result = check_capture(session(PCMU, pcmu(), 0).write(tmp_path / "pcmu.pcap"))
    assert failed(result) == set()
    for rule_id in ("AUDIO-G711-1", "AUDIO-PTIME-1"):
        assert result.result(rule_id).outcome is Outcome.PASSED


def test_packet_longer_than_ptime(tmp_path):
    def longer(packets):
        packets[20] = (bytes([0xFF]) * 240, 240)

    result = check_capture(session(PCMU, pcmu(longer), 0).write(tmp_path / "long.pcap"))
    assert failed(result) == {"AUDIO-PTIME-1"}


def test_timestamp_step_not_the_samples_sent(tmp_path):
    def skew(packets):
        packets[20] = (bytes([0xFF]) * SAMPLES, SAMPLES + 40)
        packets[21] = (bytes([0xFF]) * SAMPLES, SAMPLES - 40)

    result = check_capture(session(PCMU, pcmu(skew), 0).write(tmp_path / "skew.pcap"))
    assert failed(result) == {"AUDIO-G711-1"}


@pytest.mark.parametrize(("lie", "failing"), [(0, set()), (5, {"AUDIO-AAC-1"})])
def test_aac_au_headers(tmp_path, lie, failing):
    packets = [(aac_payload([90, 70], lie if i == 10 else 0), 2 * AAC_SAMPLES) for i in range(40)]
    result = check_capture(session(AAC, packets, 97).write(tmp_path / "aac.pcap"))
    assert failed(result) == failing
    assert result.result("AUDIO-AAC-1").outcome is not Outcome.NOT_APPLICABLE


def test_au_header_reader():
    assert au_header_problem(aac_payload([10, 20, 30]), AAC_PARAMS) == ""
    assert au_header_problem(aac_payload([500])[:100], AAC_PARAMS) == ""  # a fragment
    assert "add up to" in au_header_problem(aac_payload([10, 20], 3), AAC_PARAMS)
    assert "runs past" in au_header_problem(b"\x01\x00\x00", AAC_PARAMS)
    assert "whole number" in au_header_problem(b"\x00\x11" + b"\x00" * 8, AAC_PARAMS)
    assert "not numbers" in au_header_problem(b"\x00", {"sizelength": "x"})
