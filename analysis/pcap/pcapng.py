"""Reading pcapng files (draft-ietf-opsawg-pcapng), the format Wireshark and dumpcap write.

The chain of blocks is walked once, reading only each block's type and length; section
headers and interface descriptions (a few per file) are read on the way. Everything
else about the packet blocks (trailers, interfaces, lengths, timestamps) is then read
and checked for all of them at once, with numpy. Reading stops at the first damaged
block, as the walk would have: the packets before it are kept.
"""

from __future__ import annotations

import array
import logging
import mmap
import struct
from dataclasses import dataclass

import numpy as np

from analysis.errors import CaptureFileError
from analysis.pcap.byte_columns import byte_rows, column
from analysis.pcap.records import MAX_RECORD_LEN, Records

log = logging.getLogger(__name__)

# Block types (draft-ietf-opsawg-pcapng §4).
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_IDB = 0x00000001
PCAPNG_SPB = 0x00000003
PCAPNG_EPB = 0x00000006
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D
PCAPNG_OPT_END = 0
PCAPNG_OPT_IF_TSRESOL = 9
PCAPNG_DEFAULT_TSRESOL = 1e-6

BLOCK_HEAD_LEN = 8  # type and total length; the length is repeated at the block's end
BLOCK_MIN_LEN = 12
MAX_BLOCK_LEN = MAX_RECORD_LEN + 64
IDB_MIN_LEN = 20
EPB_MIN_LEN = 32
EPB_DATA_AT = 28  # interface, timestamp (2 words), captured and original length
SPB_MIN_LEN = 16
SPB_DATA_AT = 12  # original length

_HEAD = {e: struct.Struct(e + "II").unpack_from for e in "<>"}
# The section header's byte-order magic as each byte order writes it.
_BYTE_ORDERS = {struct.pack(e + "I", PCAPNG_BYTE_ORDER_MAGIC): e for e in "<>"}
_U32 = {e: struct.Struct(e + "I").unpack_from for e in "<>"}


@dataclass(frozen=True)
class _Interface:
    linktype: int
    tsresol: float


@dataclass(frozen=True)
class _Era:
    """From packet block ``first`` on: the section's byte order and its interfaces so far."""

    first: int
    endian: str
    interfaces: tuple[_Interface, ...]


def read_pcapng(buf: bytes | mmap.mmap, name: str) -> Records:
    """Every packet of a pcapng file (enhanced and simple packet blocks), in file order."""
    packets, eras, walk_error = _walk(buf, name)
    records = Records(name, "pcapng", buf)
    at = np.frombuffer(packets, dtype=np.int64)
    columns, block_error = _packet_blocks(buf, at, eras, name)
    errors = [e for e in (walk_error, block_error) if e is not None]
    if errors:
        records.error = min(errors, key=lambda e: e.offset)
        keep = records.error.packets_read
        columns = tuple(column[:keep] for column in columns)
        log.warning("%s", records.error)
    records.times, records.offsets, records.lengths, records.original_lengths = columns[:4]
    records.linktypes = columns[4]
    return records


def _walk(buf, name: str) -> tuple[array.array, list[_Era], CaptureFileError | None]:
    """Offsets of the packet blocks (machine words, 8 bytes each, not Python ints), the
    eras of byte order and interfaces, and the damage that stopped the walk (a bad length,
    a truncated block, a bad section or interface block)."""
    n = len(buf)
    packets = array.array("q")
    add_packet = packets.append
    eras: list[_Era] = []
    endian = "<"
    head = _HEAD[endian]
    interfaces: list[_Interface] = []
    off = 0
    damage = ""
    while off < n:
        if off + BLOCK_MIN_LEN > n:
            damage = f"truncated block header ({n - off} bytes present)"
            break
        btype, blen = head(buf, off)
        if btype == PCAPNG_SHB:  # a palindrome: read alike in either byte order
            bom = bytes(buf[off + 8 : off + 12])
            if bom not in _BYTE_ORDERS:
                damage = f"bad byte-order magic {bom.hex()} in section header"
                break
            endian = _BYTE_ORDERS[bom]
            head = _HEAD[endian]
            blen = head(buf, off)[1]
            interfaces = []
            eras.append(_Era(len(packets), endian, ()))
        if blen < BLOCK_MIN_LEN or blen % 4 or blen > MAX_BLOCK_LEN:
            damage = f"corrupt block length {blen}"
            break
        if off + blen > n:
            damage = f"truncated block ({n - off} of {blen} bytes present)"
            break
        if btype == PCAPNG_EPB or btype == PCAPNG_SPB:
            add_packet(off)  # checked with all the others once the walk is done
            off += blen
            continue
        trailer = _U32[endian](buf, off + blen - 4)[0]
        if trailer != blen:
            damage = f"block length {blen} and trailing length {trailer} differ"
            break
        if btype == PCAPNG_IDB:
            if blen < IDB_MIN_LEN:
                damage = "interface description block too short"
                break
            linktype = struct.unpack_from(endian + "H", buf, off + 8)[0]
            interfaces.append(_Interface(linktype, _tsresol(buf, off + 16, off + blen - 4, endian)))
            eras.append(_Era(len(packets), endian, tuple(interfaces)))
        off += blen
    error = CaptureFileError(f"{name}: {damage}", off, len(packets)) if damage else None
    return packets, eras, error


