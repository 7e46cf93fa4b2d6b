"""RTSP MessageParser speed against the standard library's HTTP header parser, same run.

Prints messages per second for a typical PLAY request (ours: start line, headers, CSeq;
peer: ``http.client.parse_headers`` on the same bytes), the cost per byte when a head
arrives one byte at a time (1 KiB vs 8 KiB heads: a ratio near 1 means no rescans),
and interleaved RTP throughput over a TCP-sized stream.
"""

from __future__ import annotations

import http.client
import io
import time

from rtsp_common.rtsp import InterleavedFrame, MessageParser

PLAY = (
    b"PLAY rtsp://127.0.0.1:8554/movie.Mjpeg RTSP/1.0\r\n"
    b"CSeq: 4\r\n"
    b"User-Agent: LibVLC/3.0.18 (LIVE555 Streaming Media v2016.11.28)\r\n"
    b"Session: 8A7B6C5D;timeout=60\r\n"
    b"Range: npt=0.000-\r\n"
    b"\r\n"
)
ROUNDS = 20_000


def rate(fn, rounds: int = ROUNDS) -> float:
    """Calls per second of ``fn`` over ``rounds`` calls."""
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return rounds / (time.perf_counter() - start)


def ours_whole() -> None:
    (request,) = MessageParser().feed(PLAY)
    assert request.cseq == 4


def stdlib_whole() -> None:
    buf = io.BytesIO(PLAY)
    buf.readline()  # the request line, which parse_headers does not read
    headers = http.client.parse_headers(buf)
    assert int(headers["CSeq"]) == 4


def per_byte_cost(head_size: int) -> float:
    """Seconds per byte to parse one head of ``head_size`` bytes fed byte by byte."""
    pad = head_size - len(PLAY) - len(b"X-Pad: \r\n")
    wire = PLAY[:-2] + b"X-Pad: " + b"p" * pad + b"\r\n\r\n"
    chunks = [wire[i : i + 1] for i in range(len(wire))]
    start = time.perf_counter()
    for _ in range(5):
        parser = MessageParser()
        for chunk in chunks:
            parser.feed(chunk)
    return (time.perf_counter() - start) / (5 * len(wire))


def interleaved_throughput() -> float:
    """MB/s through the parser for 1,400-byte RTP frames arriving in 64 KiB reads."""
    stream = InterleavedFrame(0, bytes(1400)).to_bytes() * 4000
    chunks = [stream[i : i + 65536] for i in range(0, len(stream), 65536)]
    start = time.perf_counter()
    parser = MessageParser()
    count = sum(len(parser.feed(chunk)) for chunk in chunks)
    elapsed = time.perf_counter() - start
    assert count == 4000
    return len(stream) / elapsed / 1e6


def main() -> int:
    ours = rate(ours_whole)
    peer = rate(stdlib_whole)
    print(f"{'PLAY request':<22}{'ours/s':>12}{'stdlib/s':>12}{'ratio':>8}")
    print(f"{'parse whole':<22}{ours:>12,.0f}{peer:>12,.0f}{ours / peer:>7.2f}x")
    small, large = per_byte_cost(1024), per_byte_cost(8000)
    print(
        f"byte-by-byte: {small * 1e6:.2f} us/byte (1 KiB head), {large * 1e6:.2f} us/byte "
        f"(8 KiB head), ratio {large / small:.2f} (near 1: linear)"
    )
    print(f"interleaved RTP: {interleaved_throughput():,.0f} MB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
