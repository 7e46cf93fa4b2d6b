"""A loopback capture that keeps every packet twice, as Scapy's sniff on ``lo`` does: the
kernel shows a raw socket each datagram once leaving and once arriving."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from scapy.sendrecv import AsyncSniffer
from scapy.utils import wrpcap

SETTLE_S = 0.5  # the sniffer's socket is open before the body sends anything


@contextlib.contextmanager
def scapy_double_capture(path: Path, capture_filter: str) -> Iterator[Path]:
    """Sniff ``lo`` with Scapy (both copies of each packet) into ``path`` while the body runs."""
    sniffer = AsyncSniffer(iface="lo", filter=capture_filter, store=True)
    sniffer.start()
    time.sleep(SETTLE_S)
    try:
        yield path
    finally:
        time.sleep(SETTLE_S)
        packets = sniffer.stop()
        wrpcap(str(path), packets)
