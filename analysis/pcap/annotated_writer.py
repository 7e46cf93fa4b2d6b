"""A capture copied to pcapng with comments on the packets that findings name.

Wireshark shows a packet's comments (the ``opt_comment`` option of an Enhanced Packet Block,
draft-ietf-opsawg-pcapng §3.5 and §4.3) in the packet list, the packet details and Expert
Information, and filters on them: ``frame.comment contains "RTP-SEQ-1"``. So a user who opens
the annotated copy sees every finding on its packet without carrying numbers by hand.

The copy is a second pass over the file, block by block: its memory does not grow with the
capture. It reads and writes a megabyte at a time, and a pcapng block no finding names goes
out as it came in: a read or a write per packet would cost more than the packet (a million
packets are copied in seconds, not tens of seconds).

Every packet is written with its bytes, original length and timestamp unchanged: a classic
pcap becomes one section with one interface (its link type, snap length and timestamp
resolution); a pcapng keeps its sections, interfaces, options and other blocks as they are,
and a packet's own comments stay before the new ones. Packets are numbered as
:mod:`analysis.pcap.reader` numbers them, which is Wireshark's numbering. Damage stops the copy
where the reader stops, with what came before written whole.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from analysis.errors import CaptureFileError
from analysis.pcap.compressed import open_capture
from analysis.pcap.pcapng import (
    PCAPNG_BYTE_ORDER_MAGIC,
    PCAPNG_EPB,
    PCAPNG_IDB,
    PCAPNG_OPT_END,
    PCAPNG_OPT_IF_TSRESOL,
    PCAPNG_SHB,
    PCAPNG_SPB,
)
from analysis.pcap.reader import (
    PCAP_GLOBAL_HEADER_LEN,
    PCAP_MAGIC_NS,
    PCAP_MAGIC_US,
    PCAP_RECORD_HEADER_LEN,
)
from analysis.pcap.records import MAX_RECORD_LEN

OPT_COMMENT = 1  # opt_comment, valid in every block (pcapng §3.5)
PCAPNG_VERSION = (1, 0)
SECTION_LENGTH_UNKNOWN = -1  # pcapng §4.1: the sections' lengths change as comments are added
TSRESOL_MICROSECONDS, TSRESOL_NANOSECONDS = 6, 9  # if_tsresol values: 10^-6 s, 10^-9 s
MAX_OPTION_LEN = 0xFFFF  # an option's length is 16 bits
READ_AT_ONCE = 1 << 20  # bytes of the source read ahead at a time
WRITE_AT_ONCE = 1 << 20  # bytes of the copy gathered before each write
EPB_FIXED_LEN = 32  # block type and length, interface, time (2 words), lengths, trailer
# type, length, interface, time high and low, captured and original length; and the length
# again at the end: in either byte order.
_EPB_HEAD = {e: struct.Struct(e + "7I").pack for e in "<>"}
_BLOCK_TRAILER = {e: struct.Struct(e + "I").pack for e in "<>"}
_PADDING = [bytes(n) for n in range(4)]
# Comments on one packet past this many bytes are summed up in a last one, so that the
# block stays well within what readers (ours, Wireshark's) accept.
MAX_COMMENT_BYTES = 16384


@dataclass
class AnnotationSummary:
    """What the copy wrote: packets, packets commented, and why it stopped early (or None)."""

    packets: int = 0
    annotated: int = 0
    stopped: str | None = None


def annotate_capture(
    source: str | Path,
    destination: str | Path,
    comments: Mapping[int, Sequence[str]],
    section_comment: str,
) -> AnnotationSummary:
    """Copy ``source`` (pcap or pcapng, compressed too) to ``destination`` as pcapng, with
    ``comments[n]`` on packet n and ``section_comment`` on each section header.

    Raises CaptureFileError when ``source`` is not a capture, OSError when ``destination``
    cannot be written."""
    with open_capture(source) as raw, Path(destination).open("wb") as out:
        # A decompressing stream that meets damage loses what it decompressed in that same
        # read: it is read as needed, so that every packet before the damage is copied.
        read_ahead = isinstance(raw, io.BufferedReader)
        return annotate_stream(raw, out, comments, section_comment, str(source), read_ahead)


def annotate_stream(
    source: BinaryIO,
    destination: BinaryIO,
    comments: Mapping[int, Sequence[str]],
    section_comment: str,
    name: str = "<capture>",
    read_ahead: bool = True,
) -> AnnotationSummary:
    """:func:`annotate_capture` from an uncompressed capture stream to a binary stream
    (``read_ahead`` False: a stream that may fail part-way is read only as far as needed)."""
    out = _Output(destination)
    inp = _Input(source, name, READ_AT_ONCE if read_ahead else 0)
    copy = _Copy(inp, out, comments, section_comment)
    try:
        magic = bytes(copy.inp.read(4, "file header"))
    except _Stop as stop:
        raise CaptureFileError(f"{name}: {stop}", 0) from None
    try:
        if struct.unpack("<I", magic)[0] == PCAPNG_SHB:
            copy.pcapng(magic)
        else:
            copy.pcap(magic)
    finally:
        out.flush()
    return copy.summary


class _Stop(Exception):
    """The input ends or is damaged here: the copy keeps what came before."""


class _Input:
    """Exact reads from a capture stream, counting the offset for messages. They are served
    from a buffer filled ``read_ahead`` bytes at a time, as views of it (a view stays valid
    after the buffer is refilled: it holds the bytes it shows)."""

    def __init__(self, stream: BinaryIO, name: str, read_ahead: int) -> None:
        self.stream, self.name, self.offset = stream, name, 0
        self.read_ahead = read_ahead
        self._buffer = memoryview(b"")
        self._at = 0

    def read(self, n: int, what: str, may_end: bool = False) -> memoryview:
        end = self._at + n
        if end > len(self._buffer):
            self._fill(n, what, may_end)
            end = n
        data = self._buffer[self._at : end]
        self._at = end
        self.offset += n
        return data

    def _fill(self, n: int, what: str, may_end: bool) -> None:
        """Make the buffer start at the next unread byte and hold at least ``n`` bytes."""
        pieces = [self._buffer[self._at :].tobytes()]
        have = len(pieces[0])
        while have < n:
            try:
                more = self.stream.read(max(self.read_ahead, n - have))
            except Exception as exc:  # each decompressor raises its own types for corrupt data
                raise _Stop(f"unreadable {what} at byte {self.offset} ({exc})") from exc
            if not more:
                break
            pieces.append(more)
            have += len(more)
        self._buffer, self._at = memoryview(b"".join(pieces)), 0
        if have < n:
            if not have and may_end:
                raise _Stop("")  # the end of the file, between two records: no damage
            raise _Stop(f"truncated {what} at byte {self.offset} ({have} of {n} bytes)")


class _Output:
    """The copy's bytes, gathered and written WRITE_AT_ONCE at a time."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self._parts: list[bytes | memoryview] = []
        self._size = 0

    def write(self, part: bytes | memoryview) -> None:
        self._parts.append(part)
        self._size += len(part)
        if self._size >= WRITE_AT_ONCE:
            self.flush()

    def flush(self) -> None:
        self.stream.write(b"".join(self._parts))
        self._parts, self._size = [], 0


