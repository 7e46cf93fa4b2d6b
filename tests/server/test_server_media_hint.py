"""A clip RFC 2435 cannot carry is refused with the reason and one way to fix it."""

from __future__ import annotations

import pytest
from media_samples import progressive_jpeg
from server_harness import write_clip

from rtsp_server.media import MediaLibrary, MediaUnsupported


def test_progressive_clip_names_the_fix_once(tmp_path):
    write_clip(tmp_path / "prog.Mjpeg", [progressive_jpeg()])
    with pytest.raises(MediaUnsupported) as info:
        MediaLibrary(tmp_path).track("prog.Mjpeg")
    message = str(info.value)
    assert "progressive" in message
    assert message.count("rtsp-workbench convert") == 1
