"""`rtsp-client`: exit codes, one-line reasons, recording, statistics."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest
from fake_rtsp import SDP, FakeRTSPServer, reply, standard
from local_ports import free_port
from media_samples import SUB_420, decode, noise_jpeg

from rtsp_client.cli import ExitCode, main
from rtsp_common.mjpeg import open_media
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions


@pytest.fixture(scope="module")
def server(lab_movie):
    with RTSPServer(
        options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1", fps=30)
    ) as running:
        yield running


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("rtsp-client:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_records_frames_and_statistics(server, lab_movie, tmp_path, capsys, transport):
    record = tmp_path / "out.Mjpeg"
    frames_dir = tmp_path / "frames"
    stats_file = tmp_path / "stats.json"
    url = f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg"
    code = main(
        [url, "--transport", transport, "--frames", "8", "--record", str(record),
         "--frames-dir", str(frames_dir), "--stats-json", str(stats_file)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == ExitCode.OK
    assert "frames:   8 complete, 0 incomplete" in out or "frames:   9 complete" in out
    with open_media(record) as recorded, open_media(lab_movie) as source:
        assert len(recorded) == 8
        for i in range(8):
            assert decode(recorded[i]).tobytes() == decode(source[i]).tobytes()
    assert len(list(frames_dir.glob("frame_*.jpg"))) == 8
    stats = json.loads(stats_file.read_text())
    assert stats["exit_code"] == 0 and stats["frames_complete"] >= 8
    assert stats["packets_lost"] == 0 and stats["reason"] == "received 8 frames"


def test_duration_stops_the_session(server, capsys):
    started = time.monotonic()
    code = main([f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg", "--duration", "0.4"])
    assert code == ExitCode.OK
    assert time.monotonic() - started < 4
    assert "complete" in capsys.readouterr().out


def test_connection_refused(capsys):
    code = main([f"rtsp://127.0.0.1:{free_port(socket.SOCK_STREAM)}/movie.Mjpeg"])
    assert code == ExitCode.CONNECT
    assert "connection refused" in one_line(capsys.readouterr().err)


def test_not_found(server, capsys):
    code = main([f"rtsp://127.0.0.1:{server.port}/missing.Mjpeg"])
    assert code == ExitCode.RTSP_STATUS
    assert "404" in one_line(capsys.readouterr().err)


def test_session_not_found(capsys):
    with FakeRTSPServer(lambda r: standard(r, status={"PLAY": 454})) as fake:
        code = main([f"rtsp://127.0.0.1:{fake.port}/movie"])
    assert code == ExitCode.RTSP_STATUS
    assert "PLAY failed: 454 Session Not Found" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("cseq", [b"CSeq: 999\r\n", b"CSeq: -1\r\n", b""])
def test_a_reply_with_a_wrong_cseq_is_one_line_of_violation(capsys, cseq):
    with FakeRTSPServer(lambda r: b"RTSP/1.0 200 OK\r\n" + cseq + b"\r\n") as fake:
        code = main([f"rtsp://127.0.0.1:{fake.port}/movie", "--timeout", "2"])
    assert code != ExitCode.OK
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.strip()] == [one_line(err)]
    assert "RFC 2326 §12.17" in err


def test_an_sdp_track_with_a_space_is_one_line_of_violation(capsys):
    def answer(request):
        if request.method != "DESCRIBE":
            return standard(request)
        sdp = SDP.replace(b"a=control:track1", b"a=control:track 1")
        return reply(request, headers=[("Content-Type", "application/sdp")], body=sdp)

    with FakeRTSPServer(answer) as fake:
        code = main([f"rtsp://127.0.0.1:{fake.port}/movie", "--timeout", "2"])
        methods = fake.methods()
    assert code != ExitCode.OK
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.strip()] == [one_line(err)]
    assert "unusable track" in err and "SETUP" not in methods


def test_no_rtp_after_play(capsys):
    with FakeRTSPServer(standard) as fake:  # answers everything, sends no media
        code = main([f"rtsp://127.0.0.1:{fake.port}/movie", "--rtp-timeout", "0.5"])
        methods = fake.methods()
    assert code == ExitCode.NO_RTP
    assert "no RTP within 0.5 s of PLAY" in one_line(capsys.readouterr().err)
    assert methods[-1] == "TEARDOWN"


def test_server_going_silent_mid_stream(small_jpegs, capsys):
    from rtsp_common.rtp import RTPPacket

    def handler(request):
        if request.method == "PLAY":
            port = int(setup_transport[0].split("client_port=")[1].split("-")[0])

            def send() -> None:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", 0))
                    for seq, jpeg in enumerate(small_jpegs[:3]):
                        packet = RTPPacket(26, seq, seq * 3000, 7, True, jpeg)
                        udp.sendto(packet.to_bytes(), ("127.0.0.1", port))
                        time.sleep(0.03)  # then nothing more: the server went quiet

            threading.Thread(target=send, daemon=True).start()
        if request.method == "SETUP":
            setup_transport.append(request.headers["Transport"])
        return standard(request)

    setup_transport: list[str] = []
    with FakeRTSPServer(handler) as fake:
        code = main([f"rtsp://127.0.0.1:{fake.port}/movie", "--rtp-timeout", "0.5"])
    assert code == ExitCode.SERVER_GONE
    captured = capsys.readouterr()
    assert "server gone: no RTP for 0.5 s" in one_line(captured.err)
    assert "frames:   3 complete, 0 incomplete" in captured.out


def test_server_gone_mid_stream(lab_movie, capsys):
    server = RTSPServer(options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1", fps=30))
    server.__enter__()
    stopper = threading.Timer(0.6, server.__exit__, args=(None, None, None))
    stopper.start()
    try:
        code = main([f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg", "--rtp-timeout", "1"])
    finally:
        stopper.join()
    assert code == ExitCode.SERVER_GONE
    assert "server gone" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("how", ["bye", "connection"])
def test_a_stopped_stream_ends_the_session_long_before_the_silence_timeout(lab_movie, capsys, how):
    # While frames flow the main thread sleeps until --rtp-timeout of silence; the server's
    # BYE (end of a clip not looped) or its closed connection must wake it at once.
    timeout = 60.0
    server = RTSPServer(options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1", fps=240))
    server.__enter__()
    stopper = threading.Timer(0.5, server.__exit__, args=(None, None, None))
    if how == "connection":
        stopper.start()
    started = time.monotonic()
    try:
        code = main([f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg", "--rtp-timeout", str(timeout)])
    finally:
        if how == "connection":
            stopper.join()
        else:
            server.__exit__(None, None, None)
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    if how == "bye":
        assert code == ExitCode.OK and "frames:   240 complete" in captured.out, captured
    else:
        assert code == ExitCode.SERVER_GONE and "server gone" in one_line(captured.err)
    assert elapsed < timeout / 4, elapsed


def test_lab_dialect_from_the_command_line(lab_movie, tmp_path, capsys):
    from lab_server import LabServer

    record = tmp_path / "lab.Mjpeg"
    with LabServer(lab_movie) as lab:
        code = main(
            [f"rtsp://127.0.0.1:{lab.port}/movie.Mjpeg", "--dialect", "lab", "--frames", "3",
             "--record", str(record)]
        )  # fmt: skip
    assert code == ExitCode.OK
    with open_media(record) as recorded, open_media(lab_movie) as source:
        assert [recorded[i] for i in range(3)] == [source[i] for i in range(3)]


def test_console_entry_point_runs(server):
    result = subprocess.run(
        [sys.executable, "-m", "rtsp_client", f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg",
         "--frames", "2"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "frames:" in result.stdout


def test_bad_url_is_a_usage_error(capsys):
    assert main(["http://example.com/x"]) == ExitCode.USAGE
    assert "not an rtsp:// URL" in capsys.readouterr().err


def test_a_frame_too_big_for_the_lab_format_is_a_clear_failure(tmp_path, capsys):
    noise = noise_jpeg((400, 304), 1, quality=95, subsampling=SUB_420)
    assert len(noise) > 99_999
    clip = tmp_path / "big.mjpeg"
    clip.write_bytes(noise * 3)
    with RTSPServer(options=ServerOptions(port=0, media=clip, host="127.0.0.1", fps=30)) as big:
        code = main(
            [f"rtsp://127.0.0.1:{big.port}/big.mjpeg", "--frames", "2",
             "--record", str(tmp_path / "out.Mjpeg")]
        )  # fmt: skip
    assert code == ExitCode.FAILURE
    assert "99" in one_line(capsys.readouterr().err)


def test_status_line_and_summary_show_the_figures():
    from rtsp_client.cli import status_line, summary
    from rtsp_client.stats import ReceptionStats

    stats = ReceptionStats(
        packets_expected=100, packets_received=97, packets_lost=3, loss_percent=3.0,
        jitter_ms=1.25, frames_complete=40, frames_incomplete=1, fps=29.5,
        bitrate_kbps=2900.0, average_fps=30.0, average_bitrate_kbps=2950.0, elapsed=1.3,
        dropped={"foreign_ssrc": 2},
    )  # fmt: skip
    line = status_line(stats)
    for text in ("29.5 fps", "2900.0 kbit/s", "loss  3.00%", "jitter   1.25 ms"):
        assert text in line
    assert "\n" not in line
    report = summary(stats)
    assert all(len(line) <= 80 for line in report.splitlines())
    assert "40 complete, 1 incomplete" in report
    assert "97 received of 100 expected, 3 lost (3.00%)" in report
    assert "foreign_ssrc 2" in report


def test_jitter_on_an_unknown_clock_is_said_not_measured():
    from rtsp_client.cli import status_line, summary
    from rtsp_client.stats import ReceptionStats

    stats = ReceptionStats(jitter_ms=None, frames_complete=3, packets_received=3)
    assert "jitter      –" in status_line(stats)
    assert "jitter:   not measured" in summary(stats)


def test_the_summary_breaks_between_items_never_inside_one():
    from rtsp_client.cli import summary
    from rtsp_client.stats import ReceptionStats

    stats = ReceptionStats(
        packets_expected=1_234_567, packets_received=1_234_000, packets_lost=567,
        loss_percent=0.05, duplicates=12, reordered=345, jitter_ms=0.5,
        dropped={"foreign_address": 123_456, "foreign_ssrc": 7, "malformed_rtcp": 3,
                 "over_size_cap": 1, "wrong_payload_type": 2},
    )  # fmt: skip
    lines = summary(stats).splitlines()
    assert all(len(line) <= 80 for line in lines)
    text = " ".join(line.strip() for line in lines)
    for item in ("1234000 received of 1234567 expected", "345 reordered", "wrong_payload_type 2"):
        assert item in text


def test_the_live_line_drops_items_rather_than_wrap():
    from rtsp_client.cli import status_line
    from rtsp_client.stats import ReceptionStats

    stats = ReceptionStats(frames_complete=12, fps=20, jitter_ms=0.4)
    assert "jitter" in status_line(stats, 80)
    narrow = status_line(stats, 40)
    assert len(narrow) < 40 and "frames" in narrow and "jitter" not in narrow
