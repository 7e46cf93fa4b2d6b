"""The workbench commands given odd paths and unwritable outputs: one clear line and exit 2,
never a traceback; names with brackets are shown as typed, not read as console markup."""

from __future__ import annotations

import socket
import threading

from analysis_corpus import clean_session
from local_ports import LOOPBACK

from workbench.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_names_a_missing_capture_with_brackets_as_typed(tmp_path, capsys):
    absent = str(tmp_path / "take[/b]2.pcap")
    code, out, err = run(capsys, "check", absent)
    assert code == 2 and out == ""
    assert err.startswith("rtsp-workbench check: error: cannot check ") and "take[/b]2.pcap" in err


def test_check_keeps_brackets_in_the_capture_name(tmp_path, capsys):
    path = clean_session().write(tmp_path / "run[v2].pcap")
    code, out, _ = run(capsys, "check", str(path))
    assert code == 0 and "run[v2].pcap" in out


def test_check_cannot_write_its_reports(tmp_path, capsys):
    path = clean_session().write(tmp_path / "clean.pcap")
    blocker = tmp_path / "plain-file"
    blocker.write_text("a file, not a folder")
    for option in ("--json", "--junit"):
        code, _, err = run(capsys, "check", str(path), option, str(blocker / "out"))
        assert code == 2 and "cannot write" in err and str(blocker / "out") in err


def test_capture_refuses_a_duration_of_zero_or_less(tmp_path, capsys):
    for duration in ("0", "-1"):
        code, _, err = run(
            capsys, "capture", "--duration", duration, "-o", str(tmp_path / "c.pcap")
        )
        assert code == 2 and "above 0" in err
    assert not (tmp_path / "c.pcap").exists()


class MarkupReplyServer:
    """Answers every RTSP request with a status line that looks like console markup."""

    REPLY = b"RTSP/1.0 200 OK [/b] [bold]\r\nCSeq: 1\r\n\r\n"

    def __init__(self) -> None:
        self.sock = socket.create_server((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(1.0)
                try:
                    if conn.recv(65536):
                        conn.sendall(self.REPLY)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def test_probe_shows_a_hostile_reply_and_reports_an_unwritable_json(tmp_path, capsys):
    server = MarkupReplyServer()
    blocker = tmp_path / "plain-file"
    blocker.write_text("a file, not a folder")
    try:
        code, out, err = run(
            capsys,
            "probe",
            f"rtsp://{LOOPBACK}:{server.port}/x.Mjpeg",
            "--timeout",
            "0.5",
            "--rtp-wait",
            "0.2",
            "--json",
            str(blocker / "probe.json"),
        )
    finally:
        server.close()
    assert "[/b]" in out.replace("\n", "")
    assert code == 2 and "cannot write" in err


def test_probe_of_a_port_with_no_server_is_one_line(capsys):
    with socket.socket() as bound:  # bound, not listening: connections are refused
        bound.bind((LOOPBACK, 0))
        port = bound.getsockname()[1]
        code, out, err = run(capsys, "probe", f"rtsp://{LOOPBACK}:{port}/x.Mjpeg")
    assert code == 2 and out == ""
    assert err.strip() == (
        f"rtsp-workbench probe: error: connection refused by {LOOPBACK}:{port} "
        "(is an RTSP server listening there?)"
    )
