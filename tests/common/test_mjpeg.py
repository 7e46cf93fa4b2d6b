"""Media files: the lab's .Mjpeg and raw concatenated JPEG, readers and writers."""

from __future__ import annotations

import io
import os
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from media_samples import encode_jpeg
from PIL import Image, ImageDraw

from rtsp_common.errors import MediaFileError
from rtsp_common.mjpeg import (
    MAX_LAB_FRAME,
    LabMJPEGReader,
    LabMJPEGWriter,
    RawMJPEGReader,
    RawMJPEGWriter,
    open_media,
    open_writer,
)


def make_jpeg(n: int, size=(64, 48), **save) -> bytes:
    """A small, distinct JPEG per n: noise makes FF bytes (and FF 00 stuffing) likely."""
    rng = random.Random(n)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    ImageDraw.Draw(image).rectangle((n % 20, 5, n % 20 + 20, 30), fill=(255, 255, 255))
    return encode_jpeg(image, quality=save.pop("quality", 85), **save)


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    return [make_jpeg(n) for n in range(12)]


def write(path: Path, frames: list[bytes], format: str | None = None) -> Path:
    with open_writer(path, format) as writer:
        for frame in frames:
            writer.append(frame)
    return path


@pytest.mark.parametrize(
    "name, reader_type",
    [("clip.Mjpeg", LabMJPEGReader), ("clip.mjpeg", RawMJPEGReader), ("clip.mjpg", RawMJPEGReader)],
)
def test_round_trip_and_seek(tmp_path, frames, name, reader_type):
    path = write(tmp_path / name, frames)
    with open_media(path) as reader:
        assert type(reader) is reader_type
        assert len(reader) == len(frames)
        assert list(reader) == frames
        assert reader[7] == frames[7]
        assert reader[-1] == frames[-1]
        assert reader[0] == frames[0]  # seeking backwards too
        assert reader.total_bytes == sum(map(len, frames))
        with pytest.raises(IndexError, match="out of range"):
            reader[len(frames)]
    with pytest.raises(MediaFileError, match="closed"):
        reader[0]


def test_lab_layout_is_five_digit_prefix(tmp_path, frames):
    path = write(tmp_path / "clip.Mjpeg", frames[:2])
    data = path.read_bytes()
    assert data[:5] == b"%05d" % len(frames[0])
    assert data[5 : 5 + len(frames[0])] == frames[0]
    assert data[5 + len(frames[0]) : 10 + len(frames[0])] == b"%05d" % len(frames[1])


def test_lab_index_reads_only_prefixes(tmp_path):
    # Frame contents are not JPEG at all: indexing must not look inside them.
    bodies = [bytes([n]) * (100 + n) for n in range(30)]
    path = tmp_path / "junk.Mjpeg"
    path.write_bytes(b"".join(b"%05d" % len(b) + b for b in bodies))
    with LabMJPEGReader(path) as reader:
        assert len(reader) == 30
        assert reader[21] == bodies[21]
        assert reader.index[1] == (5 + 100 + 5, 101)


def test_raw_split_survives_restart_markers_progressive_and_ff_d9_in_comment(tmp_path):
    tricky = [
        make_jpeg(1, restart_marker_blocks=1),
        make_jpeg(2, progressive=True),
        make_jpeg(3, comment=b"\xff\xd9 not an end \xff\xd8"),
        make_jpeg(4, subsampling=0, quality=100),
        make_jpeg(5, size=(16, 8)),
    ]
    assert b"\xff\xd0" in tricky[0] and tricky[1].count(b"\xff\xda") > 1
    assert b"\xff\x00" in b"".join(tricky)  # stuffing present somewhere
    path = write(tmp_path / "tricky.mjpeg", tricky)
    with open_media(path) as reader:
        assert list(reader) == tricky
    with open_media(path) as reader:
        for frame in reader:
            Image.open(io.BytesIO(frame)).load()  # each split frame decodes whole


def test_writers_append(tmp_path, frames):
    for name in ("a.Mjpeg", "a.mjpeg"):
        write(tmp_path / name, frames[:3])
        write(tmp_path / name, frames[3:5])
        with open_media(tmp_path / name) as reader:
            assert list(reader) == frames[:5]
        with open_writer(tmp_path / name, overwrite=True) as writer:
            writer.append(frames[9])
        with open_media(tmp_path / name) as reader:
            assert list(reader) == [frames[9]]


def test_lab_frame_limit(tmp_path):
    at_limit = b"\xff\xd8" + bytes(MAX_LAB_FRAME - 4) + b"\xff\xd9"
    too_big = b"\xff\xd8" + bytes(MAX_LAB_FRAME - 3) + b"\xff\xd9"
    path = tmp_path / "big.Mjpeg"
    with LabMJPEGWriter(path) as writer:
        writer.append(at_limit)
        with pytest.raises(
            MediaFileError, match=r"100,000 bytes.*99,999.*rtsp-workbench convert"
        ) as info:
            writer.append(too_big)
        assert "lower JPEG quality" in str(info.value)
    with open_media(path) as reader:
        assert len(reader) == 1 and len(reader[0]) == MAX_LAB_FRAME
    # The raw format has no such limit.
    with RawMJPEGWriter(tmp_path / "big.mjpeg") as writer:
        writer.append(too_big)


