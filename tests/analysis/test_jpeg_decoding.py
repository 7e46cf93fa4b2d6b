"""Decoding a capture's JPEG frames: each distinct file once, found again by its exact
bytes, within a budget of bytes kept; files alike in their first bytes are told apart."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from analysis.payloads import jpeg_decoding
from analysis.payloads.jpeg_decoding import HINT_BYTES, FrameDecoder

WIDTH, HEIGHT = 320, 240


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    rng = random.Random(3)
    noise = Image.frombytes("L", (WIDTH, HEIGHT), rng.randbytes(WIDTH * HEIGHT)).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=90)
    data = out.getvalue()
    assert len(data) > 4 * HINT_BYTES
    return data


def _broken_late(data: bytes) -> bytes:
    """The same length and first bytes, but an SOI marker deep in the scan data."""
    at = 3 * HINT_BYTES
    return data[:at] + b"\xff\xd8" + data[at + 2 :]


def test_the_same_file_is_decoded_once(jpeg):
    with FrameDecoder(threads=2) as decoder:
        verdicts = [decoder.submit(bytes(jpeg), WIDTH, HEIGHT) for _ in range(5)]
    assert decoder.decoded == 1
    assert {v.result() for v in verdicts} == {""}


def test_files_alike_in_their_first_bytes_are_each_decoded(jpeg):
    broken = _broken_late(jpeg)
    with FrameDecoder(threads=2) as decoder:
        good, bad, bad_again = (decoder.submit(d, WIDTH, HEIGHT) for d in (jpeg, broken, broken))
    assert decoder.decoded == 2
    assert good.result() == ""
    assert bad.result().startswith("Pillow cannot decode it") and bad_again is bad


def test_a_wrong_size_is_named(jpeg):
    with FrameDecoder(threads=1) as decoder:
        verdict = decoder.submit(jpeg, WIDTH * 2, HEIGHT)
    assert verdict.result() == f"decodes to {WIDTH}x{HEIGHT}, header says {WIDTH * 2}x{HEIGHT}"


def test_past_the_budget_files_are_decoded_again_not_kept(jpeg, monkeypatch):
    monkeypatch.setattr(jpeg_decoding, "KEPT_BYTES", len(jpeg) - 1)
    with FrameDecoder(threads=1) as decoder:
        verdicts = [decoder.submit(jpeg, WIDTH, HEIGHT) for _ in range(3)]
    assert decoder.decoded == 3 and all(v.result() == "" for v in verdicts)


def test_many_distinct_files_on_one_thread_all_get_their_verdict(jpeg):
    files = [jpeg[:-2] + bytes([i % 256, 0xD9]) for i in range(40)]  # distinct last bytes
    with FrameDecoder(threads=1) as decoder:
        verdicts = [decoder.submit(f, WIDTH, HEIGHT) for f in files]
    assert decoder.decoded == 40
    assert all(v.done() for v in verdicts)
