"""Freed memory goes back to the system between the checker's phases (glibc's malloc_trim),
not only when it happens to sit at the top of the heap."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis import freed_memory
from analysis.freed_memory import release_freed_memory

MB = 1 << 20


def anonymous_resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def test_holes_left_in_the_heap_are_given_back():
    threshold_raiser = np.ones(16 * MB // 8)  # freed, it lifts glibc's mmap threshold to 16 MB
    del threshold_raiser
    blocks = [np.ones(MB // 8) for _ in range(100)]  # so these 1 MB blocks come from the heap
    top = blocks.pop()  # still held above the others: free() alone cannot shrink the heap
    del blocks
    held = anonymous_resident_bytes()
    assert release_freed_memory()
    assert held - anonymous_resident_bytes() > 60 * MB
    assert top.sum() == MB // 8  # held until here


def test_without_a_c_library_to_ask_it_does_nothing(monkeypatch):
    monkeypatch.setattr(freed_memory.ctypes.util, "find_library", lambda name: None)
    assert freed_memory._malloc_trim() is None
    monkeypatch.setattr(freed_memory, "_TRIM", None)
    assert release_freed_memory() is False
