"""`rtsp-client` and the player on bad command lines and signals: one line, the right code."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from dataclasses import fields

import pytest
from fake_rtsp import FakeRTSPServer, standard

from rtsp_client.cli import ExitCode, build_parser, main, session_options
from rtsp_client.options import ClientOptions
from rtsp_common.arguments import HELP


def error_lines(err: str, prog: str = "rtsp-client") -> list[str]:
    return [line for line in err.splitlines() if line.startswith(f"{prog}:")]


def test_an_unwritable_stats_file_is_refused_before_connecting(capsys):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        code = main([f"rtsp://127.0.0.1:{port}/movie", "--stats-json", "/proc/x.json"])
        listener.settimeout(0.2)
        with pytest.raises(TimeoutError):
            listener.accept()  # the client never connected
    assert code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(error_lines(err)) == 1 and "/proc/x.json" in err


def test_a_stats_file_in_a_missing_folder_is_refused(tmp_path, capsys):
    target = tmp_path / "no" / "such" / "stats.json"
    assert main(["rtsp://127.0.0.1:9/movie", "--stats-json", str(target)]) == ExitCode.USAGE
    assert "cannot write" in error_lines(capsys.readouterr().err)[0]
    assert not target.parent.exists()


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--rtp-port", "70000", "not a port for RTP (0-65534"),
        ("--rtp-port", "-2", "not a port"),
        ("--rtp-port", "5001", "odd: RTP takes an even port"),
        ("--rtp-port", "x", "not a number"),
        ("--duration", "0", "not a positive number of seconds"),
        ("--duration", "-1", "not a positive number of seconds"),
        ("--duration", "nan", "not a positive number of seconds"),
        ("--frames", "0", "not 1 or more"),
        ("--rtp-timeout", "0", "not a positive number of seconds"),
    ],
)
def test_bad_numbers_are_usage_errors(option, value, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["rtsp://127.0.0.1:9/movie", option, value])
    assert exit_info.value.code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_record_format_overrides_the_name(tmp_path, small_jpegs, capsys):
    from rtsp_common.mjpeg import open_media
    from rtsp_server import RTSPServer
    from rtsp_server.options import ServerOptions

    clip = tmp_path / "clip.mjpeg"
    clip.write_bytes(b"".join(small_jpegs[:4]))
    record = tmp_path / "out.txt"
    with RTSPServer(options=ServerOptions(port=0, media=clip, host="127.0.0.1", fps=30)) as server:
        code = main(
            [f"rtsp://127.0.0.1:{server.port}/clip.mjpeg", "--frames", "2",
             "--record", str(record), "--record-format", "lab"]
        )  # fmt: skip
    assert code == ExitCode.OK, capsys.readouterr().err
    with open_media(record) as recorded:
        assert len(recorded) == 2
        first = recorded[0]
    assert record.read_bytes()[:5] == b"%05d" % len(first)  # the lab's length prefix


def test_an_unknown_record_name_names_the_option_that_helps(tmp_path, capsys):
    code = main(["rtsp://127.0.0.1:9/movie", "--record", str(tmp_path / "x.txt")])
    assert code == ExitCode.FAILURE
    assert "--record-format lab|raw" in error_lines(capsys.readouterr().err)[0]
    assert "--record-format" in build_parser().format_help()  # "pass the format explicitly"


def test_record_format_without_record_is_a_usage_error(capsys):
    assert main(["rtsp://127.0.0.1:9/movie", "--record-format", "raw"]) == ExitCode.USAGE
    assert "needs --record" in capsys.readouterr().err


def test_sigterm_tears_down_and_prints_the_summary(tmp_path):
    stats = tmp_path / "stats.json"
    with FakeRTSPServer(standard) as fake:  # answers everything, sends no media
        proc = subprocess.Popen(
            [sys.executable, "-m", "rtsp_client", f"rtsp://127.0.0.1:{fake.port}/movie",
             "--rtp-timeout", "30", "--stats-json", str(stats)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while "PLAY" not in fake.methods() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "PLAY" in fake.methods()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        methods = fake.methods()
    assert proc.returncode == ExitCode.OK, err  # as for Ctrl-C
    assert methods[-1] == "TEARDOWN"
    assert "frames:" in out and "Traceback" not in err
    assert json.loads(stats.read_text())["reason"] == "terminated (SIGTERM)"


def test_the_command_line_takes_its_defaults_and_help_from_client_options():
    parser = build_parser()
    assert session_options(parser.parse_args(["rtsp://127.0.0.1/x"])) == ClientOptions()
    text = " ".join(parser.format_help().split())  # as one line, however argparse wrapped it
    for field in fields(ClientOptions):
        if field.name in ("transport", "rtp_port", "dialect", "timeout"):
            assert " ".join(field.metadata[HELP].split()) in text, field.name
    with pytest.raises(SystemExit):
        parser.parse_args(["rtsp://127.0.0.1/x", "--transport", "sctp"])


def test_an_rtp_port_in_use_is_named_not_errno(lab_movie, capsys):
    from local_ports import udp_port_pair

    from rtsp_server import RTSPServer
    from rtsp_server.options import ServerOptions

    rtp, rtcp = udp_port_pair()
    port = rtp.getsockname()[1]
    with (
        rtp,
        rtcp,
        RTSPServer(options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1")) as server,
    ):
        code = main(
            [f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg", "--rtp-port", str(port),
             "--frames", "1"]
        )  # fmt: skip
        assert server.stats()["sessions"] == 0  # nothing left behind on the server
    assert code == ExitCode.FAILURE
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "Errno" not in lines[0]
    assert lines[0].startswith(f"rtsp-client: error: UDP port {port} or {port + 1} (--rtp-port)")
