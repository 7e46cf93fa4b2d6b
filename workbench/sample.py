"""The built-in sample clip: deterministic frames whose number can be read back from pixels.

Each frame shows moving shapes, its number drawn large (for eyes) and a row of black and
white blocks in the top-left corner coding the number in binary (for code): after a trip
through RTP and a JPEG decoder, :func:`read_frame_number` still tells which frame arrived.
The same arguments give the same bytes on every run.
"""

from __future__ import annotations

import io
import logging
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont, ImageStat

from rtsp_common.mjpeg import open_media
from workbench.clipfile import write_clip
from workbench.encoding import DEFAULT_QUALITY, check_size, encode_within

if TYPE_CHECKING:
    from workbench.report.i18n import Catalog

logger = logging.getLogger(__name__)

DEFAULT_PATH = Path("media/movie.Mjpeg")
DEFAULT_SIZE = (384, 288)  # the size of the clip the lab streams
DEFAULT_FRAMES = 500
DEFAULT_FPS = 20.0
MIN_SIZE = (96, 64)  # below this the frame code's blocks get too small to survive JPEG

# Frame code: start pair, CODE_BITS data cells (most significant first), a parity cell,
# end pair. White is 1, black is 0. Cells sit on the 8x8 DCT grid at the default size.
CODE_BITS = 16
MAX_FRAMES = 1 << CODE_BITS
START = (1, 0)
END = (0, 1)
CODE_CELLS = len(START) + CODE_BITS + 1 + len(END)
MAX_CELL = 8
WHITE = 255
BLACK = 0
THRESHOLD = 128


class FrameCodeError(ValueError):
    """The image carries no readable frame code."""


@dataclass(frozen=True)
class SampleInfo:
    """What :func:`make_sample` wrote."""

    path: Path
    frames: int
    width: int
    height: int
    fps: float
    bytes: int
    largest_frame: int

    def describe(self) -> str:
        """One line for a person: what, how big, how long."""
        seconds = self.frames / self.fps
        return (
            f"{self.path}: {self.frames} frames, {self.width}x{self.height}, "
            f"{self.fps:g} fps ({seconds:.1f} s), {self.bytes:,} bytes "
            f"(largest frame {self.largest_frame:,} bytes)"
        )

    def describe_in(self, catalog: Catalog) -> str:
        """The same line in a report's language (its ``clip.describe`` message)."""
        return catalog.t(
            "clip.describe",
            path=str(self.path),
            frames=self.frames,
            size=f"{self.width}x{self.height}",
            fps=self.fps,
            seconds=self.frames / self.fps,
            bytes=self.bytes,
            largest=self.largest_frame,
        )


def code_cell_size(width: int, height: int) -> int:
    """Side of one frame-code block, from the image size alone so a reader can recompute it."""
    return max(1, min(MAX_CELL, width // (CODE_CELLS + 3), height // 8))


def _code_cells(number: int) -> list[int]:
    bits = [(number >> (CODE_BITS - 1 - i)) & 1 for i in range(CODE_BITS)]
    parity = sum(bits) % 2
    return [*START, *bits, parity, *END]


def _code_origin(cell: int) -> tuple[int, int]:
    return cell, cell


def draw_frame_code(image: Image.Image, number: int) -> None:
    """Draw ``number`` as blocks in the top-left corner, on a black quiet zone."""
    if not 0 <= number < MAX_FRAMES:
        raise ValueError(f"frame number {number} does not fit the {CODE_BITS}-bit code")
    cell = code_cell_size(image.width, image.height)
    x0, y0 = _code_origin(cell)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, x0 + (CODE_CELLS + 1) * cell - 1, y0 + 2 * cell - 1), fill=BLACK)
    for i, bit in enumerate(_code_cells(number)):
        if bit:
            x = x0 + i * cell
            draw.rectangle((x, y0, x + cell - 1, y0 + cell - 1), fill=(WHITE,) * 3)


