"""`convert`: GIF, image folder, MJPEG and video (ffmpeg) in; RFC 2435-ready clip out."""

from __future__ import annotations

import io
import random
import shutil
import subprocess

import pytest
from jpeg_markers_check import assert_rfc2435_ready
from PIL import Image
from realtools import require_tool

from rtsp_common.errors import MediaFileError
from rtsp_common.mjpeg import MAX_LAB_FRAME, open_media
from workbench.cli import main
from workbench.clip_conversion import ConvertError, convert, fit_size
from workbench.sample import read_frame_number, render_frame

SIZE = (128, 96)


def frame_numbers(path) -> list[int]:
    with open_media(path) as reader:
        out = []
        for jpeg in reader:
            assert_rfc2435_ready(jpeg)
            out.append(read_frame_number(Image.open(io.BytesIO(jpeg))))
        return out


def make_gif(path, count=5, duration=100):
    frames = [render_frame(n, SIZE) for n in range(count)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=duration, loop=0)
    return path


def test_from_gif(tmp_path):
    info = convert(make_gif(tmp_path / "in.gif"), tmp_path / "out.Mjpeg")
    assert (info.source, info.frames, info.width, info.height) == ("GIF", 5, 128, 96)
    assert frame_numbers(tmp_path / "out.Mjpeg") == [0, 1, 2, 3, 4]


def test_gif_resampled_to_fps(tmp_path):
    gif = make_gif(tmp_path / "in.gif", count=4, duration=100)  # 0.4 s
    info = convert(gif, tmp_path / "out.mjpeg", fps=20)
    assert info.frames == 8
    assert frame_numbers(tmp_path / "out.mjpeg") == [0, 0, 1, 1, 2, 2, 3, 3]


def test_from_folder_in_natural_order(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for n in range(11):
        render_frame(n, SIZE).save(folder / f"frame{n + 1}.png")
    (folder / "notes.txt").write_text("not an image")
    info = convert(folder, tmp_path / "out.Mjpeg")
    assert info.source == "folder of images" and info.frames == 11
    assert frame_numbers(tmp_path / "out.Mjpeg") == list(range(11))  # frame10 after frame9


def test_sizes_are_fitted(tmp_path):
    assert fit_size(1920, 1080) == (1920, 1072)
    assert fit_size(4000, 3000) == (2032, 1520)
    assert fit_size(100, 10) == (96, 16)
    Image.new("RGB", (203, 150), (10, 200, 30)).save(tmp_path / "odd.png")
    info = convert(tmp_path / "odd.png", tmp_path / "odd.Mjpeg")
    assert (info.width, info.height) == (192, 144)
    info = convert(tmp_path / "odd.png", tmp_path / "forced.Mjpeg", size=(64, 48))
    with open_media(tmp_path / "forced.Mjpeg") as reader:
        assert assert_rfc2435_ready(reader[0]).width == 64
    with pytest.raises(ValueError, match="multiple of 8"):
        convert(tmp_path / "odd.png", tmp_path / "bad.Mjpeg", size=(100, 48))


def test_quality_lowered_to_fit_the_lab_format(tmp_path):
    rng = random.Random(7)
    noise = Image.frombytes("RGB", (640, 480), rng.randbytes(640 * 480 * 3))
    noise.save(tmp_path / "noise.png")
    info = convert(tmp_path / "noise.png", tmp_path / "noise.Mjpeg")
    assert info.lowest_quality < 80
    assert info.largest_frame <= MAX_LAB_FRAME
    # A raw file has no such limit and keeps the quality.
    raw = convert(tmp_path / "noise.png", tmp_path / "noise.mjpeg")
    assert raw.lowest_quality == 80 and raw.largest_frame > MAX_LAB_FRAME


def test_from_lab_movie(lab_movie, tmp_path):
    info = convert(lab_movie, tmp_path / "small.mjpeg", size=(320, 240))
    assert info.source == "MJPEG file" and info.frames == 240
    with open_media(tmp_path / "small.mjpeg") as reader:
        assert assert_rfc2435_ready(reader[100]).width == 320


@pytest.mark.interop
def test_from_video_made_by_ffmpeg(tmp_path):
    ffmpeg = require_tool("ffmpeg")["ffmpeg"]
    frames = tmp_path / "png"
    frames.mkdir()
    for n in range(12):
        render_frame(n, (192, 144)).save(frames / f"{n:03d}.png")
    video = tmp_path / "clip.avi"
    subprocess.run(
        [ffmpeg, "-v", "error", "-framerate", "10", "-i", str(frames / "%03d.png"),
         "-c:v", "mpeg4", "-q:v", "2", str(video)],
        check=True, timeout=120,
    )  # fmt: skip
    info = convert(video, tmp_path / "out.Mjpeg")
    assert (info.source, info.frames, info.width, info.height) == ("video", 12, 192, 144)
    assert frame_numbers(tmp_path / "out.Mjpeg") == list(range(12))
    halved = convert(video, tmp_path / "half.Mjpeg", fps=5)
    assert halved.frames == 6
    assert frame_numbers(tmp_path / "half.Mjpeg") == [0, 2, 4, 6, 8, 10]


@pytest.mark.interop
def test_undecodable_file_names_ffmpeg_error(tmp_path):
    require_tool("ffmpeg")
    (tmp_path / "junk.bin").write_bytes(b"this is not a video at all")
    with pytest.raises(ConvertError, match="ffmpeg could not decode"):
        convert(tmp_path / "junk.bin", tmp_path / "out.Mjpeg")
    assert not (tmp_path / "out.Mjpeg").exists()


def test_without_ffmpeg_videos_need_it(tmp_path, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name: None if name == "ffmpeg" else real_which(name)
    )
    (tmp_path / "clip.avi").write_bytes(b"RIFF....AVI ")
    with pytest.raises(ConvertError, match="needs ffmpeg on PATH"):
        convert(tmp_path / "clip.avi", tmp_path / "out.Mjpeg")


def test_bad_inputs(tmp_path):
    with pytest.raises(ConvertError, match="no such file"):
        convert(tmp_path / "missing.gif", tmp_path / "out.Mjpeg")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConvertError, match="no image files"):
        convert(tmp_path / "empty", tmp_path / "out.Mjpeg")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ConvertError, match="a.png"):
        convert(broken, tmp_path / "out.Mjpeg")
    with pytest.raises(MediaFileError, match="the name says no clip format"):
        convert(make_gif(tmp_path / "in.gif"), tmp_path / "out.avi")
    assert not (tmp_path / "out.Mjpeg").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_cli(tmp_path, capsys):
    gif = make_gif(tmp_path / "in.gif")
    assert main(["convert", str(gif), str(tmp_path / "out.Mjpeg"), "--fps", "10"]) == 0
    assert "5 frames from GIF, 128x96" in capsys.readouterr().out
    assert main(["convert", str(tmp_path / "nope"), str(tmp_path / "x.Mjpeg")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_corrupt_lab_file_keeps_its_own_error(tmp_path):
    (tmp_path / "bad.Mjpeg").write_bytes(b"00100\xff\xd8 too short")
    with pytest.raises(MediaFileError, match="frame 0 at offset 0 is truncated"):
        convert(tmp_path / "bad.Mjpeg", tmp_path / "out.Mjpeg")
