"""convert on a file named like an MJPEG clip that holds neither format: the error says
what the MJPEG reader found first, not only what ffmpeg made of it."""

from __future__ import annotations

import random

import pytest
from realtools import require_tool

from workbench.clip_conversion import ConvertError, convert


@pytest.mark.parametrize("name", ["noise.Mjpeg", "noise.mjpg"])
def test_noise_named_mjpeg_says_it_is_not_mjpeg(tmp_path, name):
    require_tool("ffmpeg")  # convert falls back to ffmpeg for what Pillow cannot read
    source = tmp_path / name
    source.write_bytes(b"\xf2" + random.Random(7).randbytes(4000))
    with pytest.raises(ConvertError) as info:
        convert(source, tmp_path / "out.Mjpeg")
    message = str(info.value)
    assert "nor raw JPEG" in message and "ffmpeg cannot read it either" in message
    assert not (tmp_path / "out.Mjpeg").exists()
