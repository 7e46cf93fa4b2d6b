"""The built-in sample: deterministic, RFC 2435-ready, frame numbers readable from pixels."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from jpeg_markers_check import ANNEX_K_BITS, assert_rfc2435_ready, read_markers
from PIL import Image

from rtsp_common.mjpeg import LabMJPEGReader, RawMJPEGReader, open_media
from workbench.cli import main
from workbench.encoding import encode_jpeg
from workbench.sample import (
    FrameCodeError,
    code_cell_size,
    draw_frame_code,
    ensure_sample,
    make_sample,
    read_frame_number,
    render_frame,
)

SMALL = (128, 96)


def decode(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image


def reencode(image: Image.Image, quality: int) -> Image.Image:
    return decode(encode_jpeg(image, quality))


def test_same_bytes_every_run_in_and_out_of_process(tmp_path):
    first = make_sample(tmp_path / "a.Mjpeg", size=SMALL, frames=6)
    make_sample(tmp_path / "b.Mjpeg", size=SMALL, frames=6)
    cli = subprocess.run(
        [sys.executable, "-m", "workbench", "sample", "-o", str(tmp_path / "c.Mjpeg"),
         "--size", "128x96", "--frames", "6"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert "6 frames, 128x96" in cli.stdout
    data = (tmp_path / "a.Mjpeg").read_bytes()
    assert data == (tmp_path / "b.Mjpeg").read_bytes() == (tmp_path / "c.Mjpeg").read_bytes()
    assert first.frames == 6 and first.bytes == len(data)


def test_default_size_frames_decode_and_carry_their_numbers(tmp_path):
    info = make_sample(tmp_path / "movie.Mjpeg", frames=4)
    assert (info.width, info.height, info.fps) == (384, 288, 20)
    with open_media(tmp_path / "movie.Mjpeg") as reader:
        assert isinstance(reader, LabMJPEGReader) and len(reader) == 4
        images = [decode(frame) for frame in reader]
    assert all(image.size == (384, 288) for image in images)
    assert [read_frame_number(image) for image in images] == [0, 1, 2, 3]
    assert images[0].tobytes() != images[1].tobytes()  # things move


@pytest.mark.parametrize("size", [(384, 288), (128, 96), (96, 64), (640, 480)])
def test_frame_number_survives_reencoding(size):
    for number in (0, 1, 7, 255, 499, 4096, 65535):
        image = render_frame(number, size)
        for quality in (75, 30, 15):
            assert read_frame_number(reencode(reencode(image, 90), quality)) == number


def test_frames_are_rfc2435_ready(tmp_path):
    make_sample(tmp_path / "clip.mjpeg", size=(160, 112), frames=3)
    with open_media(tmp_path / "clip.mjpeg") as reader:
        assert isinstance(reader, RawMJPEGReader)
        for frame in reader:
            markers = assert_rfc2435_ready(frame)
            assert (markers.width, markers.height) == (160, 112)


def test_huffman_tables_match_the_lab_movie(lab_movies, tmp_path):
    # The lab's movie was made by another encoder with the standard tables (so is the lab-like
    # one, by libjpeg): ours must be the same bytes, a second reading of Annex K besides the
    # constants above.
    with open_media(lab_movies) as reader:
        lab = read_markers(reader[0])
    make_sample(tmp_path / "s.Mjpeg", size=SMALL, frames=1)
    with open_media(tmp_path / "s.Mjpeg") as reader:
        ours = read_markers(reader[0])
    assert sorted(lab.htables) == sorted(ANNEX_K_BITS)
    assert ours.htables == lab.htables


def test_unmarked_images_are_refused():
    with pytest.raises(FrameCodeError, match="no frame code"):
        read_frame_number(Image.new("RGB", SMALL, (128, 128, 128)))
    image = render_frame(42, SMALL)
    cell = code_cell_size(*SMALL)
    # Flip one data bit: the parity check catches it.
    x = cell + 5 * cell
    pixel = image.getpixel((x + 1, cell + 1))
    image.paste((0, 0, 0) if pixel[0] > 128 else (255, 255, 255), (x, cell, x + cell, 2 * cell))
    with pytest.raises(FrameCodeError, match="parity"):
        read_frame_number(image)


def test_frame_code_range():
    image = Image.new("RGB", SMALL)
    with pytest.raises(ValueError, match="does not fit"):
        draw_frame_code(image, 1 << 16)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(size=(400, 300)), "height 300 is not a multiple of 8.*try 304"),
        (dict(size=(2048, 288)), "2040"),
        (dict(size=(64, 48)), "minimum"),
        (dict(frames=0), "frames 0"),
        (dict(fps=0), "fps 0"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, words):
    with pytest.raises(ValueError, match=words):
        make_sample(tmp_path / "x.Mjpeg", **kwargs)
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


def test_cli_reports_bad_size(tmp_path, capsys):
    assert main(["sample", "-o", str(tmp_path / "x.Mjpeg"), "--size", "100x100"]) == 2
    assert "width 100 is not a multiple of 8" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sample", "--size", "big"])
    assert "WIDTHxHEIGHT" in capsys.readouterr().err


def test_ensure_sample_makes_the_default_sample_once(tmp_path):
    # What `demo` does first; the demo's own "made"/"found" lines are checked in test_demo.py
    # and test_report_failures.py.
    media = tmp_path / "media" / "movie.Mjpeg"
    info, made = ensure_sample(media)
    assert made and (info.frames, info.width, info.height) == (500, 384, 288)
    first = media.read_bytes()
    stat = media.stat()
    again, made = ensure_sample(media)
    assert not made and again.frames == 500
    assert media.stat().st_mtime_ns == stat.st_mtime_ns  # found, not rewritten
    assert media.read_bytes() == first
    with open_media(media) as reader:
        assert read_frame_number(decode(reader[321])) == 321


def test_sample_frames_cross_rfc2435_and_stay_identifiable(tmp_path):
    # What a client shows: the sample frame packetized, reassembled and decoded.
    from rtsp_common.jpeg import packetize
    from rtsp_common.jpeg_depacketizer import Depacketizer

    make_sample(tmp_path / "s.Mjpeg", frames=3)
    depacketizer = Depacketizer()
    with open_media(tmp_path / "s.Mjpeg") as reader:
        for n, jpeg in enumerate(reader):
            payloads = packetize(jpeg, 1400)
            assert len(payloads) > 1
            rebuilt = None
            for i, payload in enumerate(payloads):
                rebuilt = depacketizer.push(payload, n * 4500, i == len(payloads) - 1)
            assert rebuilt is not None
            received = decode(rebuilt)
            assert received.tobytes() == decode(jpeg).tobytes()
            assert read_frame_number(received) == n
