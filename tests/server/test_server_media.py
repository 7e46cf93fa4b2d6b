"""The media library: names, path safety (each escape gets 404), validation, shared payloads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from media_samples import progressive_jpeg
from server_harness import write_clip
from test_server_handler import BASE, Harness

import rtsp_server.media as media_module
from rtsp_common.errors import ParseError
from rtsp_server.media import (
    MediaLibrary,
    MediaNotFound,
    MediaUnsupported,
    max_rtp_payload,
    parse_media_uri,
)


def test_library_lists_every_media_file_by_relative_path(media_dir):
    (media_dir / "notes.txt").write_text("not media")
    write_clip(media_dir / "deep" / "er" / "x.mjpg", [progressive_jpeg()])
    assert MediaLibrary(media_dir).names() == ["clip.Mjpeg", "deep/er/x.mjpg", "sub/raw.mjpeg"]


def test_single_file_is_served_by_its_name(media_dir):
    library = MediaLibrary(media_dir / "clip.Mjpeg")
    assert library.names() == ["clip.Mjpeg"]
    assert len(library.track("clip.Mjpeg")) == 64


def test_missing_media_path_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="does not exist"):
        MediaLibrary(tmp_path / "nope")


def test_new_files_are_found_without_restart(media_dir, monkeypatch):
    library = MediaLibrary(media_dir)
    write_clip(media_dir / "late.mjpeg", [progressive_jpeg()])
    monkeypatch.setattr(media_module, "RESCAN_INTERVAL", 0.0)
    assert library.resolve("late.mjpeg").name == "late.mjpeg"


def test_unknown_names_do_not_rescan_more_than_once_per_interval(media_dir, monkeypatch):
    library = MediaLibrary(media_dir)
    scans = []
    monkeypatch.setattr(library, "rescan", lambda: scans.append(1))
    for n in range(50):
        with pytest.raises(MediaNotFound):
            library.resolve(f"nothing{n}.mjpeg")
    assert len(scans) <= 1


@pytest.mark.parametrize(
    ("uri", "name", "track"),
    [
        ("rtsp://h:1/clip.Mjpeg", "clip.Mjpeg", False),
        ("rtsp://h:1/clip.Mjpeg/", "clip.Mjpeg", False),
        ("rtsp://h:1/clip.Mjpeg/track1", "clip.Mjpeg", True),
        ("rtsp://h/sub/raw.mjpeg/track1", "sub/raw.mjpeg", True),
        ("clip.Mjpeg", "clip.Mjpeg", False),
        ("rtsp://h/with%20space.mjpeg", "with space.mjpeg", False),
    ],
)
def test_uri_names(uri, name, track):
    request = parse_media_uri(uri)
    assert (request.name, request.track) == (name, track)


@pytest.fixture
def outside(tmp_path: Path, clip_frames) -> Path:
    """A real, valid media file outside the media folder: what an escape would reach."""
    return write_clip(tmp_path / "secret.Mjpeg", clip_frames[:2])


ESCAPES = {
    "dotdot": f"{BASE}/../secret.Mjpeg",
    "dotdot-in-subfolder": f"{BASE}/sub/../../secret.Mjpeg",
    "percent-encoded": f"{BASE}/%2e%2e/secret.Mjpeg",
    "percent-encoded-upper": f"{BASE}/%2E%2E/secret.Mjpeg",
    "encoded-slash": f"{BASE}/..%2fsecret.Mjpeg",
    "absolute-in-url": f"{BASE}//{{outside}}",
    "absolute-lab-style": "{outside}",
    "backslash": f"{BASE}/..\\secret.Mjpeg",
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_paths_out_of_the_folder_get_404(media_dir, outside, case):
    uri = ESCAPES[case].format(
        outside=str(outside).lstrip("/") if "//" in ESCAPES[case] else outside
    )
    h = Harness(media_dir)
    assert h.send("DESCRIBE", uri).status == 404
    assert h.send("SETUP", uri, Transport="RTP/AVP;unicast;client_port=5000-5001").status == 404


def test_symlink_pointing_out_gets_404(media_dir, outside):
    os.symlink(outside, media_dir / "link.Mjpeg")
    os.symlink(outside.parent, media_dir / "linkdir")
    h = Harness(media_dir)
    assert "link.Mjpeg" not in h.library.names()
    assert h.send("DESCRIBE", f"{BASE}/link.Mjpeg").status == 404
    assert h.send("DESCRIBE", f"{BASE}/linkdir/secret.Mjpeg").status == 404


def test_symlink_inside_the_folder_is_served(media_dir):
    os.symlink(media_dir / "clip.Mjpeg", media_dir / "alias.Mjpeg")
    assert Harness(media_dir).send("DESCRIBE", f"{BASE}/alias.Mjpeg").status == 200


def test_unsupported_file_names_frame_reason_and_fix(tmp_path, clip_frames):
    write_clip(tmp_path / "mixed.mjpeg", [clip_frames[0], progressive_jpeg()])
    library = MediaLibrary(tmp_path)
    with pytest.raises(MediaUnsupported) as info:
        library.track("mixed.mjpeg")
    message = str(info.value)
    assert "frame 1" in message and "rtsp-workbench convert" in message


def test_garbage_file_is_unsupported_not_a_crash(tmp_path):
    (tmp_path / "junk.mjpeg").write_bytes(b"\x00" * 1000)
    (tmp_path / "empty.Mjpeg").write_bytes(b"")
    library = MediaLibrary(tmp_path)
    for name in ("junk.mjpeg", "empty.Mjpeg"):
        with pytest.raises(MediaUnsupported):
            library.track(name)
    with pytest.raises(MediaNotFound):
        library.track("absent.mjpeg")


def test_payloads_are_packetized_once_and_shared(media_dir):
    library = MediaLibrary(media_dir)
    track = library.track("clip.Mjpeg")
    assert library.track("clip.Mjpeg") is track
    limit = max_rtp_payload(600)
    first = track.payloads(3, limit)
    assert track.payloads(3, limit) is first
    assert all(len(p) <= limit for p in first)
    assert len(first) > 1
    assert track.payloads(3, max_rtp_payload(1400)) is not first


def test_changed_file_is_reloaded(media_dir, clip_frames):
    library = MediaLibrary(media_dir)
    assert len(library.track("sub/raw.mjpeg")) == 8
    write_clip(media_dir / "sub" / "raw.mjpeg", clip_frames[:3])
    assert len(library.track("sub/raw.mjpeg")) == 3


@given(uri=st.text(max_size=60) | st.builds(lambda p: f"rtsp://h:1/{p}", st.text(max_size=60)))
def test_parsed_names_never_leave_the_folder(uri):
    try:
        request = parse_media_uri(uri)
    except (MediaNotFound, ParseError):  # not in the folder, or not a URI at all (400)
        return
    parts = request.name.split("/")
    assert ".." not in parts and "." not in parts and "" not in parts
    assert (
        not request.name.startswith("/") and "\\" not in request.name and "\x00" not in request.name
    )
