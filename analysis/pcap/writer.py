"""Writing classic pcap files (pcap-savefile(5)): the one writer behind live captures and
synthetic traffic. ``analysis.pcap.reader`` reads what it writes."""

from __future__ import annotations

import struct
from typing import BinaryIO

from analysis.pcap.reader import PCAP_MAGIC_US
from analysis.wire.flows import LINKTYPE_ETHERNET

PCAP_VERSION = (2, 4)  # pcap-savefile(5): the only version in use
# Large enough for a loopback frame (MTU 65536 + link header).
SNAPLEN = 262144
USEC_PER_SEC = 1_000_000
_GLOBAL_HEADER = struct.Struct("<IHHiIII")  # magic, version, thiszone, sigfigs, snaplen, linktype
_RECORD_HEADER = struct.Struct("<IIII")  # seconds, microseconds, captured length, original length


class PcapFileWriter:
    """Appends raw Ethernet frames to a classic pcap file (microsecond timestamps)."""

    def __init__(self, stream: BinaryIO, snaplen: int = SNAPLEN) -> None:
        self.stream = stream
        self.snaplen = snaplen
        stream.write(
            _GLOBAL_HEADER.pack(PCAP_MAGIC_US, *PCAP_VERSION, 0, 0, snaplen, LINKTYPE_ETHERNET)
        )

    def write(self, frame: bytes | memoryview, timestamp: float) -> None:
        """Append one frame captured at ``timestamp`` (seconds since the epoch), cut at snaplen."""
        sec = int(timestamp)
        usec = int(round((timestamp - sec) * USEC_PER_SEC))
        if usec >= USEC_PER_SEC:
            sec, usec = sec + 1, usec - USEC_PER_SEC
        data = frame[: self.snaplen]
        self.stream.write(_RECORD_HEADER.pack(sec, usec, len(data), len(frame)))
        self.stream.write(data)

    def flush(self) -> None:
        """Push buffered records to the file, so a reader sees them while capturing."""
        self.stream.flush()
