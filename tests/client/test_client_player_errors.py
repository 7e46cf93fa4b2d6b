"""`python -m rtsp_client.player` validates its ports like rtsp-client and says its own name,
in the one error form every command uses (``prog: error: ...``)."""

from __future__ import annotations

import pytest

from rtsp_client.cli import ExitCode


def error_lines(err: str, prog: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(f"{prog}: error: ")]


@pytest.mark.parametrize(
    ("port", "rtp_port", "words"),
    [
        ("70000", "0", "70000 is not a server port"),
        ("0", "0", "0 is not a server port"),
        ("8554", "25001", "25001 is odd"),
        ("8554", "65535", "not a port for RTP"),
        ("eighty", "0", "'eighty' is not a number"),
    ],
)
def test_the_player_refuses_bad_ports_as_rtsp_client_does(capsys, port, rtp_port, words):
    from rtsp_client.player import PROG
    from rtsp_client.player import main as player_main

    with pytest.raises(SystemExit) as exited:
        player_main(["127.0.0.1", port, rtp_port, "movie.Mjpeg"])
    assert exited.value.code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert len(error_lines(err, PROG)) == 1 and words in err
    assert "Traceback" not in err


def test_the_player_uses_its_own_name_in_errors(monkeypatch, capsys):
    from rtsp_client.player import PROG
    from rtsp_client.player import main as player_main

    monkeypatch.delenv("DISPLAY", raising=False)
    assert player_main(["127.0.0.1", "8554", "0", "movie.Mjpeg", "--dialect", "lab"]) == (
        ExitCode.FAILURE
    )
    err = capsys.readouterr().err
    assert len(error_lines(err, PROG)) == 1 and "rtsp-client:" not in err
    assert "DISPLAY" in err