def test_writer_rejects_non_jpeg(tmp_path):
    with (
        LabMJPEGWriter(tmp_path / "x.Mjpeg") as writer,
        pytest.raises(MediaFileError, match="not a JPEG"),
    ):
        writer.append(b"hello")
    with RawMJPEGWriter(tmp_path / "x.mjpeg") as writer, pytest.raises(MediaFileError, match="EOI"):
        writer.append(b"\xff\xd8 no end")


def test_open_writer_chooses_format_by_name(tmp_path):
    with open_writer(tmp_path / "a.Mjpeg") as w:
        assert isinstance(w, LabMJPEGWriter)
    with open_writer(tmp_path / "a.MJPG") as w:
        assert isinstance(w, RawMJPEGWriter)
    with open_writer(tmp_path / "a.bin", format="lab") as w:
        assert isinstance(w, LabMJPEGWriter)
    with pytest.raises(MediaFileError, match="cannot tell the format"):
        open_writer(tmp_path / "a.avi")
    with pytest.raises(MediaFileError, match="unknown media format"):
        open_writer(tmp_path / "a.mjpeg", format="avi")


def corrupt_cases(frames):
    lab = b"".join(b"%05d" % len(f) + f for f in frames[:3])
    raw = b"".join(frames[:3])
    last = len(frames[0]) + len(frames[1])
    return [
        ("empty.Mjpeg", b"", r"empty"),
        (
            "prefix.Mjpeg",
            b"12a45" + frames[0],
            r"bad length prefix b'12a45' for frame 0 at offset 0",
        ),
        ("cut.Mjpeg", lab[:-10], rf"frame 2 at offset {last + 10} is truncated"),
        ("tail.Mjpeg", lab + b"12", r"bad length prefix b'12' for frame 3"),
        ("zero.Mjpeg", b"00000", r"frame 0 at offset 0 is empty"),
        ("cut.mjpeg", raw[:-10], rf"frame 2 at offset {last} is truncated"),
        ("junk.mjpeg", raw + b"\x00garbage", rf"FF D8\) for frame 3 at offset {len(raw)}"),
        ("text.mjpeg", b"<html>", r"neither the lab's .Mjpeg"),
    ]


def test_corrupt_files_say_what_and_where(tmp_path, frames):
    for name, data, words in corrupt_cases(frames):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(MediaFileError, match=words):
            open_media(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MediaFileError, match="no such media file"):
        open_media(tmp_path / "nope.Mjpeg")
    with pytest.raises(MediaFileError, match="is a directory"):
        open_media(tmp_path)
    with pytest.raises(MediaFileError, match="no such media file"):
        LabMJPEGReader(tmp_path / "nope.Mjpeg")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_files_raise_only_media_file_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "any"
        path.write_bytes(data)
        try:
            reader = open_media(path)
        except MediaFileError:
            return
        with reader:
            assert sum(len(frame) for frame in reader) <= len(data)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=200).map(lambda b: b"\xff\xd8" + b), min_size=1, max_size=8))
def test_lab_round_trip_any_bytes(bodies):
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "x.Mjpeg", bodies)
        with open_media(path) as reader:
            assert list(reader) == bodies


def test_reads_the_lab_movie(lab_movies):
    with open_media(lab_movies) as reader:
        assert isinstance(reader, LabMJPEGReader)
        assert len(reader) == 240
        # Each frame starts 5 length digits after the end of the one before.
        offset = 0
        for start, length in reader.index:
            assert start == offset + 5 and 0 < length <= 99_999
            offset = start + length
        assert offset == lab_movies.stat().st_size
        for n in (0, 123, 239):
            frame = reader[n]
            assert frame[:2] == b"\xff\xd8" and frame[-2:] == b"\xff\xd9"
            assert Image.open(io.BytesIO(frame)).size == (640, 480)


def test_lab_movie_as_raw_splits_the_same(lab_movie, tmp_path):
    with open_media(lab_movie) as lab:
        frames = list(lab)
    raw = write(tmp_path / "movie.mjpeg", frames[:60])
    with open_media(raw) as reader:
        assert list(reader) == frames[:60]
    assert os.path.getsize(raw) == sum(map(len, frames[:60]))


def test_shared_reader_is_safe_across_threads(tmp_path, frames):
    # A server may hand one reader to several workers: reads must not share a file position.
    from concurrent.futures import ThreadPoolExecutor

    path = write(tmp_path / "clip.Mjpeg", frames)
    order = [random.Random(seed).randrange(len(frames)) for seed in range(400)]
    with open_media(path) as reader, ThreadPoolExecutor(4) as pool:
        got = list(pool.map(reader.__getitem__, order))
        with pytest.raises(TypeError):
            reader[1:3]
    assert got == [frames[n] for n in order]
