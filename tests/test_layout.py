"""The distribution installs its three console scripts and its packages import cleanly."""

import shutil
import subprocess
import sys

import pytest


@pytest.mark.parametrize("script", ["rtsp-server", "rtsp-client", "rtsp-workbench"])
def test_console_script_answers_help(script):
    path = shutil.which(script) or str(__import__("pathlib").Path(sys.executable).parent / script)
    result = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert script in result.stdout
