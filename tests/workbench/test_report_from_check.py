"""Report parts read from a checked capture: a crafted session with a pause, no root needed.

analysis.craft.session_builder builds the capture (RTSP over TCP, RFC 2435 over UDP, a PAUSE and a
second PLAY); analysis.check reads it; the report turns it into ladder, statistics,
series with the pause marked, and capture-derived functional tests.
"""

from __future__ import annotations

import pytest

from analysis.craft.session_builder import SessionBuilder
from workbench.report.build import analyse_capture, build_report, capture_origin
from workbench.report.from_capture import add_capture_tests
from workbench.report.from_check import series_from_stream
from workbench.report.functional import TestBook
from workbench.report.i18n import Catalog
from workbench.report.model import Outcome
from workbench.report.render import render_report

FRAMES_BEFORE, FRAMES_AFTER = 8, 6
PAUSE_S = 1.0


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    b = SessionBuilder(initial_seq=65530)  # wraps around during the session
    b.handshake()
    b.options()
    b.describe()
    b.setup()
    b.play()
    b.frames(FRAMES_BEFORE)
    b.pause()
    b.advance(PAUSE_S)
    b.play()
    b.frames(FRAMES_AFTER)
    b.teardown()
    path = b.write(tmp_path_factory.mktemp("crafted") / "session.pcap")
    return analyse_capture(path, tshark=False)


def test_ladder_holds_every_message_in_order(crafted):
    catalog = Catalog.load("en")
    report = build_report(catalog, "crafted", [], crafted, crafted.path.parent / "r1")
    assert len(report.ladder) == 1
    messages = report.ladder[0].messages
    methods = [m.first_line.split(" ")[0] for m in messages if m.from_client]
    assert methods == ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "PLAY", "TEARDOWN"]
    replies = [m for m in messages if not m.from_client]
    assert len(replies) == 7 and all(m.status == 200 for m in replies)
    assert [m.from_client for m in messages] == [True, False] * 7
    times = [m.time for m in messages]
    assert times == sorted(times) and times[0] >= 0
    assert "CSeq: 1" in messages[0].text


def test_series_mark_the_pause_and_unwrap_sequence_numbers(crafted):
    check = crafted.check
    (stream,) = check.streams
    session = check.sessions[0]
    (pause,) = [(a[1], b[0]) for a, b in zip(session.playing, session.playing[1:])]
    series = series_from_stream(stream, capture_origin(check), pauses=[pause])
    assert len(series.pauses) == 1
    start, end = series.pauses[0]
    assert end - start == pytest.approx(PAUSE_S, abs=0.05)
    assert series.sequence == sorted(series.sequence)  # 65530 ... past 65535, unwrapped
    assert series.sequence[-1] - series.sequence[0] == len(series.sequence) - 1
    assert len(series.frame_sizes) == FRAMES_BEFORE + FRAMES_AFTER
    assert len(series.jitter_ms) == len(series.arrival)


def test_stats_plots_and_capture_tests(crafted, tmp_path):
    catalog = Catalog.load("en")
    book = TestBook(catalog)
    add_capture_tests(book, crafted)
    exchanges = [t for t in book.tests if t.title.startswith("RTSP exchange")]
    assert len(exchanges) == 7 and all(t.passed for t in exchanges)
    streams = [t for t in book.tests if t.title.startswith("RTP stream")]
    assert len(streams) == 1 and streams[0].passed
    report = build_report(catalog, "crafted", book.tests, crafted, tmp_path)
    (row,) = report.stats
    assert (row.packets, row.lost, row.frames) == (
        crafted.check.streams[0].stats.packets,
        0,
        FRAMES_BEFORE + FRAMES_AFTER,
    )
    assert {p.image for p in report.plots} == {
        "stream1-timing.png",
        "stream1-seq-ts.png",
        "stream1-frames.png",
    }
    assert all((tmp_path / p.image).is_file() for p in report.plots)
    assert report.conformance and all(r.rfc.startswith(("RFC", "ITU")) for r in report.conformance)
    rendered = render_report(report, tmp_path, catalog)
    assert "RTSP exchange 7: TEARDOWN" in rendered.markdown.read_text(encoding="utf-8")


