"""The report renders from its model: HTML and Markdown, both languages, images beside it."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from workbench.report import (
    ConformanceRow,
    FunctionalTest,
    LadderMessage,
    LadderSession,
    Outcome,
    Report,
    Screenshot,
    StatRow,
    StreamSeries,
)
from workbench.report.i18n import Catalog
from workbench.report.ladder import text_arrow, text_ladder
from workbench.report.plots import plot_stream
from workbench.report.render import render_report


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.text.append(data)


def _series() -> StreamSeries:
    arrival = [i * 0.05 for i in range(40)] + [3.0 + i * 0.05 for i in range(40)]
    return StreamSeries(
        label="UDP",
        arrival=arrival,
        sequence=list(range(1000, 1080)),
        timestamp=[5000 + 4500 * i for i in range(80)],
        jitter_ms=[0.1 * (i % 7) for i in range(80)],
        frame_arrival=arrival,
        frame_sizes=[9000 + (i % 5) * 100 for i in range(80)],
        pauses=[(2.0, 3.0)],
    )


def _report(folder: Path, catalog: Catalog, failed: bool = False) -> Report:
    Image.new("RGB", (32, 24), "red").save(folder / "shot-received.png")
    Image.new("RGB", (32, 24), "blue").save(folder / "shot-source.png")
    plots = plot_stream(_series(), folder, "udp", catalog)
    tests = [
        FunctionalTest(
            1,
            "OPTIONS",
            "sent OPTIONS",
            "200 OK",
            "200 OK",
            Outcome.PASSED,
            ["RTSP/1.0 200 OK\r\nCSeq: 1"],
        ),
        FunctionalTest(
            2,
            "PLAY before SETUP <455>",
            "sent PLAY",
            "455",
            "454" if failed else "455",
            Outcome.FAILED if failed else Outcome.PASSED,
        ),
    ]
    return Report(
        title=catalog.t("report.title"),
        subject="unit test",
        created="2026-01-01 00:00:00 UTC",
        functional_tests=tests,
        screenshots=[Screenshot("first", "shot-received.png", "shot-source.png", 0, 0)],
        plots=plots,
        stats=[StatRow("UDP | ssrc 0x1", 80, 0, 0.0, 0.42, 1500.0, 20.0, 80)],
        conformance=[
            ConformanceRow("RTP-SEQ-1", "RFC 3550 §5.1", "error", "sequence +1", True),
            ConformanceRow("LAB-FMT-1", "RFC 2435 §3", "warning", "lab format", False, 3, "#4, #5"),
        ],
        ladder=[
            LadderSession(
                "connection 1",
                [
                    LadderMessage(
                        True,
                        "OPTIONS rtsp://127.0.0.1/x RTSP/1.0",
                        "OPTIONS rtsp://127.0.0.1/x RTSP/1.0\r\nCSeq: 1\r\n\r\n",
                        0.001,
                    ),
                    LadderMessage(
                        False, "RTSP/1.0 200 OK", "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n", 0.002, 200
                    ),
                ],
            )
        ],
        capture=Path("pcaps/x.pcap"),
        wireshark_command="wireshark -r pcaps/x.pcap",
    )


def test_unknown_language_names_the_choices():
    with pytest.raises(ValueError, match="en, pt"):
        Catalog.load("xx")


def test_html_and_markdown_show_every_part(tmp_path):
    catalog = Catalog.load("en")
    report = _report(tmp_path, catalog)
    out = render_report(report, tmp_path, catalog)
    html = out.html.read_text(encoding="utf-8")
    parser = _Collector()
    parser.feed(html)
    # every image the page shows is a relative file that exists beside it
    assert len(parser.images) == 2 + len(report.plots)
    for src in parser.images:
        assert not src.startswith(("/", "http")), src
        assert (tmp_path / src).is_file(), src
    text = "".join(parser.text)
    assert "Functional tests performed" in text
    assert "All 2 functional tests passed." in text
    assert "PLAY before SETUP <455>" in text  # escaped in HTML, shown as text
    assert "&lt;455&gt;" in html
    assert "RFC 3550 §5.1" in text and "LAB-FMT-1" in text
    assert "OPTIONS rtsp://127.0.0.1/x RTSP/1.0" in text
    md = out.markdown.read_text(encoding="utf-8")
    assert "## 1. Functional tests performed" in md
    for test in report.functional_tests:
        assert f"### {test.number}. {test.title} — passed" in md
    for plot in report.plots:
        assert f"]({plot.image})" in md


def test_plots_are_pngs_of_sensible_size(tmp_path):
    catalog = Catalog.load("en")
    plots = plot_stream(_series(), tmp_path, "s", catalog)
    assert {p.image for p in plots} == {"s-timing.png", "s-seq-ts.png", "s-frames.png"}
    for plot in plots:
        with Image.open(tmp_path / plot.image) as image:
            assert image.format == "PNG"
            assert image.width > 300 and image.height > 200


def test_too_short_stream_gives_no_plot(tmp_path):
    series = StreamSeries("one", arrival=[0.0], sequence=[1], timestamp=[1])
    assert plot_stream(series, tmp_path, "x", Catalog.load("en")) == []


def test_portuguese_report(tmp_path):
    catalog = Catalog.load("pt")
    out = render_report(_report(tmp_path, catalog, failed=True), tmp_path, catalog)
    html = out.html.read_text(encoding="utf-8")
    assert 'lang="pt"' in html
    for heading in (
        "Relatório",
        "Testes de funcionamento realizados",
        "Resultados obtidos",
        "Capturas de tela",
    ):
        assert heading in html
    assert "1 dos 2 testes de funcionamento falharam" in html
    md = out.markdown.read_text(encoding="utf-8")
    assert "### 2. PLAY before SETUP <455> — falhou" in md


def test_failed_report_has_nonzero_exit_code(tmp_path):
    catalog = Catalog.load("en")
    report = _report(tmp_path, catalog, failed=True)
    assert not report.passed
    assert report.exit_code() == 1
    assert report.counts[Outcome.FAILED] == 1
    html = render_report(report, tmp_path, catalog).html.read_text(encoding="utf-8")
    assert 'data-test="2" data-outcome="failed"' in html
    assert "1 of 2 functional tests failed" in html


def test_empty_report_does_not_pass():
    report = Report("t", "s", "now")
    assert not report.passed and report.exit_code() == 1


def test_text_ladder_arrows_point_the_right_way():
    request = LadderMessage(True, "PLAY rtsp://h/x RTSP/1.0", "")
    reply = LadderMessage(False, "RTSP/1.0 455 Method Not Valid in This State", "")
    assert text_arrow(request).endswith(">|") and text_arrow(request).startswith("|--")
    assert text_arrow(reply).startswith("|<-")
    assert len(text_arrow(request)) == len(text_arrow(reply))
    long = LadderMessage(True, "DESCRIBE rtsp://" + "x" * 200 + " RTSP/1.0", "")
    assert len(text_arrow(long)) == len(text_arrow(request))
    ladder = text_ladder(LadderSession("c", [request, reply]), "cliente", "servidor")
    assert ladder.splitlines()[0].startswith("cliente") and ladder.splitlines()[0].endswith(
        "servidor"
    )


def test_screenshots_pair_received_and_source_frames(tmp_path):
    from rtsp_common.mjpeg import open_media
    from workbench.report.screenshots import ReceivedFrame, decode_frame_number, make_screenshots
    from workbench.sample import make_sample

    clip = make_sample(tmp_path / "clip.Mjpeg", size=(160, 120), frames=12, fps=10).path
    with open_media(clip) as source:
        received = [ReceivedFrame(source[n], 100.0 + n, n) for n in (0, 7)]
        broken = ReceivedFrame(b"\xff\xd8 not a jpeg", 101.0, 2)
        shots = make_screenshots(
            [("first", received[0]), ("broken", broken), ("later", received[1])],
            source,
            tmp_path,
            "udp",
        )
    assert decode_frame_number(b"junk") is None
    assert [s.label for s in shots] == ["first", "later"]  # the broken frame is left out
    assert [(s.received_frame_number, s.source_frame_number) for s in shots] == [(0, 0), (7, 7)]
    assert all(s.matches for s in shots)
    for shot in shots:
        with (
            Image.open(tmp_path / shot.received_image) as a,
            Image.open(tmp_path / shot.source_image) as b,
        ):
            assert a.format == b.format == "PNG" and a.size == b.size == (160, 120)


def test_headline_says_what_the_conformance_table_shows():
    from workbench.report.render import headline

    catalog = Catalog.load("en")
    passed = FunctionalTest(1, "t", "done", "expected", "fine", Outcome.PASSED)
    rows = [
        ConformanceRow("RTP-SEQ-1", "RFC 3550 §5.1", "error", "sequence +1", True),
        ConformanceRow(
            "LAB-FMT-1", "RFC 2435 §3", "error", "lab", True, 1, "#4", [4], expected="lab dialect"
        ),
    ]
    report = Report("r", "s", "now", functional_tests=[passed], conformance=rows)
    assert [r.verdict for r in rows] == ["passed", "expected"]
    assert headline(report, catalog) == (
        "All 1 functional tests passed. 1 conformance rules passed; LAB-FMT-1 found problems "
        "only in the sessions meant to produce them: see the conformance checks."
    )
    rows.append(ConformanceRow("RTP-JIT-1", "RFC 3550 §A.8", "info", "jitter", False, 1, "#9"))
    assert headline(report, catalog).endswith(
        "1 of the 3 conformance rules that applied found problems in the capture (0 of severity "
        "error): see the conformance checks. LAB-FMT-1 found problems only in the sessions "
        "meant to produce them."
    )
