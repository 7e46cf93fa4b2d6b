"""pcapng reading block by block: sections in either byte order, several interfaces with
their own link types and timestamp resolutions, simple packet blocks, and each kind of
damage named with its offset and the packets read before it."""

from __future__ import annotations

import struct

import pytest

from analysis.pcap.reader import read_records

SHB, IDB, SPB, EPB = 0x0A0D0D0A, 1, 3, 6
ETHERNET, RAW = 1, 101


def block(btype: int, body: bytes, endian: str = "<", trailer: int | None = None) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    tail = length if trailer is None else trailer
    return struct.pack(endian + "II", btype, length) + body + struct.pack(endian + "I", tail)


def section(endian: str = "<") -> bytes:
    return block(SHB, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1), endian)


def interface(linktype: int, tsresol: int | None = None, endian: str = "<") -> bytes:
    options = b""
    if tsresol is not None:
        options = struct.pack(endian + "HHB3x", 9, 1, tsresol) + struct.pack(endian + "HH", 0, 0)
    return block(IDB, struct.pack(endian + "HHI", linktype, 0, 65535) + options, endian)


def enhanced(
    data: bytes, ticks: int, ifid: int = 0, endian: str = "<", original: int | None = None
) -> bytes:
    wire = len(data) if original is None else original
    head = struct.pack(endian + "IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, len(data), wire)
    return block(EPB, head + data, endian)


def simple(data: bytes, endian: str = "<") -> bytes:
    return block(SPB, struct.pack(endian + "I", len(data)) + data, endian)


def test_sections_in_both_byte_orders_with_their_own_interfaces():
    data = (
        section("<")
        + interface(ETHERNET)  # microseconds by default
        + interface(RAW, tsresol=9)  # nanoseconds
        + enhanced(b"a" * 20, 5_000_000, ifid=0)
        + enhanced(b"b" * 21, 7_000_000_000, ifid=1, original=90)
        + simple(b"c" * 22)  # no timestamp of its own: the previous packet's
        + section(">")
        + interface(RAW, tsresol=0x80 | 10, endian=">")  # 2^-10 s
        + enhanced(b"d" * 23, 3 << 40, endian=">")
    )
    records = read_records(data)
    assert records.error is None and records.format == "pcapng"
    assert records.times.tolist() == [5.0, 7.0, 7.0, (3 << 40) * 2.0**-10]
    assert records.linktypes.tolist() == [ETHERNET, RAW, ETHERNET, RAW]
    assert records.lengths.tolist() == [20, 21, 22, 23]
    assert records.original_lengths.tolist() == [20, 90, 22, 23]
    assert [records.frame(i)[:1] for i in range(4)] == [b"a", b"b", b"c", b"d"]


def test_a_simple_packet_block_first_in_the_file_has_time_zero():
    records = read_records(section() + interface(ETHERNET) + simple(b"x" * 8))
    assert records.times.tolist() == [0.0] and records.error is None


HEAD = section() + interface(ETHERNET)
GOOD = enhanced(b"g" * 16, 1_000_000)


def _short_epb() -> bytes:
    return struct.pack("<II", EPB, 16) + b"\0" * 4 + struct.pack("<I", 16)


def _short_spb() -> bytes:
    return struct.pack("<II", SPB, 12) + struct.pack("<I", 12)


@pytest.mark.parametrize(
    ("damaged", "reason"),
    [
        (block(EPB, bytes(40), trailer=8), "block length 52 and trailing length 8 differ"),
        (_short_epb(), "enhanced packet block too short"),
        (enhanced(b"x" * 8, 1, ifid=1), "packet names interface 1, only 1 described"),
        (
            struct.pack("<IIIIIII", EPB, 36, 0, 0, 1, 200, 200) + b"\0" * 4 + b"\x24\0\0\0",
            "captured length 200 exceeds its block of 36 bytes",
        ),
        (_short_spb(), "simple packet block too short"),
        (struct.pack("<II", 5, 13) + bytes(8), "corrupt block length 13"),
        (struct.pack("<II", EPB, 400) + bytes(20), "truncated block (28 of 400 bytes present)"),
        (struct.pack("<II", EPB, 32), "truncated block header (8 bytes present)"),
        (block(IDB, bytes(4)), "interface description block too short"),
        (block(SHB, bytes(16)), "bad byte-order magic 00000000 in section header"),
    ],
)
def test_damage_stops_reading_and_keeps_the_packets_before_it(damaged, reason):
    # A truncation ends the file; any other damage has good packets after it, never read.
    after = b"" if reason.startswith("truncated") else GOOD
    records = read_records(HEAD + GOOD + GOOD + damaged + after)
    assert len(records) == 2
    assert records.error is not None
    assert records.error.reason == f"<bytes>: {reason}"
    assert records.error.offset == len(HEAD + GOOD + GOOD)
    assert records.error.packets_read == 2


def test_a_simple_packet_block_before_any_interface_is_damage():
    records = read_records(section() + simple(b"x" * 8))
    assert len(records) == 0
    assert records.error.reason == "<bytes>: simple packet block before any interface description"


def test_the_first_damage_is_reported_when_there_are_several():
    later = enhanced(b"x" * 8, 1, ifid=7)
    records = read_records(HEAD + GOOD + block(EPB, bytes(40), trailer=8) + GOOD + later)
    assert len(records) == 1 and "trailing length 8" in records.error.reason
