"""Numbers read at many unaligned byte offsets at once agree with struct, in both byte
orders, and a buffer too short for one number gives none."""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest

from analysis.pcap.byte_columns import gather, words


@pytest.mark.parametrize(("width", "code"), [(2, "H"), (4, "I"), (8, "Q")])
@pytest.mark.parametrize("endian", ["<", ">"])
def test_gathered_numbers_agree_with_struct_at_every_offset(width, code, endian):
    data = random.Random(width).randbytes(301)
    at = np.arange(len(data) - width + 1)
    expected = [struct.unpack_from(endian + code, data, i)[0] for i in at.tolist()]
    if width == 8:  # beyond int64: compare the unsigned words themselves
        assert words(data, width, endian)[at].tolist() == expected
    else:
        assert gather(data, at, width, endian).tolist() == expected


def test_a_buffer_shorter_than_one_number_has_none():
    assert len(words(b"abc", 4)) == 0
    assert len(words(b"abcd", 4)) == 1


def test_a_view_copies_nothing():
    data = bytearray(b"\x00\x01\x02\x03\x04")
    view = words(data, 2)
    data[1] = 0xFF
    assert view[0] == 0x00FF and view[1] == 0xFF02