def test_a_refusal_is_judged_against_what_the_request_deserved(tmp_path):
    b = SessionBuilder()
    b.handshake()
    b.request("PLAY", [])
    b.response(455, "Method Not Valid in This State")
    b.request("FROBNICATE", [])
    b.response(200, "OK")  # should have been 501
    analysed = analyse_capture(b.write(tmp_path / "refusals.pcap"), tshark=False)
    book = TestBook(Catalog.load("en"))
    add_capture_tests(book, analysed)
    play, frob = book.tests[0], book.tests[1]
    assert play.outcome is Outcome.PASSED and "455" in play.observed
    assert frob.outcome is Outcome.FAILED and "501" in frob.observed


def test_report_command_finds_rtp_by_port_without_the_rtsp_part(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    b = SessionBuilder(client_rtp_port=5004)
    b.frames(3)  # RTP alone, too few packets for the heuristic: only the port names it
    pcap = b.write(tmp_path / "rtp-only.pcap")
    script = Path(sys.executable).parent / "rtsp-workbench"

    def report(folder: str, *extra: str) -> str:
        done = subprocess.run(
            [str(script), "report", str(pcap), "-o", str(tmp_path / folder), *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode in (0, 1), done.stderr
        return (tmp_path / folder / "report.md").read_text(encoding="utf-8")

    assert "RTP stream 0x1A2B3C4D" not in report("plain")
    md = report("by-port", "--rtp-port", "5004")
    assert "RTP stream 0x1A2B3C4D" in md
    packets = len(b.packets)
    assert f"| {packets} | 0 |" in md  # every packet, none lost, in the statistics table


def test_conformance_is_not_passed_on_a_capture_missing_the_sessions(crafted):
    from analysis.capture.live import CaptureSummary
    from workbench.report.build import CaptureStage, judge_capture

    summary = CaptureSummary(crafted.path, "lo", 100, 200, 0, 1.0, ())
    stage = CaptureStage(crafted.path, summary=summary)
    book = TestBook(Catalog.load("en"))
    # the crafted capture is clean but holds one session where the demo needs two
    judge_capture(book, stage, crafted, expected_sessions=3)
    read, conformance, wireshark = book.tests
    assert read.outcome is Outcome.FAILED  # 1 session with RTP, 3 expected
    assert conformance.outcome is Outcome.FAILED
    assert "holds 1 sessions of our server with RTP, not 2" in conformance.observed
    assert wireshark.outcome is Outcome.NOT_RUN  # analyse_capture ran without tshark


def test_screenshots_from_the_captured_frames(crafted, tmp_path):
    from PIL import Image

    from workbench.report.capture_frames import capture_screenshots

    shots = capture_screenshots(crafted.check, tmp_path, Catalog.load("en"))
    assert [s.label.split(": ")[1] for s in shots] == [
        "first frame received",
        "last frame before PAUSE",
        "first frame after resuming",
        "last frame received",
    ]
    for shot in shots:
        assert shot.source_image is None  # no source clip given
        assert shot.received_frame_number is None  # crafted frames carry no frame code
        with Image.open(tmp_path / shot.received_image) as image:
            assert image.format == "PNG" and image.width > 0


def test_report_refuses_an_unreadable_source_clip(crafted, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    junk = tmp_path / "junk.Mjpeg"
    junk.write_bytes(b"junk")
    script = Path(sys.executable).parent / "rtsp-workbench"
    done = subprocess.run(
        [
            str(script),
            "report",
            str(crafted.path),
            "-o",
            str(tmp_path / "r"),
            "--source",
            str(junk),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "cannot read the source clip" in done.stderr and "Traceback" not in done.stderr


def test_paths_that_look_like_console_markup_are_printed_as_text(crafted, tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    capture = tmp_path / "cap[bold].pcap"
    shutil.copy(crafted.path, capture)
    out = tmp_path / "out[" / "x]"  # printed as 'out[/x]', a closing tag with no opening one
    script = Path(sys.executable).parent / "rtsp-workbench"
    done = subprocess.run(
        [str(script), "report", str(capture), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr
    assert f"report: {out / 'index.html'}" in done.stdout.replace("\n", "")


def test_a_digest_challenge_answered_with_credentials_is_a_normal_step(tmp_path):
    """Cameras answer a first DESCRIBE with 401 and a Digest challenge (RFC 7616); the
    client retries with credentials. The 401 is a step of that exchange, not a failure;
    a 401 nobody answers still is."""
    b = SessionBuilder()
    b.handshake()
    b.request("DESCRIBE", [("Accept", "application/sdp")])
    b.response(401, "Unauthorized", [("WWW-Authenticate", 'Digest realm="cam", nonce="4f1a"')])
    credentials = 'Digest username="admin", realm="cam", nonce="4f1a", uri="x", response="9c"'
    b.request("DESCRIBE", [("Accept", "application/sdp"), ("Authorization", credentials)])
    b.response(headers=[("Content-Type", "application/sdp")], body=b.sdp())
    b.request("SETUP", [("Transport", "RTP/AVP;unicast;client_port=5000-5001")])
    b.response(401, "Unauthorized")  # no retry follows
    analysed = analyse_capture(b.write(tmp_path / "digest.pcap"), tshark=False)
    book = TestBook(Catalog.load("en"))
    add_capture_tests(book, analysed)
    challenge, retry, setup = book.tests[:3]
    assert challenge.outcome is Outcome.PASSED and "authentication challenge" in challenge.observed
    assert retry.outcome is Outcome.PASSED
    assert setup.outcome is Outcome.FAILED


def test_an_audio_stream_is_judged_on_packets_not_frames(tmp_path):
    from analysis.craft.synth import PcapSynth, rtp_header

    synth = PcapSynth()
    for i in range(100):  # PCMU, 20 ms packets, marker on the first only (a talkspurt)
        synth.udp(
            5 + i * 0.02, ("10.4.0.1", 4000), ("10.4.0.2", 4000),
            rtp_header(i + 1, 900 + 160 * i, 0x0A0D, 0, i == 0) + bytes(160),
        )  # fmt: skip
    analysed = analyse_capture(synth.write(tmp_path / "audio.pcap"), tshark=False)
    book = TestBook(Catalog.load("en"))
    add_capture_tests(book, analysed)
    (stream,) = [t for t in book.tests if "0x00000A0D" in t.title]
    assert stream.outcome is Outcome.PASSED
    assert stream.observed == "100 packets, 0 lost, PCMU/8000 (RFC 3551 static payload type)"


def test_a_long_connection_is_drawn_by_its_head_and_tail_with_the_count_left_out(tmp_path):
    from workbench.report.from_check import LADDER_HEAD, LADDER_TAIL

    b = SessionBuilder()
    b.handshake()
    b.describe()
    b.setup()
    b.play()
    keepalives = 300  # hours of a camera's keep-alives, each a request and its reply
    for _ in range(keepalives):
        b.options()
        b.advance(0.5)
    b.teardown()
    analysis = analyse_capture(b.write(tmp_path / "long.pcap"), tshark=False)
    report = build_report(Catalog.load("en"), "long", [], analysis, tmp_path / "r")
    (ladder,) = report.ladder
    total = 2 * (4 + keepalives)
    assert len(ladder.messages) == LADDER_HEAD + LADDER_TAIL
    assert ladder.left_out == total - LADDER_HEAD - LADDER_TAIL
    assert ladder.messages[0].first_line.startswith("DESCRIBE")
    assert ladder.messages[-2].first_line.startswith("TEARDOWN")
    drawn = [m.first_line.split(" ")[0] for m in ladder.messages if m.from_client]
    # DESCRIBE, SETUP, PLAY and 17 keep-alives at the head; 4 keep-alives and TEARDOWN at the end
    assert drawn == ["DESCRIBE", "SETUP", "PLAY"] + ["OPTIONS"] * 21 + ["TEARDOWN"]
    rendered = render_report(report, tmp_path / "r", Catalog.load("en"))
    markdown = rendered.markdown.read_text()
    assert markdown.count("-- OPTIONS rtsp://") == 21
    for text in (rendered.html.read_text(), markdown):
        assert f"{ladder.left_out:,} messages left out" in text


def test_only_the_first_connections_are_drawn_and_the_rest_counted(tmp_path, monkeypatch):
    from workbench.report import build

    monkeypatch.setattr(build, "MAX_LADDER_CONNECTIONS", 1)
    b = SessionBuilder()
    b.start()
    b.teardown()
    b.close()
    second = SessionBuilder(client_tcp_port=40001, session_id="1B2C", start_time=1_700_000_010.0)
    second.start()
    second.teardown()
    b.packets += second.packets
    path = b.write(tmp_path / "two.pcap")
    analysis = analyse_capture(path, tshark=False)
    assert len(analysis.check.connections) == 2
    report = build_report(Catalog.load("pt"), "two", [], analysis, tmp_path / "r")
    assert len(report.ladder) == 1 and report.ladder_left_out == 1
    rendered = render_report(report, tmp_path / "r", Catalog.load("pt"))
    assert "Outras 1 conexões RTSP" in rendered.html.read_text()
    assert "Outras 1 conexões RTSP" in rendered.markdown.read_text()
