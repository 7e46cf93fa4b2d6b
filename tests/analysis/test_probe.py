"""analysis.probe.battery: reply framing, and the battery against GStreamer and misbehaving servers."""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import Iterator

import pytest
from gst_peer import gst_rtsp_server, make_mkv_clip, require_gst_peer
from hypothesis import given, settings
from hypothesis import strategies as st
from lab_server import LabServer
from scripted_rtsp import ScriptedServer, cseq_of
from server_process import rtsp_server_process

from analysis.probe.battery import CASE_IDS, Verdict, run_probe
from analysis.probe.channel import socket_environment
from analysis.probe.wire import (
    Reply,
    ReplyError,
    ReplyReader,
    Target,
    build_request,
    raw_request,
    sdp_setup_urls,
)
from workbench.commands import probe as probe_command

# --- wire: requests and reply framing -----------------------------------------------------


def test_build_request_is_crlf_with_headers_and_body():
    data = build_request(
        "SETUP", "rtsp://h:1/x", [("CSeq", "3"), ("Transport", "RTP/AVP")], body=b"abc"
    )
    assert data.startswith(b"SETUP rtsp://h:1/x RTSP/1.0\r\n")
    assert b"CSeq: 3\r\n" in data and b"Content-Length: 3\r\n" in data
    assert data.endswith(b"\r\n\r\nabc")


def test_raw_request_lab_form():
    data = raw_request("SETUP movie.Mjpeg RTSP/1.0", [("CSeq", "1")], line_end="\n")
    assert data == b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\n\n"


def test_reply_reader_frames_split_replies_bodies_and_interleaved():
    reader = ReplyReader()
    stream = (
        b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 4\r\n\r\nv=0\n"
        b"$\x00\x00\x03abc"
        b"RTSP/1.0 454 Session Not Found\nCSeq: 2\n\n"
    )
    replies = []
    for i in range(0, len(stream), 7):
        replies += reader.feed(stream[i : i + 7])
    assert [r.status for r in replies] == [200, 454]
    assert replies[0].body == b"v=0\n" and replies[0].cseq == "1"
    assert replies[1].reason == "Session Not Found" and replies[1].line_ending == "\n"
    assert reader.skipped_interleaved == 1 and not reader.buffer


