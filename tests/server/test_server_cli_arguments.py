"""rtsp-server refuses impossible numbers on its command line with argparse's one-line
usage error (exit 2), before binding anything, instead of a traceback or a server that
cannot work (every session torn down at once, every SETUP refused, 500 on PLAY)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from rtsp_common.arguments import HELP
from rtsp_server import RTSPServer, ServerOptions
from rtsp_server.cli import build_parser, main


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--port", "70000", "not a port"),
        ("--port", "eight", "not a number"),
        ("--rtp-port", "40001", "odd"),
        ("--rtp-port", "-2", "not a port"),
        ("--session-timeout", "0", "not a positive number of seconds"),
        ("--session-timeout", "nan", "not a positive number of seconds"),
        ("--max-sessions", "0", "not 1 or more"),
        ("--max-connections", "-1", "not 1 or more"),
    ],
)
def test_impossible_option_is_a_usage_error(tmp_path, capsys, option, value, reason):
    with pytest.raises(SystemExit) as info:
        main(["--host", "127.0.0.1", "--media", str(tmp_path), option, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err and reason in err
    assert "Traceback" not in err


@pytest.mark.parametrize("fps", ["0", "-5", "nan", "inf"])
def test_fps_must_be_a_positive_finite_number(tmp_path, capsys, fps):
    assert main(["--host", "127.0.0.1", "--port", "0", "--media", str(tmp_path), "--fps", fps]) == 2
    assert "fps must be a positive number" in capsys.readouterr().err


def test_the_command_line_takes_its_defaults_and_help_from_server_options(tmp_path):
    parser = build_parser()
    args = vars(parser.parse_args([]))
    flags = {"gso": "use_gso"}  # the one flag named otherwise than its field
    given = {flags.get(name, name): value for name, value in args.items() if name != "verbose"}
    assert ServerOptions(**given) == ServerOptions()
    text = " ".join(parser.format_help().split())  # as one line, however argparse wrapped it
    for name in given:
        field_help = next(f.metadata[HELP] for f in fields(ServerOptions) if f.name == name)
        assert " ".join(field_help.split()) in text, name


def test_server_options_refuse_what_cannot_run_and_the_lab_form_adapts(tmp_path):
    with pytest.raises(ValueError, match="mtu 200"):
        ServerOptions(mtu=200)
    with pytest.raises(ValueError, match="port 70000"):
        ServerOptions(port=70000)
    with pytest.raises(ValueError, match="max_interleaved_sessions must be 1 to 128"):
        ServerOptions(max_interleaved_sessions=129)  # 256 one-byte channel ids, two each
    with pytest.raises(ValueError, match="max_sessions_per_peer must be 1 or more"):
        ServerOptions(max_sessions_per_peer=0)
    assert ServerOptions.lab(554, "movie.Mjpeg") == ServerOptions(port=554, media="movie.Mjpeg")
    assert ServerOptions(session_timeout=30).connection_idle_timeout == 30
    assert ServerOptions(idle_timeout=2).connection_idle_timeout == 2
    with pytest.raises(ValueError, match="either the lab's port and file, or options"):
        RTSPServer(554, "movie.Mjpeg", options=ServerOptions(media=tmp_path))
