"""RTP/RTCP codec speed against Scapy's RTP layer, measured in the same run.

Prints packets per second for building and parsing, and our ratio to Scapy. The server's
send path only builds the 12-byte header (`pack_header`), so that is the figure that counts.
"""

from __future__ import annotations

import time

from rtsp_common.rtcp import (
    ReceiverReport,
    ReportBlock,
    SenderReport,
    build_compound,
    parse_compound,
)
from rtsp_common.rtp import RTPPacket, pack_header

PAYLOAD = bytes(1400)
ROUNDS = 20_000


def rate(fn, rounds: int = ROUNDS) -> float:
    """Calls per second of ``fn`` over ``rounds`` calls."""
    start = time.perf_counter()
    for i in range(rounds):
        fn(i)
    return rounds / (time.perf_counter() - start)


def main() -> int:
    from scapy.layers.rtp import RTP

    wire = RTPPacket(26, 1, 2, 3, True, PAYLOAD).to_bytes()
    ours = {
        "build header": rate(lambda i: pack_header(26, i & 0xFFFF, i * 4500, 0x1234, True)),
        "build packet": rate(lambda i: RTPPacket(26, i & 0xFFFF, i, 7, True, PAYLOAD).to_bytes()),
        "parse packet": rate(lambda i: RTPPacket.parse(wire)),
    }
    scapy_rounds = ROUNDS // 10
    peer = {
        "build header": rate(
            lambda i: bytes(
                RTP(payload_type=26, sequence=i & 0xFFFF, timestamp=i, sourcesync=7, marker=1)
            ),
            scapy_rounds,
        ),
        "build packet": rate(
            lambda i: bytes(
                RTP(payload_type=26, sequence=i & 0xFFFF, timestamp=i, sourcesync=7) / PAYLOAD
            ),
            scapy_rounds,
        ),
        "parse packet": rate(lambda i: RTP(wire), scapy_rounds),
    }
    print(f"{'RTP':<14}{'ours/s':>12}{'scapy/s':>12}{'ratio':>8}")
    for name in ours:
        print(f"{name:<14}{ours[name]:>12,.0f}{peer[name]:>12,.0f}{ours[name] / peer[name]:>7.0f}x")
    compound = build_compound(
        [SenderReport(1, 2, 3, 4, 5), ReceiverReport(1, (ReportBlock(2, 0, 0, 100, 3, 4, 5),))]
    )
    print(f"RTCP parse compound (SR+RR): {rate(lambda i: parse_compound(compound)):,.0f}/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
