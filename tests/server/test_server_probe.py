"""The analysis package's RFC 2326 probe battery, an independent reading, passes our server."""

from __future__ import annotations

from analysis.probe.battery import Verdict, run_probe
from analysis.probe.channel import socket_environment
from analysis.probe.wire import Target


def test_probe_battery_passes_every_case(server):
    target = Target("127.0.0.1", server.port, "/clip.Mjpeg")
    report = run_probe(target, socket_environment(target, timeout=2.0, rtp_wait=1.0))
    verdicts = {r.case: (r.verdict, r.status, r.reason) for r in report.results}
    assert {
        "options",
        "setup",
        "play",
        "path_traversal",
        "oversized_header",
        "lab_request_form",
    } <= set(verdicts)
    assert all(v[0] is Verdict.PASS for v in verdicts.values()), verdicts
    assert "RTP arrived" in verdicts["play"][2]