def test_reply_reader_flushes_a_reply_without_its_empty_line():
    reader = ReplyReader()
    assert reader.feed(b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456") == []
    reply = reader.flush_unterminated()
    assert reply.unterminated and reply.cseq == "1" and reply.get("Session") == "123456"
    assert reader.flush_unterminated() is None and not reader.buffer


@pytest.mark.parametrize(
    "junk, message",
    [
        (b"HTTP/1.1 200 OK\r\n\r\n", "bad status line"),
        (b"hello there", "not an RTSP reply"),
        (b"RTSP/1.0 200 OK\r\nno colon here\r\n\r\n", "without a colon"),
        (b"RTSP/1.0 200 OK\r\nContent-Length: -5\r\n\r\n", "Content-Length"),
    ],
)
def test_reply_reader_rejects_junk_with_a_reason(junk, message):
    with pytest.raises(ReplyError, match=message):
        ReplyReader().feed(junk)


def test_setup_urls_follow_content_base_and_control():
    body = b"v=0\r\nm=video 0 RTP/AVP 26\r\na=control:stream=0\r\n"
    reply = Reply("RTSP/1.0", 200, "OK", (("Content-Base", "rtsp://h:1/clip/"),), body)
    assert sdp_setup_urls(reply, "rtsp://h:1/clip") == ["rtsp://h:1/clip/stream=0"]
    absolute = Reply("RTSP/1.0", 200, "OK", (), b"m=video 0 RTP/AVP 26\na=control:rtsp://x/t\n")
    assert sdp_setup_urls(absolute, "rtsp://h:1/clip") == ["rtsp://x/t"]


def test_target_parse():
    t = Target.parse("rtsp://127.0.0.1:8554/clip")
    assert (t.host, t.port, t.path) == ("127.0.0.1", 8554, "/clip")
    assert Target.parse("rtsp://cam/").port == 554
    with pytest.raises(ValueError, match="rtsp://"):
        Target.parse("http://x/y")


# --- servers to probe -------------------------------------------------------------------


def _probe(port: int, path: str = "/clip", rtp_wait: float = 0.2):
    target = Target("127.0.0.1", port, path)
    return run_probe(target, socket_environment(target, timeout=2.0, rtp_wait=rtp_wait))


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    probe_command.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def yes_server() -> Iterator[ScriptedServer]:
    """Answers 200 OK (CSeq echoed, a Session) to everything, whatever it was."""
    server = ScriptedServer(
        lambda req: (
            f"RTSP/1.0 200 OK\r\nCSeq: {cseq_of(req)}\r\nSession: 12345678\r\n\r\n"
        ).encode()
    )
    yield server
    server.close()


def test_probe_fires_on_a_server_that_says_yes_to_everything(yes_server, tmp_path):
    report = _probe(yes_server.port)
    by_case = {r.case: r for r in report.results}
    assert [r.case for r in report.results] == list(CASE_IDS)
    for case in (
        "play_before_setup",
        "wrong_session",
        "unknown_method",
        "path_traversal",
        "bad_transport",
        "wrong_version",
    ):
        assert by_case[case].verdict is Verdict.FAIL, by_case[case]
        assert "answered RTSP/1.0 200 OK; expected" in by_case[case].reason
    assert by_case["describe"].verdict is Verdict.FAIL
    assert "Content-Type" in by_case["describe"].reason
    assert by_case["setup"].verdict is Verdict.FAIL
    assert "client_port" in by_case["setup"].reason
    assert by_case["interleaved"].verdict is Verdict.FAIL
    assert "do not confirm interleaving" in by_case["interleaved"].reason
    assert by_case["missing_cseq"].verdict is Verdict.WARN
    assert by_case["oversized_header"].verdict is Verdict.WARN
    assert by_case["play"].verdict is Verdict.WARN  # 200, but no RTP came
    assert report.failed
    out = tmp_path / "probe.json"
    assert (
        _run_cli(
            [
                "probe",
                f"rtsp://127.0.0.1:{yes_server.port}/clip",
                "--rtp-wait",
                "0.1",
                "--timeout",
                "2",
                "--json",
                str(out),
            ]
        )
        == 1
    )
    saved = json.loads(out.read_text())
    assert saved["counts"]["fail"] >= 6
    assert {r["case"] for r in saved["results"]} == set(CASE_IDS)


def test_probe_fails_a_server_that_does_not_echo_cseq():
    server = ScriptedServer(lambda req: b"RTSP/1.0 200 OK\r\nCSeq: 999\r\n\r\n")
    try:
        report = _probe(server.port)
    finally:
        server.close()
    options = report.results[0]
    assert options.verdict is Verdict.FAIL and "§12.17" in options.reason


def test_probe_reports_a_server_that_hangs_up():
    server = ScriptedServer(lambda req: None)
    try:
        report = _probe(server.port)
    finally:
        server.close()
    options = report.results[0]
    assert options.verdict is Verdict.FAIL and "closed" in options.reason
    assert report.failed


def test_probe_of_a_closed_port_says_it_could_not_connect():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report = _probe(port)
    assert all(r.verdict is Verdict.FAIL for r in report.results)
    assert "could not connect" in report.results[0].reason


def test_cli_rejects_a_non_rtsp_url(capsys):
    assert _run_cli(["probe", "http://example/x"]) == 2
    assert "rtsp://" in capsys.readouterr().err


# --- GStreamer's rtsp-server as the reference peer -----------------------------------------


@pytest.fixture(scope="module")
def gst_server(tmp_path_factory) -> Iterator[int]:
    """GStreamer's rtsp-server on a free port, serving a 2 s clip at /clip."""
    require_gst_peer()
    with gst_rtsp_server(make_mkv_clip(tmp_path_factory.mktemp("gst"))) as peer:
        yield peer.port


@pytest.mark.interop
def test_probe_gstreamer_rtsp_server(gst_server, tmp_path):
    report = _probe(gst_server, rtp_wait=3.0)
    by_case = {r.case: r for r in report.results}
    for case in ("options", "describe", "setup", "play", "teardown"):
        assert by_case[case].verdict is Verdict.PASS, by_case[case]
    assert "RTP arrived" in by_case["play"].reason
    assert by_case["missing_cseq"].status == 400
    assert by_case["play_before_setup"].status in (454, 455)
    assert by_case["wrong_session"].status == 454
    assert by_case["path_traversal"].status == 404
    assert by_case["bad_transport"].status == 461
    assert by_case["interleaved"].verdict is Verdict.PASS
    assert "'$' frame(s) arrived" in by_case["interleaved"].reason
    assert not report.failed, [r for r in report.results if r.verdict is Verdict.FAIL]
    out = tmp_path / "gst.json"
    assert _run_cli(["probe", f"rtsp://127.0.0.1:{gst_server}/clip", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["counts"]["fail"] == 0


# --- the project's own server, as a user would run it ---------------------------------------


@pytest.fixture
def our_server(lab_movie) -> Iterator[int]:
    """`rtsp-server` on a free port, serving the lab's movie; yields the port."""
    with rtsp_server_process(lab_movie) as server:
        yield server.port


def test_probe_passes_the_project_server_on_every_case(our_server):
    # Every case, the interleaved TCP one included.
    report = _probe(our_server, path="/movie.Mjpeg", rtp_wait=3.0)
    assert [r.case for r in report.results] == list(CASE_IDS)
    not_passed = [r for r in report.results if r.verdict is not Verdict.PASS]
    assert not not_passed, not_passed
    by_case = {r.case: r for r in report.results}
    assert by_case["wrong_version"].status == 505
    assert by_case["unknown_method"].status == 501
    assert by_case["oversized_header"].status in (400, 413)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=6))
def test_reply_reader_raises_only_reply_error(chunks):
    reader = ReplyReader()
    try:
        for chunk in chunks:
            for reply in reader.feed(chunk):
                assert 100 <= reply.status <= 999
    except ReplyError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.integers(100, 599), st.binary(max_size=50), st.integers(1, 30))
