"""The workbench on a terminal: 80 columns or fewer without a word or an id cut, a narrow
layout where a table cannot fit, tab-separated lines when piped, and one error form
(``rtsp-workbench COMMAND: error: ...``) for every command."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.text import Text

from workbench.cli import main
from workbench.tables import Column, TableData, print_table

ELLIPSIS = "…"


def terminal(width: int) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, force_terminal=True, color_system=None), out


def words_of(text: str) -> set[str]:
    return set(text.split())


def sample_table() -> TableData:
    table = TableData(
        "Sessions",
        [
            Column("session", whole=True),
            Column("address", whole=True),
            Column("note", drop=1),
            Column("transport"),
        ],
    )
    table.add_row(
        "2231000987654321",
        "127.0.0.1:59410",
        "a long remark that can go when room is short",
        "RTP/AVP; unicast; client_port=39034-39035; server_port=59410-59411",
    )
    table.add_row("17", "10.0.0.2:554", "short", Text("RTP/AVP/TCP; interleaved=0-1", style="red"))
    return table


@pytest.mark.parametrize("width", [120, 80, 60, 40])
def test_a_table_never_cuts_an_id_an_address_or_a_word(width):
    console, out = terminal(width)
    print_table(console, sample_table())
    text = out.getvalue()
    assert ELLIPSIS not in text
    assert all(len(line) <= width for line in text.splitlines())
    for whole in ("2231000987654321", "127.0.0.1:59410", "client_port=39034-39035;"):
        assert whole in words_of(text.replace("│", " ").replace("┃", " "))


def test_a_narrow_terminal_drops_the_droppable_column_and_says_so():
    wide, wide_out = terminal(160)
    print_table(wide, sample_table())
    assert "a long remark" in wide_out.getvalue()
    narrow, narrow_out = terminal(72)
    print_table(narrow, sample_table())
    text = narrow_out.getvalue()
    assert "a long remark" not in text and "left out for the terminal's width: note" in text
    assert "┃ session" in text  # still a table


def test_a_terminal_too_narrow_for_any_table_gets_one_record_per_row():
    console, out = terminal(40)
    print_table(console, sample_table())
    text = out.getvalue()
    assert "┃" not in text and "│" not in text
    assert re.search(r"^session\s+2231000987654321", text, re.M)
    assert re.search(r"^address\s+127\.0\.0\.1:59410", text, re.M)


def test_piped_output_is_one_tab_separated_line_per_row():
    out = io.StringIO()
    print_table(Console(file=out, width=30), sample_table())  # not a terminal
    lines = out.getvalue().splitlines()
    assert lines[0] == "# Sessions"
    assert lines[1].split("\t") == ["session", "address", "note", "transport"]
    rows = [line.split("\t") for line in lines[2:]]
    assert [row[0] for row in rows] == ["2231000987654321", "17"]
    assert rows[1][3] == "RTP/AVP/TCP; interleaved=0-1"  # no colour codes, no wrapping


def test_probe_fits_80_columns_with_every_case_name_whole(tmp_path, lab_movie):
    from analysis.probe.battery import run_probe
    from analysis.probe.channel import socket_environment
    from analysis.probe.wire import Target
    from rtsp_server import RTSPServer
    from rtsp_server.options import ServerOptions
    from workbench.commands.probe import render

    with RTSPServer(options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1")) as server:
        target = Target.parse(f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg")
        report = run_probe(target, socket_environment(target, 3.0, 2.0))
    console, out = terminal(80)
    render(report, console)
    text = out.getvalue()
    assert ELLIPSIS not in text
    assert all(len(line) <= 80 for line in text.splitlines())
    cells = words_of(text.replace("│", " "))
    assert all(result.case in cells for result in report.results)
    # Fifteen cases in about two lines each, not five or six.
    assert len(text.splitlines()) <= 2 * len(report.results) + 8


def test_probe_of_a_path_the_server_lacks_says_the_path_may_be_wrong(lab_movie, capsys):
    from rtsp_server import RTSPServer
    from rtsp_server.options import ServerOptions

    with RTSPServer(options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1")) as server:
        url = f"rtsp://127.0.0.1:{server.port}/no-such-clip.Mjpeg"
        assert main(["probe", url]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"rtsp-workbench probe: error: {url}: the server answers DESCRIBE")
    assert "404 Not Found" in line and "the path may be wrong" in line


@pytest.mark.parametrize("command", ["sample", "convert"])
def test_sample_and_convert_name_the_suffixes_not_an_option_they_lack(tmp_path, capsys, command):
    from workbench.sample import make_sample

    source = make_sample(tmp_path / "in.Mjpeg", frames=2).path
    argv = {
        "sample": ["sample", "-o", str(tmp_path / "clip.avi"), "--frames", "2"],
        "convert": ["convert", str(source), str(tmp_path / "clip.avi")],
    }[command]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"rtsp-workbench {command}: error: ")
    assert ".Mjpeg" in line and ".mjpeg" in line
    assert "explicitly" not in line and "--format" not in line


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["check", "absent.pcap"],
        ["frames", "absent.pcap", "-o", "out"],
        ["report", "absent.pcap", "-o", "out"],
        ["probe", "http://example.invalid/x"],
        ["capture", "-o", "x.pcap", "--duration", "0"],
    ],
    ids=lambda argv: "-".join(argv[:2]),
)
def test_every_command_reports_an_error_in_one_form(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"rtsp-workbench {argv[0]}: error: ")
    assert "Errno" not in lines[0] and "[red]" not in lines[0]


def test_verbose_is_accepted_after_the_command_too(capsys):
    assert main(["check", "--list-rules", "-v"]) == 0
    assert main(["-v", "check", "--list-rules"]) == 0
