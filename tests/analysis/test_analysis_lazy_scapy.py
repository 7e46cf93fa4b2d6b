"""Only the Scapy-native analysis modules load Scapy: the rest keep command start-up quick.

``scapy.contrib.rtsp`` pulls in matplotlib.pyplot, so a module-level Scapy import in a
module the command line loads costs every command a fraction of a second.
"""

from __future__ import annotations

import subprocess
import sys

# Scapy layers and crafting through them: Scapy is what they are about.
SCAPY_NATIVE = {
    "analysis.layers",
    "analysis.craft.session_builder",
    "analysis.craft.malformed",
    "analysis.craft.jpeg",
}

PROBE = """
import importlib, pkgutil, sys
import analysis
native = set(sys.argv[1].split(","))
modules = pkgutil.walk_packages(analysis.__path__, "analysis.")
names = [m.name for m in modules if m.name not in native]
for name in names:
    importlib.import_module(name)
print(len(names), " ".join(sorted({m.split(".")[0] for m in sys.modules} & {"scapy", "matplotlib"})))
"""


def test_analysis_modules_import_without_scapy():
    result = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(sorted(SCAPY_NATIVE))],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    count, _, loaded = result.stdout.strip().partition(" ")
    assert int(count) > 40  # probe, its wire, check, capture, sessions...
    assert loaded == ""


def test_probe_requests_are_still_built_with_scapy():
    from analysis.probe.wire import build_request

    request = build_request("OPTIONS", "rtsp://h/x", [("CSeq", "1")])
    assert request.startswith(b"OPTIONS rtsp://h/x RTSP/1.0\r\n")
    assert b"CSeq: 1\r\n" in request and request.endswith(b"\r\n\r\n")
    assert "scapy.contrib.rtsp" in sys.modules
