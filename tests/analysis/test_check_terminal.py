"""`rtsp-workbench check` on an 80-column terminal and piped: ids and addresses whole,
one tab-separated line per rule."""

from __future__ import annotations

import io

from rich.console import Console

from workbench.cli import main

ELLIPSIS = "…"


def terminal(width: int) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, force_terminal=True, color_system=None), out


def test_check_fits_80_columns_with_session_ids_and_addresses_whole(tmp_path):
    from analysis_corpus import clean_session

    from analysis.check import check_capture
    from workbench.commands.check import print_summary

    path = clean_session().write(tmp_path / "clean.pcap")
    result = check_capture(path)
    console, out = terminal(80)
    print_summary(result, console)
    text = out.getvalue()
    assert ELLIPSIS not in text
    # The path heads the output whole, however long the folder is; the rest fits.
    assert all(len(line) <= 80 for line in text.splitlines() if str(path) not in line)
    for session in result.sessions:
        assert session.id in text
        assert str(session.connection.client) in text
    for stream in result.streams:
        assert str(stream.src) in text and str(stream.dst) in text


def test_check_piped_keeps_one_line_per_rule(tmp_path, capsys):
    from analysis_corpus import write_defect

    path = write_defect("gap", tmp_path)
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    rows = [line.split("\t") for line in out.splitlines() if line.startswith("RTP-SEQ-1\t")]
    assert len(rows) == 1 and rows[0][2].startswith("failed")
    assert "sequence number(s) missing" in rows[0][3]
