"""The names the client's receiver tests import; the pictures live in tests/media_samples.py.

A uniquely named module: `from conftest import` is ambiguous across test folders.
"""

from __future__ import annotations

from media_samples import decode
from media_samples import gradient_jpeg as make_jpeg

__all__ = ["decode", "make_jpeg"]
