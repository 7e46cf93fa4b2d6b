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

import logging
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis.errors import CaptureFileError
from analysis.pcap.compressed import compression_of, decompress

log = logging.getLogger(__name__)

# Classic pcap magic numbers (pcap-savefile(5)): micro- and nanosecond resolution.
PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAP_GLOBAL_HEADER_LEN = 24
PCAP_RECORD_HEADER_LEN = 16

# pcapng block types (draft-ietf-opsawg-pcapng §4).
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_IDB = 0x00000001
PCAPNG_SPB = 0x00000003
PCAPNG_EPB = 0x00000006
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D
PCAPNG_OPT_END = 0
PCAPNG_OPT_IF_TSRESOL = 9
PCAPNG_DEFAULT_TSRESOL = 1e-6

# No sane capture holds a record longer than this (Wireshark's own limit is 256 KiB).
MAX_RECORD_LEN = 262144 * 4


def _no_records() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class Records:
    """Raw records of one capture, indexed by packet number - 1.

    The file's bytes stay in ``buffer``; record i's captured bytes are
    ``buffer[offsets[i] : offsets[i] + lengths[i]]`` (``frame(i)``), so reading makes no
    copy per packet.
    """

    path: str
    format: str  # "pcap" or "pcapng"
    buffer: bytes | mmap.mmap = b""
    times: np.ndarray = field(default_factory=_no_records)
    offsets: np.ndarray = field(default_factory=_no_records)
    lengths: np.ndarray = field(default_factory=_no_records)
    linktypes: np.ndarray = field(default_factory=_no_records)
    # Bytes each packet had on the wire; more than ``lengths`` where the snap length cut it.
    original_lengths: np.ndarray = field(default_factory=_no_records)
    error: CaptureFileError | None = None
    compression: str | None = None  # "gzip", "zstd" or "lz4" when the file was compressed

    def __len__(self) -> int:
        return len(self.offsets)

    @property
    def cut(self) -> int:
        """How many records the snap length cut short."""
        return int(np.count_nonzero(self.original_lengths > self.lengths)) if len(self) else 0

    def frame(self, index: int) -> bytes:
        """The captured bytes of record ``index`` (packet number - 1)."""
        start = int(self.offsets[index])
        return self.buffer[start : start + int(self.lengths[index])]


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
        return _read_pcapng(buf, name)
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
    # every header is then gathered for all records at once.
    captured_len = struct.Struct(endian + "I").unpack_from
    heads: list[int] = []
    h_append = heads.append
    off = PCAP_GLOBAL_HEADER_LEN
    end_hdr = n - PCAP_RECORD_HEADER_LEN
    while off <= end_hdr:  # checks on each record's length follow, vectorized
        h_append(off)
        off += PCAP_RECORD_HEADER_LEN + captured_len(buf, off + 8)[0]
    at = np.asarray(heads, dtype=np.int64)
    data = np.frombuffer(buf, dtype=np.uint8)
    lengths = _u32(data, at + 8, endian)
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
        at, lengths = at[:first], lengths[:first]
    elif off != n:
        records.error = CaptureFileError(
            f"{name}: truncated record header ({n - off} of 16 bytes present)",
            off,
            len(heads),
        )
    records.original_lengths = np.maximum(_u32(data, at + 12, endian), lengths)
    records.offsets = at + PCAP_RECORD_HEADER_LEN
    records.lengths = lengths
    records.times = _u32(data, at, endian) + _u32(data, at + 4, endian) * scale
    records.linktypes = np.full(len(at), linktype, dtype=np.int64)
    if records.error:
        log.warning("%s", records.error)
    return records


def _u32(data: np.ndarray, at: np.ndarray, endian: str) -> np.ndarray:
    """The 32-bit unsigned integers at byte positions ``at``, as int64 (or float64 times)."""
    shifts = (0, 8, 16, 24) if endian == "<" else (24, 16, 8, 0)
    out = np.zeros(len(at), dtype=np.int64)
    for k, shift in enumerate(shifts):
        out |= data[at + k].astype(np.int64) << shift
    return out


@dataclass
class _Interface:
    linktype: int
    tsresol: float


