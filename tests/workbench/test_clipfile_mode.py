"""A written clip gets the permissions of any new file, not the temporary file's 0o600."""

from __future__ import annotations

import io
import os
import stat

from PIL import Image

from workbench.clipfile import write_clip


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def test_clip_is_readable_by_others_as_the_umask_allows(tmp_path):
    old = os.umask(0o022)
    try:
        written = write_clip(tmp_path / "clip.Mjpeg", [_jpeg(), _jpeg()])
    finally:
        os.umask(old)
    assert written.frames == 2
    assert stat.S_IMODE(written.path.stat().st_mode) == 0o644
