"""`check --annotate`: the capture written back as pcapng with every finding a comment on
its packet. Wireshark's own tools read the result: tshark finds exactly the packets a rule
names, capinfos reads the file, and every packet keeps its bytes and timestamp."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import tracemalloc
from pathlib import Path

import pytest
from analysis_corpus import DEFECTS, clean_session, write_defect
from realtools import require_tool

from analysis.check import check_capture
from analysis.craft.synth import PcapSynth, write_sessions
from analysis.errors import CaptureFileError
from analysis.finding_comments import finding_comments, section_comment
from analysis.pcap import annotated_writer
from analysis.pcap.annotated_writer import annotate_capture, annotate_stream
from analysis.pcap.reader import read_records
from workbench.cli import main


def annotate(capture: Path, out: Path):
    result = check_capture(capture)
    summary = annotate_capture(capture, out, finding_comments(result), section_comment(result))
    return result, summary


def tshark_fields(path: Path, *fields: str, display_filter: str | None = None) -> list[list[str]]:
    tools = require_tool("tshark")
    cmd = [tools["tshark"], "-r", str(path), "-T", "fields"]
    cmd += [part for field in fields for part in ("-e", field)]
    cmd += ["-Y", display_filter] if display_filter else []
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t") for line in done.stdout.splitlines()]


def distinct_session(i: int):
    """A clean session of its own ports, SSRC and session id."""
    return clean_session(
        rtsp_client_port=41000 + i,
        client_rtp_port=52000 + 2 * i,
        ssrc=0x10000 + i,
        session_id=f"5E55{i:04X}",
    )


def same_packets(original: Path, annotated: Path) -> None:
    """Every packet's bytes, lengths and timestamp are the input's."""
    before, after = read_records(original), read_records(annotated)
    assert after.format == "pcapng" and after.error is None
    assert len(after) == len(before)
    digest = [hashlib.sha256(before.frame(i)).digest() for i in range(len(before))]
    assert [hashlib.sha256(after.frame(i)).digest() for i in range(len(after))] == digest
    assert list(after.original_lengths) == list(before.original_lengths)
    assert list(after.linktypes) == list(before.linktypes)


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_tshark_finds_exactly_the_packets_the_json_lists_for_the_rule(tmp_path, name):
    capture = write_defect(name, tmp_path)
    result, summary = annotate(capture, tmp_path / "out.pcapng")
    rule_id = DEFECTS[name][1]
    listed = result.result(rule_id).to_dict()["offences"]
    assert listed, f"{rule_id} lists no offence for {name}"
    found = tshark_fields(
        tmp_path / "out.pcapng",
        "frame.number",
        display_filter=f'frame.comment contains "{rule_id} "',
    )
    assert sorted(int(row[0]) for row in found) == sorted({o["packet"] for o in listed})
    assert summary.stopped is None and summary.packets == result.packets_read
    same_packets(capture, tmp_path / "out.pcapng")


def test_timestamps_and_lengths_agree_in_tshark_and_capinfos_reads_the_copy(tmp_path):
    capture = write_defect("gap", tmp_path)
    annotate(capture, tmp_path / "out.pcapng")
    fields = ("frame.time_epoch", "frame.len", "frame.cap_len")
    assert tshark_fields(tmp_path / "out.pcapng", *fields) == tshark_fields(capture, *fields)
    tools = require_tool("capinfos")
    info = subprocess.run(
        [tools["capinfos"], "-c", "-F", "-K", str(tmp_path / "out.pcapng")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert info.returncode == 0, info.stderr
    assert "pcapng" in info.stdout and str(read_records(capture).__len__()) in info.stdout


def test_the_first_packet_of_each_session_and_stream_carries_its_summary(tmp_path):
    capture = clean_session().write(tmp_path / "clean.pcap")
    result, summary = annotate(capture, tmp_path / "out.pcapng")
    (stream,) = result.streams
    rows = tshark_fields(
        tmp_path / "out.pcapng", "frame.number", "frame.comment", display_filter="frame.comment"
    )
    comments = {int(number): text for number, text in rows}
    assert summary.annotated == len(comments) == 2  # a clean session: summaries only
    session_text = comments[min(comments)]
    assert "RTSP session 5EC0A1B2" in session_text and f"{stream.ssrc:#010x}" in session_text
    stream_text = comments[int(stream.pktno[0])]
    assert f"SSRC {stream.ssrc:#010x}" in stream_text and "JPEG/90000" in stream_text
    assert f"{stream.stats.packets} packets, 0 lost, jitter" in stream_text
    assert "error" not in " ".join(comments.values())


def test_section_header_names_the_tool_and_the_rules_run(tmp_path):
    capture = write_defect("gap", tmp_path)
    result, _ = annotate(capture, tmp_path / "out.pcapng")
    tools = require_tool("capinfos")
    info = subprocess.run(
        [tools["capinfos"], str(tmp_path / "out.pcapng")], capture_output=True, text=True
    )
    assert "Annotated by rtsp-workbench" in info.stdout
    assert f"{len(result.rules)} rules run" in info.stdout and "failed: RTP-SEQ-1" in info.stdout


def test_pcapng_with_two_interfaces_and_its_own_comments_keeps_them(tmp_path):
    tools = require_tool("mergecap", "editcap", "capinfos")
    first = write_defect("gap", tmp_path)
    other = PcapSynth()
    write_sessions(other, [distinct_session(1)])
    second = other.write(tmp_path / "second.pcap")
    merged = tmp_path / "merged.pcapng"
    subprocess.run(
        [tools["mergecap"], "-I", "none", "-w", str(merged), str(first), str(second)],
        check=True,
        timeout=60,
    )
    commented = tmp_path / "commented.pcapng"
    subprocess.run(
        [tools["editcap"], "-a", "3:a comment of the user's own", str(merged), str(commented)],
        check=True,
        timeout=60,
    )
    result, summary = annotate(commented, tmp_path / "out.pcapng")
    assert summary.stopped is None and result.result("RTP-SEQ-1").failed
    info = subprocess.run(
        [tools["capinfos"], "-I", str(tmp_path / "out.pcapng")], capture_output=True, text=True
    )
    assert "Number of interfaces in file: 2" in info.stdout
    rows = tshark_fields(
        tmp_path / "out.pcapng", "frame.number", "frame.interface_id", "frame.comment"
    )
    assert rows[2][2].startswith("a comment of the user's own")
    assert {row[1] for row in rows} == {"0", "1"}
    gap_packets = {o.pktno for o in result.result("RTP-SEQ-1").offences}
    for number in gap_packets:
        assert "RTP-SEQ-1 error" in rows[number - 1][2]
    same_packets(commented, tmp_path / "out.pcapng")
    assert tshark_fields(tmp_path / "out.pcapng", "frame.time_epoch") == tshark_fields(
        commented, "frame.time_epoch"
    )


def test_nanosecond_and_gzip_captures_keep_their_timestamps(tmp_path):
    tools = require_tool("editcap")
    capture = write_defect("gap", tmp_path)
    nanos = tmp_path / "nanos.pcap"
    subprocess.run(
        [tools["editcap"], "-F", "nsecpcap", str(capture), str(nanos)], check=True, timeout=60
    )
    zipped = tmp_path / "nanos.pcap.gz"
    zipped.write_bytes(gzip.compress(nanos.read_bytes()))
    _, summary = annotate(zipped, tmp_path / "out.pcapng")
    assert summary.stopped is None
    assert tshark_fields(tmp_path / "out.pcapng", "frame.time_epoch") == tshark_fields(
        nanos, "frame.time_epoch"
    )
    same_packets(nanos, tmp_path / "out.pcapng")


@pytest.mark.parametrize("read_at_once", [1, 5, 17, 1500])
def test_the_copy_is_the_same_whatever_is_read_and_written_at_once(tmp_path, read_at_once):
    """Records and blocks cut anywhere by the buffer's refills, and writes of any size,
    give the same bytes as one read of the whole file: classic pcap and pcapng, with
    comments on some packets and a truncated last record."""
    tools = require_tool("editcap")
    capture = write_defect("gap", tmp_path)
    as_pcapng = tmp_path / "gap.pcapng"
    subprocess.run(
        [tools["editcap"], "-F", "pcapng", str(capture), str(as_pcapng)], check=True, timeout=60
    )
    comments = {n: [f"finding {n}"] for n in range(1, 400, 7)}
    for source in (capture, as_pcapng):
        data = source.read_bytes()
        for name, blob in (("whole", data), ("cut", data[:-30])):
            copies = []
            for reads, writes in ((len(blob), 1 << 30), (read_at_once, read_at_once)):
                with pytest.MonkeyPatch.context() as patch:
                    patch.setattr(annotated_writer, "READ_AT_ONCE", reads)
                    patch.setattr(annotated_writer, "WRITE_AT_ONCE", writes)
                    out = io.BytesIO()
                    summary = annotate_stream(io.BytesIO(blob), out, comments, "section")
                copies.append((out.getvalue(), summary))
            assert copies[0] == copies[1], (source.name, name)
            assert copies[0][1].annotated > 10
            assert (copies[0][1].stopped is None) == (name == "whole")


def test_a_truncated_capture_is_copied_up_to_the_damage(tmp_path):
    capture = write_defect("gap", tmp_path)
    data = capture.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 30])
    result, summary = annotate(cut, tmp_path / "out.pcapng")
    assert result.error is not None
    assert summary.packets == result.packets_read and "truncated record" in summary.stopped
    assert len(read_records(tmp_path / "out.pcapng")) == result.packets_read


def test_a_truncated_gzip_capture_is_copied_up_to_the_damage(tmp_path):
    """A decompressing stream fails on the read that meets the damage: the copy reads it
    only as far as each record needs, so no packet before the damage is lost."""
    synth = PcapSynth()
    write_sessions(synth, [distinct_session(i) for i in range(16)])
    whole = gzip.compress(synth.write(tmp_path / "whole.pcap").read_bytes())
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    result, summary = annotate(cut, tmp_path / "out.pcapng")
    assert result.packets_read > 100 and result.error is not None
    assert summary.packets == result.packets_read
    assert summary.stopped is not None and "Compressed file ended" in summary.stopped
    assert len(read_records(tmp_path / "out.pcapng")) == result.packets_read


def test_a_file_that_is_not_a_capture_or_is_missing_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture file at all")
    with pytest.raises(CaptureFileError, match="not a pcap or pcapng file"):
        annotate_capture(junk, tmp_path / "out.pcapng", {}, "")
    with pytest.raises(CaptureFileError, match="cannot read capture"):
        annotate_capture(tmp_path / "missing.pcap", tmp_path / "out.pcapng", {}, "")


def test_memory_stays_flat_as_the_capture_grows(tmp_path, monkeypatch):
    """The copy holds a block at a time: peak memory does not follow the packet count.
    Both captures are larger than what is read and written at once, made small here."""
    monkeypatch.setattr(annotated_writer, "READ_AT_ONCE", 16 * 1024)
    monkeypatch.setattr(annotated_writer, "WRITE_AT_ONCE", 16 * 1024)

    def peak(sessions: int) -> tuple[int, int]:
        synth = PcapSynth()
        write_sessions(synth, [distinct_session(i) for i in range(sessions)])
        capture = synth.write(tmp_path / f"{sessions}.pcap")
        comments = {n: [f"comment {n}"] for n in range(1, 50)}
        tracemalloc.start()
        summary = annotate_capture(capture, tmp_path / "out.pcapng", comments, "section")
        size, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return summary.packets, top

    small_packets, small_peak = peak(2)
    large_packets, large_peak = peak(16)
    assert large_packets > 7 * small_packets
    assert large_peak < 2 * small_peak + 64 * 1024


def test_check_annotate_writes_the_copy_and_the_wireshark_command(tmp_path, capsys):
    capture = write_defect("gap", tmp_path)
    out = tmp_path / "gap.annotated.pcapng"
    code = main(["check", str(capture), "--annotate", str(out)])
    printed = capsys.readouterr().out
    assert code == 1  # the verdict is check's, annotated or not
    assert f"annotated: {out}: " in printed and " packets commented" in printed
    command = next(line for line in printed.splitlines() if line.startswith("  wireshark -r"))
    assert "-d tcp.port==8554,rtsp" in command
    assert "-Y 'frame.comment contains \"RTP-SEQ-1\"'" in command
    assert read_records(out).format == "pcapng"


def test_check_annotate_to_a_path_that_cannot_be_written_fails_clearly(tmp_path, capsys):
    capture = write_defect("gap", tmp_path)
    code = main(["check", str(capture), "--annotate", str(tmp_path / "no" / "such" / "x.pcapng")])
    captured = capsys.readouterr()
    assert code == 2
    assert "cannot write" in captured.err and "x.pcapng" in captured.err
