"""Numbers read at many unaligned byte offsets at once, as rows of a header, agree with
struct in both byte orders; a buffer too short for one number gives none."""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest

from analysis.pcap.byte_columns import byte_rows, column


@pytest.mark.parametrize(("width", "code"), [(2, "H"), (4, "I"), (8, "Q")])
@pytest.mark.parametrize("endian", ["<", ">"])
def test_gathered_numbers_agree_with_struct_at_every_offset(width, code, endian):
    data = random.Random(width).randbytes(301)
    at = np.arange(len(data) - width + 1)
    expected = [struct.unpack_from(endian + code, data, i)[0] for i in at.tolist()]
    assert column(byte_rows(data, at, width), 0, width, endian).tolist() == expected


def test_a_buffer_shorter_than_one_number_has_none():
    assert len(byte_rows(b"abc", np.zeros(0, dtype=np.int64), 4)) == 0
    assert len(byte_rows(b"abcd", np.zeros(1, dtype=np.int64), 4)) == 1


@pytest.mark.parametrize("endian", ["<", ">"])
def test_fields_of_header_rows_agree_with_struct(endian):
    data = random.Random(7).randbytes(400) + b"\xff" * 8  # an 8-byte word past int64
    at = np.array([0, 3, 150, 301, len(data) - 16])
    table = byte_rows(data, at, 16)
    assert table.shape == (5, 16)
    for start, width, code in [(0, 1, "B"), (1, 2, "H"), (5, 4, "I"), (8, 8, "Q")]:
        expected = [struct.unpack_from(endian + code, data, a + start)[0] for a in at.tolist()]
        assert column(table, start, width, endian).tolist() == expected
    assert column(table, 8, 8, endian)[-1] == 2**64 - 1
