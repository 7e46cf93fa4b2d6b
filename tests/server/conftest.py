"""Fixtures for rtsp_server tests: small clips made with Pillow, a running server."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_samples import numbered_frames
from server_harness import write_clip

from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

CLIP_FRAMES = 64


@pytest.fixture(scope="session")
def clip_frames() -> list[bytes]:
    return numbered_frames(CLIP_FRAMES)


@pytest.fixture
def media_dir(tmp_path: Path, clip_frames: list[bytes]) -> Path:
    """A media folder: clip.Mjpeg (lab format) and sub/raw.mjpeg (raw), 64 frames 160x120."""
    root = tmp_path / "media"
    write_clip(root / "clip.Mjpeg", clip_frames)
    write_clip(root / "sub" / "raw.mjpeg", clip_frames[:8])
    return root


@pytest.fixture
def server(media_dir: Path):
    """A server on 127.0.0.1, ephemeral port, 50 fps so tests run quickly."""
    with RTSPServer(
        options=ServerOptions(
            port=0, media=media_dir, host="127.0.0.1", fps=50, mtu=600, session_timeout=30
        )
    ) as running:
        yield running
