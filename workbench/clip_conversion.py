"""Turn an animated GIF, a folder of images, an MJPEG file or (with ffmpeg) any video into a
clip RFC 2435 can stream: baseline JPEG, standard Huffman tables, 4:2:0, sides in 16-pixel
units up to 2032, and every frame within the lab format's 99,999 bytes when writing .Mjpeg.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from rtsp_common.errors import MediaFileError
from rtsp_common.mjpeg import (
    LAB_FORMAT,
    LAB_SUFFIX,
    MAX_LAB_FRAME,
    RAW_SUFFIXES,
    open_media,
)
from workbench.clipfile import clip_format, write_clip
from workbench.encoding import DEFAULT_QUALITY, MAX_DIMENSION, check_size, encode_within

logger = logging.getLogger(__name__)

BLOCK = 16  # a 4:2:0 MCU is 16x16 pixels: whole MCUs need no edge padding
MJPEG_SUFFIXES = (LAB_SUFFIX.lower(), *RAW_SUFFIXES)
MAX_SIDE = MAX_DIMENSION // BLOCK * BLOCK  # 2032, the largest multiple of 16 within 2040
DEFAULT_GIF_FRAME_MS = 100  # browsers' usual stand-in for a GIF frame with no delay

# PNG stream framing (PNG spec §5.2, §5.3): signature, then length/type/data/CRC chunks.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHUNK_OVERHEAD = 12
PNG_END_CHUNK = b"IEND"


class ConvertError(ValueError):
    """The input cannot be turned into a clip; the message says why and what to do."""


@dataclass(frozen=True)
class ConvertInfo:
    """What :func:`convert` wrote."""

    output: Path
    source: str  # "GIF", "image", "folder of images", "MJPEG file" or "video"
    frames: int
    width: int
    height: int
    bytes: int
    largest_frame: int
    lowest_quality: int

    def describe(self) -> str:
        """One line for a person."""
        return (
            f"{self.output}: {self.frames} frames from {self.source}, {self.width}x{self.height}, "
            f"{self.bytes:,} bytes (largest frame {self.largest_frame:,}, "
            f"JPEG quality {self.lowest_quality} at lowest)"
        )


def fit_size(width: int, height: int) -> tuple[int, int]:
    """The output size for a source size: within 2032x2032, aspect kept, multiples of 16."""
    scale = min(1.0, MAX_SIDE / width, MAX_SIDE / height)
    return (
        max(BLOCK, int(width * scale) // BLOCK * BLOCK),
        max(BLOCK, int(height * scale) // BLOCK * BLOCK),
    )


def _rgb(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid over black."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _natural_key(path: Path) -> list[object]:
    """Sort "frame2.png" before "frame10.png"."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _folder_frames(folder: Path) -> Iterator[Image.Image]:
    extensions = set(Image.registered_extensions())
    files = sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in extensions and not p.name.startswith(".")
        ),
        key=_natural_key,
    )
    if not files:
        raise ConvertError(f"{folder}: no image files in the folder")
    logger.info("%s: %d images", folder, len(files))
    for file in files:
        try:
            with Image.open(file) as image:
                yield _rgb(image)
        except (UnidentifiedImageError, OSError) as exc:
            raise ConvertError(f"{file}: not an image Pillow can read ({exc})") from None


def _animation_frames(image: Image.Image, fps: float | None) -> Iterator[Image.Image]:
    """Each frame once, or with ``fps`` resampled on the frames' own durations."""
    frames = []
    durations = []
    for frame in ImageSequence.Iterator(image):
        frames.append(_rgb(frame))
        durations.append(frame.info.get("duration") or DEFAULT_GIF_FRAME_MS)
    if fps is None:
        yield from frames
        return
    total_ms = sum(durations)
    count = max(1, math.ceil(total_ms * fps / 1000))
    ends = []
    elapsed = 0.0
    for duration in durations:
        elapsed += duration
        ends.append(elapsed)
    current = 0
    for k in range(count):
        t = k * 1000 / fps
        while current < len(frames) - 1 and t >= ends[current]:
            current += 1
        yield frames[current]


def _split_png_stream(stream) -> Iterator[bytes]:
    """Whole PNG files out of a byte stream of PNGs back to back (ffmpeg's image2pipe)."""
    while True:
        signature = stream.read(len(PNG_SIGNATURE))
        if not signature:
            return
        if signature != PNG_SIGNATURE:
            raise ConvertError("ffmpeg's output is not a PNG stream")
        parts = [signature]
        while True:
            head = stream.read(8)
            if len(head) < 8:
                raise ConvertError("ffmpeg's PNG stream ended inside a frame")
            length = int.from_bytes(head[:4], "big")
            rest = stream.read(length + PNG_CHUNK_OVERHEAD - 8)
            parts += [head, rest]
            if head[4:] == PNG_END_CHUNK:
                break
        yield b"".join(parts)