class _Copy:
    def __init__(
        self,
        inp: _Input,
        out: _Output,
        comments: Mapping[int, Sequence[str]],
        section_comment: str,
    ) -> None:
        self.inp, self.out = inp, out
        self.comments, self.section_comment = comments, section_comment
        self.summary = AnnotationSummary()

    def _comments_for_next_packet(self) -> list[bytes]:
        self.summary.packets += 1
        texts = self.comments.get(self.summary.packets)
        if not texts:
            return []
        self.summary.annotated += 1
        return _encoded(texts)

    # classic pcap ---------------------------------------------------------------------
    def pcap(self, magic: bytes) -> None:
        endian = next(
            (e for e in "<>" if struct.unpack(e + "I", magic)[0] in (PCAP_MAGIC_US, PCAP_MAGIC_NS)),
            None,
        )
        if endian is None:
            raise CaptureFileError(
                f"{self.inp.name}: not a pcap or pcapng file (magic {magic.hex()})", 0
            )
        nanos = struct.unpack(endian + "I", magic)[0] == PCAP_MAGIC_NS
        try:
            header = self.inp.read(PCAP_GLOBAL_HEADER_LEN - 4, "pcap global header")
        except _Stop as stop:
            raise CaptureFileError(f"{self.inp.name}: {stop}", 0) from None
        snaplen, linktype = struct.unpack_from(endian + "II", header, 12)
        resolution = TSRESOL_NANOSECONDS if nanos else TSRESOL_MICROSECONDS
        self.out.write(_block(PCAPNG_SHB, _shb_body(self.section_comment)))
        self.out.write(_block(PCAPNG_IDB, _idb_body(linktype & 0xFFFF, snaplen, resolution)))
        limit = max(snaplen, MAX_RECORD_LEN)
        units = 10**resolution
        record = struct.Struct(endian + "IIII").unpack
        read, write = self.inp.read, self.out.write
        try:
            while True:  # the loop of a million packets: names bound once, a packet in few steps
                sec, frac, incl, orig = record(
                    read(PCAP_RECORD_HEADER_LEN, "record header", may_end=True)
                )
                if incl > limit:
                    raise _Stop(f"corrupt record header (captured length {incl} exceeds {limit})")
                data = read(incl, "record")
                notes = self._comments_for_next_packet()
                ts = sec * units + frac
                write(_epb(0, ts >> 32, ts & 0xFFFFFFFF, data, max(orig, incl), (), notes))
        except _Stop as stop:
            self.summary.stopped = str(stop) or None

    # pcapng ---------------------------------------------------------------------------
    def pcapng(self, magic: bytes) -> None:
        endian = "<"
        interfaces = 0
        last_ts = (0, 0)  # a simple packet block given a comment takes the previous time
        head = magic
        read, write = self.inp.read, self.out.write
        try:
            while True:
                head = head or bytes(read(4, "block header", may_end=True))
                rest = bytes(read(4, "block header"))
                btype = struct.unpack("<I", head)[0]  # SHB's type reads alike in both orders
                if btype == PCAPNG_SHB:
                    bom = bytes(read(4, "section header"))
                    endian = _byte_order(bom)
                    interfaces = 0
                btype, blen = struct.unpack(endian + "II", head + rest)
                _check_length(blen, btype)
                block = read(blen - 8 - (4 if btype == PCAPNG_SHB else 0), "block")
                if struct.unpack_from(endian + "I", block, len(block) - 4)[0] != blen:
                    raise _Stop(f"block length {blen} and its trailing length differ")
                body = block[:-4]
                replacement: bytes | None = None  # None: the block goes out as it came in
                if btype == PCAPNG_SHB:
                    replacement = _block(PCAPNG_SHB, self._shb(bom + body, endian), endian)
                elif btype == PCAPNG_IDB:
                    interfaces += 1
                elif btype == PCAPNG_EPB:
                    last_ts, replacement = self._epb(body, endian, interfaces)
                elif btype == PCAPNG_SPB:
                    replacement = self._spb(body, endian, interfaces, last_ts)
                if replacement is None:
                    write(head + rest + block)
                else:
                    write(replacement)
                head = b""
        except _Stop as stop:
            self.summary.stopped = str(stop) or None

    def _shb(self, body: bytes, endian: str) -> bytes:
        """The section header with its options kept, the section's length made unknown (it
        changes) and the tool's comment added."""
        bom, major, minor = body[:4], body[4:6], body[6:8]
        options = _options(body[16:], endian)
        options.append((OPT_COMMENT, _encoded([self.section_comment])[0]))
        length = struct.pack(endian + "q", SECTION_LENGTH_UNKNOWN)
        return bom + major + minor + length + _pack_options(options, endian)

    def _epb(
        self, body: memoryview, endian: str, interfaces: int
    ) -> tuple[tuple[int, int], bytes | None]:
        """The packet's time, and its block rewritten with comments (None: unchanged)."""
        if len(body) < 20:
            raise _Stop("enhanced packet block too short")
        ifid, ts_hi, ts_lo, incl, orig = struct.unpack_from(endian + "IIIII", body)
        if ifid >= interfaces:
            raise _Stop(f"packet names interface {ifid}, only {interfaces} described")
        padded = 20 + _pad(incl)
        if padded > len(body):
            raise _Stop(f"captured length {incl} exceeds its block")
        notes = self._comments_for_next_packet()
        if not notes:
            return (ts_hi, ts_lo), None
        data = body[20 : 20 + incl]
        kept = _options(body[padded:], endian)
        return (ts_hi, ts_lo), _epb(ifid, ts_hi, ts_lo, data, orig, kept, notes, endian)

    def _spb(
        self, body: memoryview, endian: str, interfaces: int, last_ts: tuple[int, int]
    ) -> bytes | None:
        """The simple packet block rewritten with comments (None: unchanged)."""
        if not interfaces:
            raise _Stop("simple packet block before any interface description")
        orig = struct.unpack_from(endian + "I", body)[0]
        notes = self._comments_for_next_packet()
        if not notes:
            return None
        # A simple packet block holds no options: it becomes an enhanced one on interface 0,
        # with the previous packet's time (as readers show a simple block's).
        data = body[4 : 4 + min(orig, len(body) - 4)]
        return _epb(0, *last_ts, data, orig, [], notes, endian)