def test_reply_reader_round_trip_in_any_chunking(status, body, step):
    wire = (
        f"RTSP/1.0 {status} Some Reason\r\nCSeq: 7\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    reader = ReplyReader()
    replies = []
    for i in range(0, len(wire), step):
        replies += reader.feed(wire[i : i + step])
    assert len(replies) == 1
    assert (replies[0].status, replies[0].cseq, replies[0].body) == (status, "7", body)


def test_probe_names_a_reply_that_is_not_rtsp():
    server = ScriptedServer(lambda req: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    try:
        report = _probe(server.port)
    finally:
        server.close()
    options = report.results[0]
    assert options.verdict is Verdict.FAIL
    assert "unreadable reply" in options.reason and "status line" in options.reason


@pytest.mark.slow
def test_probe_names_the_lab_servers_faults(lab_movie):
    """The lab's server: replies lack the closing empty line, odd requests get silence."""
    with LabServer(lab_movie) as server:
        target = Target("127.0.0.1", server.port, "/movie.Mjpeg")
        report = run_probe(target, socket_environment(target, timeout=1.0, rtp_wait=0.5))
    by_case = {r.case: r for r in report.results}
    setup = by_case["setup"]
    assert setup.verdict is Verdict.FAIL and setup.status == 200
    assert "empty line" in setup.reason and "§7" in setup.reason
    # The session it assigned is still used for PLAY.
    assert by_case["play"].verdict is Verdict.FAIL and "empty line" in by_case["play"].reason
    assert by_case["unknown_method"].verdict is Verdict.FAIL
    assert "no reply" in by_case["unknown_method"].reason
    assert report.failed
