"""Bulk reading of capture files: classic pcap and pcapng, as raw records.

Scapy's per-packet dissection is far too slow for captures of tens of thousands of
packets, so this module reads records with ``struct`` straight out of one buffer.
Packets are numbered as Wireshark numbers them: the first record is packet 1.

A corrupt or truncated file raises nothing here: reading stops, the records read so
far are kept, and ``Records.error`` holds a :class:`CaptureFileError` naming the byte offset.
Records cut by the capture's snap length (``tcpdump -s 200``) are read like any other:
``original_lengths`` keeps what was on the wire, and readers above judge what is there.
gzip (and, with their modules, zstd and LZ4) files are decompressed first, as Wireshark does.
"""

from __future__ import annotations

import array
import logging
import mmap
import os
import struct
from pathlib import Path

import numpy as np

from analysis.errors import CaptureFileError
from analysis.pcap.byte_columns import byte_rows, column
from analysis.pcap.compressed import compression_of, decompress
from analysis.pcap.pcapng import PCAPNG_SHB, read_pcapng
from analysis.pcap.records import MAX_RECORD_LEN, Records

log = logging.getLogger(__name__)

# Classic pcap magic numbers (pcap-savefile(5)): micro- and nanosecond resolution.
PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAP_GLOBAL_HEADER_LEN = 24
PCAP_RECORD_HEADER_LEN = 16


def read_records(source: str | Path | bytes) -> Records:
    """Read every record of a pcap or pcapng file (or its bytes).

    Raises :class:`CaptureFileError` only when the file header itself is unreadable;
    damage further in is reported in ``Records.error`` with what was read before it.
    """
    buf: bytes | mmap.mmap
    if isinstance(source, bytes | bytearray | memoryview):
        buf, name = bytes(source), "<bytes>"
    else:
        name = str(source)
        try:
            buf = _load(Path(source))
        except OSError as exc:
            raise CaptureFileError(f"cannot read capture {name}: {exc.strerror or exc}", 0) from exc
    compression = compression_of(bytes(buf[:4]))
    damage = ""
    if compression is not None:
        buf, damage = decompress(bytes(buf), compression, name)
    records = _read_uncompressed(buf, name)
    records.compression = compression
    if damage and records.error is None:
        records.error = CaptureFileError(f"{name}: {damage}", len(buf), len(records))
    return records


def _read_uncompressed(buf: bytes | mmap.mmap, name: str) -> Records:
    if len(buf) < 4:
        raise CaptureFileError(f"{name}: too short to be a capture file ({len(buf)} bytes)", 0)
    magic_le = struct.unpack_from("<I", buf)[0]
    if magic_le == PCAPNG_SHB:
        return read_pcapng(buf, name)
    for endian in "<>":
        magic = struct.unpack_from(endian + "I", buf)[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            return _read_pcap(buf, name, endian, magic == PCAP_MAGIC_NS)
    raise CaptureFileError(
        f"{name}: not a pcap or pcapng file (magic {buf[:4].hex()}); "
        "save it from Wireshark as pcap or pcapng",
        0,
    )


MMAP_MIN_BYTES = 1 << 20  # below this, reading is as quick as mapping


def _load(path: Path) -> bytes | mmap.mmap:
    """The file's bytes; large files are mapped read-only rather than copied (a file
    truncated by another program while it is being checked is not supported)."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < MMAP_MIN_BYTES:
            return f.read()
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def _read_pcap(buf: bytes | mmap.mmap, name: str, endian: str, nanos: bool) -> Records:
    records = Records(name, "pcap", buf)
    n = len(buf)
    if n < PCAP_GLOBAL_HEADER_LEN:
        raise CaptureFileError(f"{name}: pcap global header truncated ({n} of 24 bytes)", n)
    snaplen, linktype = struct.unpack_from(endian + "II", buf, 16)
    linktype &= 0xFFFF  # the upper bits carry FCS information (pcap-linktype(7))
    limit = max(snaplen, MAX_RECORD_LEN)
    scale = 1e-9 if nanos else 1e-6
    # Walk the chain of record headers reading only each captured length; the rest of
    # every header is then gathered for all records at once. The offsets go to an array
    # of machine words, 8 bytes each, not a list of Python ints (36).
    captured_len = struct.Struct(endian + "I").unpack_from
    heads = array.array("q")
    h_append = heads.append
    off = PCAP_GLOBAL_HEADER_LEN
    end_hdr = n - PCAP_RECORD_HEADER_LEN
    while off <= end_hdr:  # checks on each record's length follow, vectorized
        h_append(off)
        off += PCAP_RECORD_HEADER_LEN + captured_len(buf, off + 8)[0]
    at = np.frombuffer(heads, dtype=np.int64)
    header = byte_rows(buf, at, PCAP_RECORD_HEADER_LEN)  # seconds, fraction, captured, original
    lengths = column(header, 8, 4, endian)
    bad = np.nonzero((lengths > limit) | (at + PCAP_RECORD_HEADER_LEN + lengths > n))[0]
    if len(bad):
        first = int(bad[0])
        where, incl = int(at[first]), int(lengths[first])
        if incl > limit:
            message = f"corrupt record header (captured length {incl} exceeds {limit})"
        else:
            present = n - where - PCAP_RECORD_HEADER_LEN
            message = f"truncated record ({present} of {incl} bytes present)"
        records.error = CaptureFileError(f"{name}: {message}", where, first)
        at, lengths, header = at[:first], lengths[:first], header[:first]
    elif off != n:
        records.error = CaptureFileError(
            f"{name}: truncated record header ({n - off} of 16 bytes present)",
            off,
            len(heads),
        )
    records.original_lengths = np.maximum(column(header, 12, 4, endian), lengths)
    records.offsets = at + PCAP_RECORD_HEADER_LEN
    records.lengths = lengths
    records.times = column(header, 0, 4, endian) + column(header, 4, 4, endian) * scale
    records.linktypes = np.broadcast_to(np.int64(linktype), len(at))  # one for all: no column
    if records.error:
        log.warning("%s", records.error)
    return records