def read_frame_number(image: Image.Image) -> int:
    """The frame number coded in a sample frame (also after JPEG re-encoding).

    Raises FrameCodeError when the blocks are missing or do not check out.
    """
    gray = image.convert("L")
    cell = code_cell_size(gray.width, gray.height)
    x0, y0 = _code_origin(cell)
    margin = cell // 4
    cells = []
    for i in range(CODE_CELLS):
        x = x0 + i * cell
        box = (x + margin, y0 + margin, x + cell - margin, y0 + cell - margin)
        mean = ImageStat.Stat(gray.crop(box)).mean[0]
        cells.append(1 if mean >= THRESHOLD else 0)
    start, end = tuple(cells[: len(START)]), tuple(cells[-len(END) :])
    if start != START or end != END:
        raise FrameCodeError("no frame code in the top-left corner (start/end blocks not found)")
    bits = cells[len(START) : len(START) + CODE_BITS]
    if sum(bits) % 2 != cells[len(START) + CODE_BITS]:
        raise FrameCodeError("frame code parity does not match: the blocks are damaged")
    return int("".join(map(str, bits)), 2)


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled default font: the same glyphs on every machine with this Pillow.
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=4)
def _background(width: int, height: int) -> Image.Image:
    """A dark blue-to-teal gradient: cheap to encode, and shows blocking artefacts."""
    ramp = Image.linear_gradient("L").resize((width, height))
    blue = Image.new("L", (width, height), 110)
    return Image.merge(
        "RGB", (Image.new("L", (width, height), 20), ramp.point(lambda v: v // 2), blue)
    )


def _bounce(t: float, period: float) -> float:
    """0 -> 1 -> 0 over ``period`` seconds (a triangle wave)."""
    phase = (t / period) % 1.0
    return 2 * phase if phase < 0.5 else 2 * (1 - phase)


def render_frame(
    number: int, size: tuple[int, int] = DEFAULT_SIZE, fps: float = DEFAULT_FPS
) -> Image.Image:
    """Frame ``number`` of the sample: motion follows time ``number / fps``."""
    width, height = size
    t = number / fps
    image = _background(width, height).copy()
    draw = ImageDraw.Draw(image)

    # A ball bouncing left-right, a square turning while it rises and falls, a sweeping bar.
    r = height // 8
    cx = r + _bounce(t, 4.0) * (width - 2 * r)
    cy = height - r - abs(math.sin(math.pi * t / 1.3)) * height * 0.35
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(240, 180, 30), outline=(0, 0, 0))
    side = height // 6
    sx = width - side * 1.5
    sy = side + _bounce(t, 3.0) * (height - 2 * side)
    angle = t * math.pi / 2
    corners = [
        (
            sx + side * math.cos(angle + k * math.pi / 2),
            sy + side * math.sin(angle + k * math.pi / 2),
        )
        for k in range(4)
    ]
    draw.polygon(corners, fill=(200, 40, 60), outline=(255, 255, 255))
    bar_x = int(_bounce(t, 6.0) * (width - 8))
    draw.rectangle((bar_x, height - 6, bar_x + 7, height - 1), fill=(255, 255, 255))

    big = _font(max(12, height * 2 // 5))
    draw.text(
        (width / 2, height / 2),
        f"{number}",
        font=big,
        anchor="mm",
        fill=(255, 255, 255),
        stroke_width=max(1, height // 100),
        stroke_fill=(0, 0, 0),
    )
    small = _font(max(8, height // 14))
    draw.text(
        (width / 2, height * 0.78),
        f"{t:.2f} s",
        font=small,
        anchor="mm",
        fill=(230, 230, 230),
    )
    draw_frame_code(image, number)
    return image


def make_sample(
    path: str | os.PathLike[str] = DEFAULT_PATH,
    size: tuple[int, int] = DEFAULT_SIZE,
    frames: int = DEFAULT_FRAMES,
    fps: float = DEFAULT_FPS,
    quality: int = DEFAULT_QUALITY,
) -> SampleInfo:
    """Write the sample clip to ``path`` (format from the name: .Mjpeg lab, .mjpeg raw).

    The file is written beside its final name and moved into place, so a reader never sees
    half a clip. Raises ValueError on a size RFC 2435 cannot carry or a bad count/rate.
    """
    width, height = size
    check_size(width, height)
    if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
        raise ValueError(f"size {width}x{height} below the {MIN_SIZE[0]}x{MIN_SIZE[1]} minimum")
    if not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f"frames {frames} outside 1..{MAX_FRAMES}")
    if not fps > 0:
        raise ValueError(f"fps {fps} must be positive")
    frames_iter = (
        encode_within(render_frame(n, (width, height), fps), quality)[0] for n in range(frames)
    )
    written = write_clip(path, frames_iter)
    info = SampleInfo(
        Path(path), frames, width, height, fps, written.file_bytes, written.largest_frame
    )
    logger.info("made %s", info.describe())
    return info


def describe_clip(path: str | os.PathLike[str], fps: float = DEFAULT_FPS) -> SampleInfo:
    """Summarise an existing clip (its first frame gives the size); MediaFileError if unreadable."""
    path = Path(path)
    with open_media(path) as reader:
        with Image.open(io.BytesIO(reader[0])) as first:
            width, height = first.size
        largest = max(length for _, length in reader.index)
        frames = len(reader)
    return SampleInfo(path, frames, width, height, fps, path.stat().st_size, largest)


def ensure_sample(path: str | os.PathLike[str] = DEFAULT_PATH) -> tuple[SampleInfo, bool]:
    """Make the default sample at ``path`` unless a clip is there; return it and whether it was made."""
    path = Path(path)
    if path.exists():
        return describe_clip(path), False
    return make_sample(path), True
