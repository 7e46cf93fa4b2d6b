"""Captures cut by a snap length (tcpdump -s N): every record is read, as tshark reads
them; header rules judge the cut packets, payload rules say "not applicable", and no
rule blames the sender for bytes the capture dropped (a cut RTSP reply read as a
malformed one, a cut RFC 2435 fragment as a gap)."""

from __future__ import annotations

import struct

from analysis_corpus import clean_session

from analysis.pcap.reader import read_records
from workbench.cli import main

CUT_TO = 60
PCAP_GLOBAL_HEADER_LEN = 24
RECORD_HEADER = struct.Struct("<IIII")  # seconds, fraction, captured length, original length


def snapped_copy(whole: bytes, index: int) -> bytes:
    """``whole`` (a little-endian classic pcap) with record ``index`` cut to CUT_TO bytes."""
    out = bytearray(whole[:PCAP_GLOBAL_HEADER_LEN])
    off = PCAP_GLOBAL_HEADER_LEN
    number = 0
    while off < len(whole):
        sec, frac, incl, orig = RECORD_HEADER.unpack_from(whole, off)
        data = whole[off + RECORD_HEADER.size : off + RECORD_HEADER.size + incl]
        if number == index:
            assert incl > CUT_TO
            data = data[:CUT_TO]
        out += RECORD_HEADER.pack(sec, frac, len(data), orig) + data
        off += RECORD_HEADER.size + incl
        number += 1
    return bytes(out)


def pcapng_block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


def test_classic_pcap_reads_every_record_and_keeps_the_wire_length(tmp_path):
    whole = clean_session().write(tmp_path / "whole.pcap").read_bytes()
    records = read_records(snapped_copy(whole, 5))
    assert len(records) == len(read_records(whole)) and records.error is None
    assert records.cut == 1
    assert records.lengths[5] == CUT_TO and records.original_lengths[5] > CUT_TO


def test_pcapng_enhanced_block_cut_by_snap_length():
    frame = bytes(range(100))
    shb = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = pcapng_block(0x00000001, struct.pack("<HHI", 1, 0, 65535))
    whole = pcapng_block(0x00000006, struct.pack("<IIIII", 0, 0, 0, 100, 100) + frame)
    cut = pcapng_block(0x00000006, struct.pack("<IIIII", 0, 0, 1, 40, 100) + frame[:40])
    records = read_records(shb + idb + whole + cut)
    assert len(records) == 2 and records.error is None
    assert list(records.lengths) == [100, 40] and list(records.original_lengths) == [100, 100]


def test_check_judges_headers_of_cut_packets_and_blames_no_one(tmp_path, capsys):
    whole = clean_session().write(tmp_path / "whole.pcap").read_bytes()
    snapped = tmp_path / "snapped.pcap"
    snapped.write_bytes(snapped_copy(whole, 5))
    assert main(["check", str(snapped)]) == 0
    out = capsys.readouterr().out
    assert "snap length" in out
    assert "failed: 0 error, 0 warning" in out