def _packet_blocks(
    buf, at: np.ndarray, eras: list[_Era], name: str
) -> tuple[tuple[np.ndarray, ...], CaptureFileError | None]:
    """The record columns (times, offsets, lengths, original lengths, link types) of the
    packet blocks at ``at``, and the first damaged one among them."""
    count = len(at)
    era = np.searchsorted([e.first for e in eras], np.arange(count), side="right") - 1
    big = np.asarray([e.endian == ">" for e in eras], dtype=bool)[era]

    def u32(table: np.ndarray, start: int) -> np.ndarray:
        """Field ``start`` of each block's row, in its section's byte order."""
        little = column(table, start, 4, "<")
        return np.where(big, column(table, start, 4, ">"), little) if big.any() else little

    # Every block holds at least BLOCK_MIN_LEN bytes (the walk checked): type, length,
    # and the interface of an enhanced packet block or the length of a simple one.
    head = byte_rows(buf, at, BLOCK_MIN_LEN)
    btype, blen = u32(head, 0), u32(head, 4)
    trailer = u32(byte_rows(buf, at + blen - 4, 4), 0)
    enhanced = btype == PCAPNG_EPB
    # Interfaces of every era side by side: era k's interface i is row base[k] + i.
    described = np.asarray([len(e.interfaces) for e in eras], dtype=np.int64)
    base = np.concatenate(([0], np.cumsum(described)[:-1])).astype(np.int64)
    flat = [i for e in eras for i in e.interfaces] or [_Interface(0, PCAPNG_DEFAULT_TSRESOL)]
    linktype_of = np.asarray([i.linktype for i in flat], dtype=np.int64)
    tsresol_of = np.asarray([i.tsresol for i in flat], dtype=np.float64)
    known = described[era]
    # Fields read only where the block is long enough to hold them (else at offset 0).
    long_epb = enhanced & (blen >= EPB_MIN_LEN)
    long_spb = ~enhanced & (blen >= SPB_MIN_LEN)
    # An enhanced packet block's fields, read where it is long enough to hold them (the
    # other rows are read at offset 0 and never used).
    fields = (
        byte_rows(buf, np.where(long_epb, at, 0), EPB_DATA_AT)
        if long_epb.any()
        else np.zeros((count, EPB_DATA_AT), dtype=np.uint8)
    )
    ifid = np.where(long_epb, u32(head, 8), 0)
    incl = np.where(long_epb, u32(fields, 20), 0)
    orig = np.where(long_epb, u32(fields, 24), np.where(long_spb, u32(head, 8), 0))
    checks = (  # in the order a block is checked: the first failed one is reported
        (trailer != blen, "block length {blen} and trailing length {trailer} differ"),
        (enhanced & ~long_epb, "enhanced packet block too short"),
        (long_epb & (ifid >= known), "packet names interface {ifid}, only {known} described"),
        (long_epb & (EPB_DATA_AT + incl + 4 > blen), "captured length {incl} exceeds its block of {blen} bytes"),
        (~enhanced & (known == 0), "simple packet block before any interface description"),
        (~enhanced & ~long_spb, "simple packet block too short"),
    )  # fmt: skip
    error = None
    damaged = np.flatnonzero(np.logical_or.reduce([bad for bad, _ in checks]))
    if len(damaged):
        i = int(damaged[0])
        text = next(text for bad, text in checks if bad[i])
        values = {"blen": blen, "trailer": trailer, "ifid": ifid, "known": known, "incl": incl}
        message = text.format(**{key: column[i] for key, column in values.items()})
        error = CaptureFileError(f"{name}: {message}", int(at[i]), i)
    usable = long_epb & (ifid < known)
    interface = np.minimum(base[era] + np.where(usable, ifid, 0), len(flat) - 1)
    high, low = u32(fields, 12).astype(np.uint64), u32(fields, 16).astype(np.uint64)
    ts = (high << np.uint64(32)) | low
    times = np.where(enhanced, ts * tsresol_of[interface], np.nan)
    if not enhanced.all():  # a simple packet block has no timestamp: the previous one's
        last = np.maximum.accumulate(np.where(enhanced, np.arange(count), -1))
        times = np.where(last >= 0, times[np.maximum(last, 0)], 0.0)
    lengths = np.where(enhanced, incl, np.minimum(orig, blen - SPB_MIN_LEN))
    offsets = at + np.where(enhanced, EPB_DATA_AT, SPB_DATA_AT)
    columns = (
        times.astype(np.float64),
        offsets,
        lengths,
        np.maximum(orig, lengths),
        linktype_of[interface],
    )
    return columns, error


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
