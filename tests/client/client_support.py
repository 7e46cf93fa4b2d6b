"""Helpers for the client's tests: small JPEGs and decoding.

A uniquely named module: `from conftest import` is ambiguous across test folders.
"""

from __future__ import annotations

import io


def make_jpeg(width: int = 64, height: int = 48, seed: int = 0, quality: int = 75) -> bytes:
    """A small baseline 4:2:0 JPEG with standard Huffman tables (what RFC 2435 carries)."""
    from PIL import Image

    image = Image.new("RGB", (width, height))
    pixels = image.load()
    for y in range(height):
        for x in range(width):
            pixels[x, y] = (
                (x * 4 + seed * 37) % 256,
                (y * 5 + seed * 11) % 256,
                (x * y + seed) % 256,
            )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, subsampling=2, optimize=False)
    return out.getvalue()


def decode(jpeg: bytes):
    """Decode to an RGB Pillow image."""
    from PIL import Image

    return Image.open(io.BytesIO(jpeg)).convert("RGB")
