"""A capture copied to pcapng with comments on the packets that findings name.

Wireshark shows a packet's comments (the ``opt_comment`` option of an Enhanced Packet Block,
draft-ietf-opsawg-pcapng §3.5 and §4.3) in the packet list, the packet details and Expert
Information, and filters on them: ``frame.comment contains "RTP-SEQ-1"``. So a user who opens
the annotated copy sees every finding on its packet without carrying numbers by hand.

The copy is a second pass over the file, block by block: its memory does not grow with the
capture. Every packet is written with its bytes, original length and timestamp unchanged:
a classic pcap becomes one section with one interface (its link type, snap length and
timestamp resolution); a pcapng keeps its sections, interfaces, options and other blocks as
they are, and a packet's own comments stay before the new ones. Packets are numbered as
:mod:`analysis.pcap.reader` numbers them, which is Wireshark's numbering. Damage stops the copy
where the reader stops, with what came before written whole.
"""

from __future__ import annotations

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
        return annotate_stream(raw, out, comments, section_comment, str(source))


def annotate_stream(
    source: BinaryIO,
    destination: BinaryIO,
    comments: Mapping[int, Sequence[str]],
    section_comment: str,
    name: str = "<capture>",
) -> AnnotationSummary:
    """:func:`annotate_capture` from an uncompressed capture stream to a binary stream."""
    copy = _Copy(_Input(source, name), destination, comments, section_comment)
    try:
        magic = copy.inp.read(4, "file header")
    except _Stop as stop:
        raise CaptureFileError(f"{name}: {stop}", 0) from None
    if struct.unpack("<I", magic)[0] == PCAPNG_SHB:
        copy.pcapng(magic)
    else:
        copy.pcap(magic)
    return copy.summary


class _Stop(Exception):
    """The input ends or is damaged here: the copy keeps what came before."""


class _Input:
    """Exact reads from a capture stream, counting the offset for messages."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self.stream, self.name, self.offset = stream, name, 0

    def read(self, n: int, what: str, may_end: bool = False) -> bytes:
        try:
            data = self.stream.read(n)
        except Exception as exc:  # each decompressor raises its own types for corrupt data
            raise _Stop(f"unreadable {what} at byte {self.offset} ({exc})") from exc
        if len(data) < n:
            if not data and may_end:
                raise _Stop("")  # the end of the file, between two records: no damage
            raise _Stop(f"truncated {what} at byte {self.offset} ({len(data)} of {n} bytes)")
        self.offset += n
        return data


class _Copy:
    def __init__(
        self,
        inp: _Input,
        out: BinaryIO,
        comments: Mapping[int, Sequence[str]],
        section_comment: str,
    ) -> None:
        self.inp, self.out = inp, out
        self.comments, self.section_comment = comments, section_comment
        self.summary = AnnotationSummary()

    def _comments_for_next_packet(self) -> list[bytes]:
        self.summary.packets += 1
        texts = self.comments.get(self.summary.packets, ())
        if texts:
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
        record = struct.Struct(endian + "IIII")
        try:
            while True:
                sec, frac, incl, orig = record.unpack(
                    self.inp.read(PCAP_RECORD_HEADER_LEN, "record header", may_end=True)
                )
                if incl > limit:
                    raise _Stop(f"corrupt record header (captured length {incl} exceeds {limit})")
                data = self.inp.read(incl, "record")
                notes = self._comments_for_next_packet()
                ts = sec * units + frac
                self.out.write(_epb(0, ts >> 32, ts & 0xFFFFFFFF, data, max(orig, incl), [], notes))
        except _Stop as stop:
            self.summary.stopped = str(stop) or None

    # pcapng ---------------------------------------------------------------------------
    def pcapng(self, magic: bytes) -> None:
        endian = "<"
        interfaces = 0
        last_ts = (0, 0)  # a simple packet block given a comment takes the previous time
        head = magic
        try:
            while True:
                head = head or self.inp.read(4, "block header", may_end=True)
                rest = self.inp.read(4, "block header")
                btype = struct.unpack("<I", head)[0]  # SHB's type reads alike in both orders
                if btype == PCAPNG_SHB:
                    bom = self.inp.read(4, "section header")
                    endian = _byte_order(bom)
                    interfaces = 0
                btype, blen = struct.unpack(endian + "II", head + rest)
                _check_length(blen, btype)
                body = self.inp.read(blen - 8 - (4 if btype == PCAPNG_SHB else 0), "block")
                if btype == PCAPNG_SHB:
                    body = bom + body
                if struct.unpack_from(endian + "I", body, blen - 12)[0] != blen:
                    raise _Stop(f"block length {blen} and its trailing length differ")
                body, head = body[:-4], b""
                if btype == PCAPNG_SHB:
                    self.out.write(_block(PCAPNG_SHB, self._shb(body, endian), endian))
                    continue
                if btype == PCAPNG_IDB:
                    interfaces += 1
                elif btype == PCAPNG_EPB:
                    last_ts = self._epb(body, endian, interfaces)
                    continue
                elif btype == PCAPNG_SPB:
                    self._spb(body, endian, interfaces, last_ts)
                    continue
                self.out.write(_block(btype, body, endian))
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

    def _epb(self, body: bytes, endian: str, interfaces: int) -> tuple[int, int]:
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
            self.out.write(_block(PCAPNG_EPB, body, endian))
        else:
            data = body[20 : 20 + incl]
            kept = _options(body[padded:], endian)
            self.out.write(_epb(ifid, ts_hi, ts_lo, data, orig, kept, notes, endian))
        return ts_hi, ts_lo

    def _spb(self, body: bytes, endian: str, interfaces: int, last_ts: tuple[int, int]) -> None:
        if not interfaces:
            raise _Stop("simple packet block before any interface description")
        orig = struct.unpack_from(endian + "I", body)[0]
        notes = self._comments_for_next_packet()
        if not notes:
            self.out.write(_block(PCAPNG_SPB, body, endian))
            return
        # A simple packet block holds no options: it becomes an enhanced one on interface 0,
        # with the previous packet's time (as readers show a simple block's).
        data = body[4 : 4 + min(orig, len(body) - 4)]
        self.out.write(_epb(0, *last_ts, data, orig, [], notes, endian))


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


def _options(raw: bytes, endian: str) -> list[tuple[int, bytes]]:
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


def _pack_options(options: Sequence[tuple[int, bytes]], endian: str) -> bytes:
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
    data: bytes,
    orig: int,
    kept: Sequence[tuple[int, bytes]],
    notes: Sequence[bytes],
    endian: str = "<",
) -> bytes:
    options = [*kept, *((OPT_COMMENT, note) for note in notes)]
    body = (
        struct.pack(endian + "IIIII", ifid, ts_hi, ts_lo, len(data), orig)
        + data
        + bytes(_pad(len(data)) - len(data))
        + _pack_options(options, endian)
    )
    return _block(PCAPNG_EPB, body, endian)
