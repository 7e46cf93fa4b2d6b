"""Damaged captures through the whole checker: mutated bytes anywhere in a valid
capture, or arbitrary bytes, never raise anything but the analysis error."""

from __future__ import annotations

import pytest
from analysis_corpus import clean_session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.check import check_capture
from analysis.errors import AnalysisError


class Capture(bytes):
    """Capture bytes with a short repr, for readable failure reports."""

    def __repr__(self) -> str:
        return f"<capture of {len(self)} bytes>"


@pytest.fixture(scope="module")
def clean_bytes(tmp_path_factory) -> bytes:
    path = clean_session(count=12).write(tmp_path_factory.mktemp("c") / "clean.pcap")
    return Capture(path.read_bytes())


@pytest.fixture(scope="module")
def interleaved_bytes(tmp_path_factory) -> bytes:
    session = clean_session(count=12, interleaved=True)
    return Capture(session.write(tmp_path_factory.mktemp("i") / "tcp.pcap").read_bytes())


def run_check(tmp_path, data: bytes) -> None:
    path = tmp_path / "mutated.pcap"
    path.write_bytes(data)
    try:
        result = check_capture(path)
    except AnalysisError:
        return
    for r in result.rules:  # every rule ran and said something coherent
        assert r.outcome is not None
    result.to_dict()
    for stream in result.streams:
        for frame in stream.frames:
            frame.jpeg()


def mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[24 + position % (len(out) - 24)] = value  # keep the file header, hit anything else
    return bytes(out)


EDITS = st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 255)), min_size=1, max_size=8)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=EDITS)
def test_mutated_udp_capture_never_crashes_the_checker(tmp_path, clean_bytes, edits):
    run_check(tmp_path, mutate(clean_bytes, edits))


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=EDITS)
def test_mutated_interleaved_capture_never_crashes_the_checker(tmp_path, interleaved_bytes, edits):
    run_check(tmp_path, mutate(interleaved_bytes, edits))


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(0, 10**6))
def test_capture_cut_anywhere_keeps_what_came_before(tmp_path, clean_bytes, cut):
    run_check(tmp_path, clean_bytes[: cut % len(clean_bytes)])


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_through_the_checker(tmp_path, data):
    run_check(tmp_path, data)
    run_check(
        tmp_path,
        b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(8) + b"\xff\xff\x00\x00\x01\x00\x00\x00" + data,
    )