def _read_pcapng(buf: bytes | mmap.mmap, name: str) -> Records:
    records = Records(name, "pcapng", buf)
    n = len(buf)
    off = 0
    endian = "<"
    interfaces: list[_Interface] = []
    # Lists while reading, numpy arrays once done.
    times: list[float] = []
    offsets: list[int] = []
    lengths: list[int] = []
    linktypes: list[int] = []
    original_lengths: list[int] = []
    t_append, lt_append = times.append, linktypes.append
    o_append, l_append = offsets.append, lengths.append
    orig_append = original_lengths.append

    def fail(message: str, at: int) -> None:
        records.error = CaptureFileError(f"{name}: {message}", at, len(offsets))

    while off < n:
        if off + 12 > n:
            fail(f"truncated block header ({n - off} bytes present)", off)
            break
        btype = struct.unpack_from(endian + "I", buf, off)[0]
        if btype == PCAPNG_SHB:
            bom = buf[off + 8 : off + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                fail(f"bad byte-order magic {bom.hex()} in section header", off)
                break
            interfaces = []
        blen = struct.unpack_from(endian + "I", buf, off + 4)[0]
        if blen < 12 or blen % 4 or blen > MAX_RECORD_LEN + 64:
            fail(f"corrupt block length {blen}", off)
            break
        if off + blen > n:
            fail(f"truncated block ({n - off} of {blen} bytes present)", off)
            break
        trailer = struct.unpack_from(endian + "I", buf, off + blen - 4)[0]
        if trailer != blen:
            fail(f"block length {blen} and trailing length {trailer} differ", off)
            break
        body = off + 8
        if btype == PCAPNG_IDB:
            if blen < 20:
                fail("interface description block too short", off)
                break
            linktype = struct.unpack_from(endian + "H", buf, body)[0]
            interfaces.append(_Interface(linktype, _tsresol(buf, body + 8, off + blen - 4, endian)))
        elif btype == PCAPNG_EPB:
            if blen < 32:
                fail("enhanced packet block too short", off)
                break
            ifid, ts_hi, ts_lo, incl, orig = struct.unpack_from(endian + "IIIII", buf, body)
            if ifid >= len(interfaces):
                fail(f"packet names interface {ifid}, only {len(interfaces)} described", off)
                break
            if 28 + incl + 4 > blen:
                fail(f"captured length {incl} exceeds its block of {blen} bytes", off)
                break
            iface = interfaces[ifid]
            t_append(((ts_hi << 32) | ts_lo) * iface.tsresol)
            o_append(body + 20)
            l_append(incl)
            orig_append(max(orig, incl))
            lt_append(iface.linktype)
        elif btype == PCAPNG_SPB:
            if not interfaces:
                fail("simple packet block before any interface description", off)
                break
            orig = struct.unpack_from(endian + "I", buf, body)[0]
            incl = min(orig, blen - 16)
            # Simple packet blocks carry no timestamp: reuse the previous one.
            t_append(times[-1] if times else 0.0)
            o_append(body + 4)
            l_append(incl)
            orig_append(orig)
            lt_append(interfaces[0].linktype)
        off += blen
    records.offsets = np.asarray(offsets, dtype=np.int64)
    records.lengths = np.asarray(lengths, dtype=np.int64)
    records.times = np.asarray(times, dtype=np.float64)
    records.linktypes = np.asarray(linktypes, dtype=np.int64)
    records.original_lengths = np.asarray(original_lengths, dtype=np.int64)
    if records.error:
        log.warning("%s", records.error)
    return records


def _tsresol(buf: bytes | mmap.mmap, opt: int, end: int, endian: str) -> float:
    """Timestamp resolution from an interface's if_tsresol option (pcapng §4.2)."""
    while opt + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", buf, opt)
        if code == PCAPNG_OPT_END:
            break
        if code == PCAPNG_OPT_IF_TSRESOL and length >= 1:
            value = buf[opt + 4]
            exponent = value & 0x7F
            return 2.0**-exponent if value & 0x80 else 10.0**-exponent
        opt += 4 + ((length + 3) & ~3)
    return PCAPNG_DEFAULT_TSRESOL
