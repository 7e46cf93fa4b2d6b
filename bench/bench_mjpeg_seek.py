"""Seeking into a .Mjpeg: our prefix-only index against reading every frame before it.

The lab's VideoStream reads frame after frame, so reaching frame n reads n frames; our
reader reads only the 5-byte prefixes once to build its index, then one read per frame
asked for. Prints the open cost and the cost of random seeks (as RTSP PLAY with a Range
makes), both ways, measured in the same run on the same file.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from rtsp_common.mjpeg import LAB_PREFIX_SIZE, open_media

LAB_MOVIE = Path(__file__).resolve().parent.parent.parent / "shared" / "lab" / "movie.Mjpeg"
REPEATS = 20
SEEKS = 200


def sequential_seek(path: Path, n: int) -> bytes:
    """Read frames one after another up to frame n, as a prefix-then-body reader must."""
    with path.open("rb") as file:
        for _ in range(n + 1):
            length = int(file.read(LAB_PREFIX_SIZE))
            frame = file.read(length)
    return frame


def timed(fn, *args, repeats: int = REPEATS) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn(*args)
    return (time.perf_counter() - start) / repeats


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = LAB_MOVIE
        if not path.exists():
            from workbench.sample import make_sample

            path = make_sample(Path(tmp) / "movie.Mjpeg").path
        with open_media(path) as reader:
            count = len(reader)
            targets = [random.Random(seed).randrange(count) for seed in range(SEEKS)]
            assert all(sequential_seek(path, n) == reader[n] for n in targets[:5])
            start = time.perf_counter()
            for n in targets:
                reader[n]
            ours_seek = (time.perf_counter() - start) / SEEKS
        ours_open = timed(lambda: open_media(path).close())
        start = time.perf_counter()
        for n in targets:
            sequential_seek(path, n)
        peer_seek = (time.perf_counter() - start) / SEEKS
    print(f"{path.name}: {count} frames, {SEEKS} random seeks")
    print(f"  open + index (prefixes only): {ours_open * 1000:8.3f} ms once")
    print(f"  seek, indexed:                {ours_seek * 1000:8.3f} ms")
    print(
        f"  seek, reading through:        {peer_seek * 1000:8.3f} ms  ({peer_seek / ours_seek:.0f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
