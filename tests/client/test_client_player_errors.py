"""`python -m rtsp_client.player` says its own name in its error lines."""

from __future__ import annotations

from rtsp_client.cli import ExitCode


def error_lines(err: str, prog: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(f"{prog}:")]


def test_the_player_uses_its_own_name_in_errors(monkeypatch, capsys):
    from rtsp_client.player import PROG
    from rtsp_client.player import main as player_main

    assert player_main(["127.0.0.1", "70000", "0", "movie.Mjpeg"]) == ExitCode.USAGE
    monkeypatch.delenv("DISPLAY", raising=False)
    assert player_main(["127.0.0.1", "8554", "0", "movie.Mjpeg"]) == ExitCode.FAILURE
    err = capsys.readouterr().err
    assert len(error_lines(err, PROG)) == 2 and "rtsp-client:" not in err
    assert "70000" in err and "DISPLAY" in err
