"""A demo whose step fails says so: the step is failed, what depends on it is not run,
the report still appears, and the exit code is not 0."""

from __future__ import annotations

import pytest

from workbench.cli import main
from workbench.demo.playback import Timings
from workbench.demo.scenario import DemoConfig, run_demo
from workbench.report.model import Outcome
from workbench.sample import make_sample

pytestmark = pytest.mark.slow

SHORT = Timings(play_s=0.6, pause_s=0.3, resume_s=0.6)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    return make_sample(folder / "movie.Mjpeg", size=(160, 120), frames=80, fps=20).path


def test_a_capture_that_cannot_start_fails_the_demo_honestly(clip, tmp_path):
    config = DemoConfig(
        media=clip,
        pcaps=tmp_path / "pcaps",
        reports=tmp_path / "reports",
        interface="no-such-if0",
        timings=SHORT,
        lab_seconds=0.5,
        stamp="failure",
    )
    result = run_demo(config)
    tests = {t.number: t for t in result.report.functional_tests}
    assert tests[1].outcome is Outcome.FAILED
    assert "no-such-if0" in tests[1].observed
    # the sessions themselves, and the player (it needs no capture), still ran and passed
    assert all(tests[n].passed for n in range(2, 22)), [
        (t.title, t.observed) for t in tests.values() if not t.passed and t.number < 22
    ]
    for n in (22, 23, 24):
        assert tests[n].outcome is Outcome.NOT_RUN
    assert result.exit_code == 1
    assert result.capture is None
    html = result.rendered.html.read_text(encoding="utf-8")
    assert 'data-test="1" data-outcome="failed"' in html
    assert "1 of 24 functional tests failed, 3 not run." in html
    md = result.rendered.markdown.read_text(encoding="utf-8")
    assert "### 23. Our server's sessions conform — not run" in md
    # screenshots are there even without a capture: they come from the client
    assert len(result.report.screenshots) == 8


def test_demo_command_exit_code_follows_the_report(clip, tmp_path, capsys):
    code = main(
        [
            "demo",
            "--media",
            str(clip),
            "--pcaps",
            str(tmp_path / "p"),
            "--reports",
            str(tmp_path / "r"),
            "-i",
            "no-such-if0",
            "--play",
            "0.5",
            "--pause",
            "0.2",
            "--resume",
            "0.5",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith(f"found {clip}")
    assert "failed" in out and "not run" in out
    assert "no-such-if0" in out