def _byte_order(bom: bytes) -> str:
    for endian in "<>":
        if struct.unpack(endian + "I", bom)[0] == PCAPNG_BYTE_ORDER_MAGIC:
            return endian
    raise _Stop(f"bad byte-order magic {bom.hex()} in section header")


SHB_MIN_LEN = 28  # pcapng §4.1: header, byte-order magic, version, section length, trailer


def _check_length(blen: int, btype: int) -> None:
    if (
        blen < (SHB_MIN_LEN if btype == PCAPNG_SHB else 12)
        or blen % 4
        or blen > MAX_RECORD_LEN + 64
    ):
        raise _Stop(f"corrupt block length {blen}")


def _pad(n: int) -> int:
    return (n + 3) & ~3


def _encoded(texts: Sequence[str]) -> list[bytes]:
    """Comments as UTF-8 option values, one per text, within MAX_COMMENT_BYTES in all."""
    out: list[bytes] = []
    total = 0
    for i, text in enumerate(texts):
        value = text.encode("utf-8", "replace")[:MAX_OPTION_LEN]
        if total + len(value) > MAX_COMMENT_BYTES:
            out.append(f"... and {len(texts) - i} more finding(s) on this packet".encode())
            break
        out.append(value)
        total += len(value)
    return out


def _options(raw: bytes | memoryview, endian: str) -> list[tuple[int, bytes | memoryview]]:
    """The options in ``raw`` up to opt_endofopt (or as many as are whole)."""
    options = []
    at = 0
    while at + 4 <= len(raw):
        code, length = struct.unpack_from(endian + "HH", raw, at)
        if code == PCAPNG_OPT_END or at + 4 + length > len(raw):
            break
        options.append((code, raw[at + 4 : at + 4 + length]))
        at += 4 + _pad(length)
    return options


