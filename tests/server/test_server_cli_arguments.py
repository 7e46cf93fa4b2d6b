"""rtsp-server refuses impossible numbers on its command line with argparse's one-line
usage error (exit 2), before binding anything, instead of a traceback or a server that
cannot work (every session torn down at once, every SETUP refused, 500 on PLAY)."""

from __future__ import annotations

import pytest

from rtsp_server.cli import main


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
