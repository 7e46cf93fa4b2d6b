"""Encode Pillow images as JPEGs that RFC 2435 can carry.

RFC 2435 needs baseline (SOF0) JPEG with the standard Huffman tables of T.81 Annex K, at
most two quantization tables, 4:2:0 or 4:2:2 sampling, and sizes in 8-pixel units up to
2040. Pillow gives exactly that with ``optimize=False, progressive=False, subsampling=2``
on an RGB image.
"""

from __future__ import annotations

import io
import logging

from PIL import Image

from rtsp_common.mjpeg import MAX_LAB_FRAME

logger = logging.getLogger(__name__)

DEFAULT_QUALITY = 80
MIN_QUALITY = 10
QUALITY_STEP = 5
SUBSAMPLING_420 = 2  # Pillow's code for 4:2:0 chroma (RFC 2435 type 1)
SIZE_UNIT = 8  # RFC 2435 §3.1.5/§3.1.6: width and height travel in 8-pixel units
MAX_DIMENSION = 255 * SIZE_UNIT  # one byte of 8-pixel units: 2040


class FrameTooLarge(ValueError):
    """Even the lowest quality does not bring a frame under the byte limit."""


def encode_jpeg(image: Image.Image, quality: int = DEFAULT_QUALITY) -> bytes:
    """Baseline, 4:2:0, standard-Huffman JPEG bytes of ``image`` at ``quality``."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        quality=quality,
        subsampling=SUBSAMPLING_420,
        optimize=False,
        progressive=False,
    )
    return out.getvalue()


def encode_within(
    image: Image.Image, quality: int = DEFAULT_QUALITY, max_bytes: int | None = MAX_LAB_FRAME
) -> tuple[bytes, int]:
    """Encode at ``quality``, stepping it down until the frame fits ``max_bytes``.

    Returns the JPEG and the quality used; raises FrameTooLarge when nothing fits.
    """
    q = quality
    while True:
        data = encode_jpeg(image, q)
        if max_bytes is None or len(data) <= max_bytes:
            if q != quality:
                logger.info("quality lowered from %d to %d to fit %d bytes", quality, q, max_bytes)
            return data, q
        if q <= MIN_QUALITY:
            raise FrameTooLarge(
                f"a {image.width}x{image.height} frame is {len(data):,} bytes even at quality "
                f"{q}, over the {max_bytes:,}-byte limit; use a smaller --size"
            )
        q = max(MIN_QUALITY, q - QUALITY_STEP)


def check_size(width: int, height: int) -> None:
    """ValueError unless both sides are positive multiples of 8 up to 2040 (RFC 2435)."""
    for name, value in (("width", width), ("height", height)):
        if value <= 0 or value > MAX_DIMENSION:
            raise ValueError(f"{name} {value} outside 8..{MAX_DIMENSION} (RFC 2435 limit)")
        if value % SIZE_UNIT:
            nearest = max(SIZE_UNIT, round(value / SIZE_UNIT) * SIZE_UNIT)
            raise ValueError(
                f"{name} {value} is not a multiple of 8 (RFC 2435 sends sizes in 8-pixel "
                f"units); try {nearest}"
            )


def parse_size(text: str) -> tuple[int, int]:
    """``"384x288"`` -> (384, 288); ValueError with the expected form otherwise."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 384x288") from None
    return width, height
