"""Test pictures and clips shared by the tests and benchmarks: JPEGs made with Pillow, the
lab's .Mjpeg read independently of rtsp_common.mjpeg, decoding for pixel comparisons.

Tests and benchmarks import it as ``media_samples`` (tests/conftest.py and bench/__init__.py put
tests/ on sys.path).
"""

from __future__ import annotations

import io
import math
import random
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# Pillow's subsampling option: 0 = 4:4:4, 1 = 4:2:2 (RFC 2435 type 0), 2 = 4:2:0 (type 1).
SUB_444, SUB_422, SUB_420 = 0, 1, 2
# The lab's .Mjpeg: each frame is preceded by its length in 5 ASCII digits.
LAB_LENGTH_DIGITS = 5


def encode_jpeg(image: Image.Image, **options) -> bytes:
    """``image`` as JPEG bytes; ``options`` go to Pillow's JPEG encoder."""
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def decode(jpeg: bytes) -> Image.Image:
    """Decode to an RGB Pillow image."""
    return Image.open(io.BytesIO(jpeg)).convert("RGB")


def rgb_bytes(jpeg: bytes) -> bytes:
    """Decoded RGB pixels, for comparing two JPEGs picture for picture."""
    return decode(jpeg).tobytes()


def pixels(jpeg: bytes) -> tuple[tuple[int, int], str, bytes]:
    """Decode with Pillow: size, mode and raw pixels."""
    with Image.open(io.BytesIO(jpeg)) as image:
        image.load()
        return image.size, image.mode, image.tobytes()


@lru_cache(maxsize=64)
def sample_image(width: int, height: int) -> Image.Image:
    """A deterministic colour picture with detail in every channel."""
    red = Image.effect_mandelbrot((width, height), (-2.0, -1.2, 0.8, 1.2), 64)
    green = Image.radial_gradient("L").resize((width, height))
    blue = Image.linear_gradient("L").rotate(30).resize((width, height))
    return Image.merge("RGB", (red, green, blue))


def make_jpeg(width: int = 64, height: int = 48, mode: str = "RGB", **options) -> bytes:
    """Encode the sample picture with Pillow's JPEG encoder and ``options``."""
    image = sample_image(width, height)
    if mode != "RGB":
        image = image.convert(mode)
    return encode_jpeg(image, **options)


def gradient_jpeg(width: int = 64, height: int = 48, seed: int = 0, quality: int = 75) -> bytes:
    """A small baseline 4:2:0 JPEG with standard Huffman tables (what RFC 2435 carries);
    each ``seed`` gives other colours."""
    image = Image.new("RGB", (width, height))
    canvas = image.load()
    for y in range(height):
        for x in range(width):
            canvas[x, y] = (
                (x * 4 + seed * 37) % 256,
                (y * 5 + seed * 11) % 256,
                (x * y + seed) % 256,
            )
    return encode_jpeg(image, quality=quality, subsampling=SUB_420, optimize=False)


def numbered_frames(
    count: int = 64, size: tuple[int, int] = (160, 120), quality: int = 80,
    subsampling: int = SUB_420,
) -> list[bytes]:  # fmt: skip
    """Baseline JPEG frames with standard Huffman tables, each different and labelled with
    its number."""
    frames = []
    for n in range(count):
        image = Image.new("RGB", size, ((n * 37) % 256, (n * 11) % 256, 200 - n % 100))
        draw = ImageDraw.Draw(image)
        draw.rectangle((n % size[0], 10, n % size[0] + 20, 40), fill=(255, 255, 0))
        draw.text((5, size[1] - 20), f"frame {n}", fill=(0, 0, 0))
        frames.append(encode_jpeg(image, quality=quality, subsampling=subsampling))
    return frames


def rotating_frames(
    count: int, size: tuple[int, int] = (640, 480), degrees: float = 1.5, quality: int = 75
) -> list[bytes]:
    """``count`` frames of a Mandelbrot picture turning by ``degrees`` a frame: a stand-in
    for a real movie where the lab's is absent."""
    base = Image.effect_mandelbrot(size, (-2.0, -1.2, 0.8, 1.2), 64).convert("RGB")
    return [encode_jpeg(base.rotate(i * degrees), quality=quality) for i in range(count)]


# What the lab's movie.Mjpeg holds (see its README): 240 frames of 640x480 baseline JPEG,
# 4:2:0, two quantization tables and the standard Huffman tables, 10-16 kB each, for 20 fps.
LAB_MOVIE_FRAMES = 240
LAB_MOVIE_SIZE = (640, 480)


def lab_like_frames(count: int = LAB_MOVIE_FRAMES, size: tuple[int, int] = LAB_MOVIE_SIZE):
    """Frames like the lab's movie, as a real encoder writes them (libjpeg through Pillow,
    quality 75, 4:2:0, no optimized Huffman tables): a ball and a bar moving over a smooth
    background, each frame labelled with its number, so that no two frames are alike."""
    width, height = size
    background = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").rotate(90).resize(size),
            Image.radial_gradient("L").resize(size),
            Image.linear_gradient("L").resize(size),
        ),
    )
    font = ImageFont.load_default(size=max(12, height // 10))
    for n in range(count):
        image = background.copy()
        draw = ImageDraw.Draw(image)
        angle = 2 * math.pi * n / count
        x = width / 2 + width * 0.3 * math.cos(angle)
        y = height / 2 + height * 0.3 * math.sin(2 * angle)
        radius = height / 12
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(250, 220, 40))
        bar = (n * 6) % width
        draw.rectangle((bar, height * 0.8, bar + width / 10, height * 0.92), fill=(30, 60, 200))
        draw.text((20, 20), f"frame {n:03d}", fill="white", font=font, stroke_width=2)
        yield encode_jpeg(image, quality=75, subsampling=SUB_420, optimize=False)


def write_lab_movie(path: Path, frames=None) -> Path:
    """Write ``frames`` (by default :func:`lab_like_frames`) in the lab's .Mjpeg format: each
    JPEG preceded by its length in 5 ASCII digits."""
    with open(path, "wb") as out:
        for jpeg in lab_like_frames() if frames is None else frames:
            out.write(b"%0*d" % (LAB_LENGTH_DIGITS, len(jpeg)))
            out.write(jpeg)
    return path


def noise_jpeg(size: tuple[int, int], seed: int, quality: int = 95, **options) -> bytes:
    """Random pixels from ``seed``: they compress badly, so the JPEG is large."""
    width, height = size
    noise = random.Random(seed).randbytes(width * height * 3)
    return encode_jpeg(Image.frombytes("RGB", size, noise), quality=quality, **options)


def progressive_jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    """A progressive JPEG, which RFC 2435 cannot carry."""
    return encode_jpeg(Image.new("RGB", size, (10, 200, 30)), progressive=True, quality=80)


def read_lab_frames(path: Path, count: int | None = None) -> list[bytes]:
    """The JPEGs of a lab .Mjpeg (all, or the first ``count``)."""
    data = path.read_bytes()
    frames: list[bytes] = []
    pos = 0
    while pos < len(data) and (count is None or len(frames) < count):
        length = int(data[pos : pos + LAB_LENGTH_DIGITS])
        pos += LAB_LENGTH_DIGITS
        frames.append(data[pos : pos + length])
        pos += length
    return frames