def _pack_options(options: Sequence[tuple[int, bytes | memoryview]], endian: str) -> bytes:
    if not options:
        return b""
    parts = [
        struct.pack(endian + "HH", code, len(value)) + value + bytes(_pad(len(value)) - len(value))
        for code, value in options
    ]
    return b"".join(parts) + struct.pack(endian + "HH", PCAPNG_OPT_END, 0)


def _block(btype: int, body: bytes, endian: str = "<") -> bytes:
    blen = 12 + len(body)
    return struct.pack(endian + "II", btype, blen) + body + struct.pack(endian + "I", blen)


def _shb_body(comment: str) -> bytes:
    options = [(OPT_COMMENT, _encoded([comment])[0])]
    return struct.pack(
        "<IHHq", PCAPNG_BYTE_ORDER_MAGIC, *PCAPNG_VERSION, SECTION_LENGTH_UNKNOWN
    ) + _pack_options(options, "<")


def _idb_body(linktype: int, snaplen: int, resolution: int) -> bytes:
    options = [(PCAPNG_OPT_IF_TSRESOL, bytes([resolution]))]
    return struct.pack("<HHI", linktype, 0, snaplen) + _pack_options(options, "<")


def _epb(
    ifid: int,
    ts_hi: int,
    ts_lo: int,
    data: bytes | memoryview,
    orig: int,
    kept: Sequence[tuple[int, bytes | memoryview]],
    notes: Sequence[bytes],
    endian: str = "<",
) -> bytes:
    """An enhanced packet block, made in one copy of its data (the copy writes one a packet)."""
    options = (
        _pack_options([*kept, *((OPT_COMMENT, note) for note in notes)], endian)
        if kept or notes
        else b""
    )
    pad = -len(data) & 3
    blen = EPB_FIXED_LEN + len(data) + pad + len(options)
    head = _EPB_HEAD[endian](PCAPNG_EPB, blen, ifid, ts_hi, ts_lo, len(data), orig)
    return b"".join((head, data, _PADDING[pad], options, _BLOCK_TRAILER[endian](blen)))