def _video_frames(
    path: Path, fps: float | None, not_mjpeg: str | None = None
) -> Iterator[Image.Image]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ConvertError(
            f"{path}: not an image or MJPEG file; reading videos needs ffmpeg on PATH "
            f"(e.g. apt-get install ffmpeg)"
        )
    command = [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-an", "-sn"]
    if fps is not None:
        command += ["-vf", f"fps={fps:g}"]
    command += ["-f", "image2pipe", "-c:v", "png", "-"]
    logger.info("decoding with: %s", " ".join(command))
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        count = 0
        try:
            for png in _split_png_stream(process.stdout):
                count += 1
                with Image.open(io.BytesIO(png)) as image:
                    yield _rgb(image)
        finally:
            if process.stdout is not None:
                process.stdout.close()
            if process.poll() is None:
                process.kill()
            process.wait()
        errors.seek(0)
        message = errors.read().decode(errors="replace").strip()
        if process.returncode != 0 or count == 0:
            # A file named like an MJPEG clip most likely is a damaged one: say so first.
            raise ConvertError(
                (
                    f"{not_mjpeg}; ffmpeg cannot read it either"
                    if not_mjpeg
                    else f"{path}: ffmpeg could not decode it as a video"
                )
                + (f": {message.splitlines()[-1]}" if message else "")
            )


def _mjpeg_frames(path: Path) -> Iterator[Image.Image]:
    with open_media(path) as reader:
        for frame in reader:
            with Image.open(io.BytesIO(frame)) as image:
                yield _rgb(image)


def _source_frames(path: Path, fps: float | None) -> tuple[str, Iterator[Image.Image]]:
    if path.is_dir():
        if fps is not None:
            logger.warning("--fps does not apply to a folder of images: each image is one frame")
        return "folder of images", _folder_frames(path)
    if not path.exists():
        raise ConvertError(f"{path}: no such file or folder")
    not_mjpeg = None
    try:
        with open_media(path) as reader:
            len(reader)
    except MediaFileError as exc:
        with path.open("rb") as file:
            if file.read(1).isdigit():
                raise  # a lab .Mjpeg that does not read: its error says where
        if path.suffix.lower() in MJPEG_SUFFIXES:
            not_mjpeg = str(exc)
        # Not an MJPEG clip (or a lone JPEG with trailing bytes): Pillow or ffmpeg may read it.
    else:
        if fps is not None:
            logger.warning("--fps does not apply to an MJPEG file: each frame is kept once")
        return "MJPEG file", _mjpeg_frames(path)
    try:
        image = Image.open(path)
    except UnidentifiedImageError:
        return "video", _video_frames(path, fps, not_mjpeg)
    except OSError as exc:
        raise ConvertError(f"{path}: cannot read ({exc})") from None

    def frames_of(image: Image.Image) -> Iterator[Image.Image]:
        with image:
            yield from _animation_frames(image, fps)

    kind = "GIF" if image.format == "GIF" else "image"
    return kind, frames_of(image)


def convert(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    quality: int = DEFAULT_QUALITY,
) -> ConvertInfo:
    """Convert ``input`` (GIF, folder of images, MJPEG file, or a video with ffmpeg) to a clip.

    ``size`` forces the output size (multiples of 8, up to 2040); without it the first
    frame's size is fitted (see :func:`fit_size`) and every frame is scaled and centre-cropped
    to it. ``fps`` resamples a GIF or a video. Raises ConvertError or MediaFileError.
    """
    source, output = Path(input), Path(output)
    if fps is not None and not fps > 0:
        raise ConvertError(f"fps {fps} must be positive")
    if size is not None:
        check_size(*size)
    max_bytes = MAX_LAB_FRAME if clip_format(output) == LAB_FORMAT else None
    kind, images = _source_frames(source, fps)
    out_size = size
    lowest = quality

    def encoded(images: Iterable[Image.Image]) -> Iterator[bytes]:
        nonlocal out_size, lowest
        for image in images:
            if out_size is None:
                out_size = fit_size(*image.size)
            if image.size != out_size:
                image = ImageOps.fit(image, out_size, method=Image.Resampling.LANCZOS)
            try:
                jpeg, used = encode_within(image, quality, max_bytes)
            except ValueError as exc:
                raise ConvertError(str(exc)) from None
            lowest = min(lowest, used)
            yield jpeg

    written = write_clip(output, encoded(images))
    assert out_size is not None  # write_clip wrote at least one frame
    info = ConvertInfo(
        output, kind, written.frames, *out_size, written.file_bytes, written.largest_frame, lowest
    )
    logger.info("converted %s", info.describe())
    return info
