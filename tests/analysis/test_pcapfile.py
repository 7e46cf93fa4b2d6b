"""Bulk capture reading: classic pcap (both byte orders, micro/nano), pcapng, link types,
corrupt and truncated files (a clear CaptureFileError with the byte offset, earlier packets kept)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.craft.synth import PcapSynth
from analysis.errors import AnalysisError, CaptureFileError
from analysis.pcap.reader import read_records
from analysis.wire.flows import decode, endpoints

UDP_PAYLOAD = b"hello rtp"


def ipv4_udp(payload: bytes = UDP_PAYLOAD, sport: int = 4000, dport: int = 5004) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        1,
        0,
        64,
        17,
        0,
        bytes([10, 0, 0, 1]),
        bytes([10, 0, 0, 2]),
    )
    return ip + udp


def ipv6_udp(payload: bytes = UDP_PAYLOAD) -> bytes:
    udp = struct.pack("!HHHH", 4000, 5004, 8 + len(payload), 0) + payload
    src = bytes(15) + b"\x01"
    dst = bytes(15) + b"\x02"
    return struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + src + dst + udp


def classic(frames: list[bytes], linktype: int, endian: str = "<", nanos: bool = False) -> bytes:
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for i, frame in enumerate(frames):
        out += struct.pack(endian + "IIII", 100 + i, 500, len(frame), len(frame)) + frame
    return out


def pcapng(
    frames: list[bytes], linktype: int = 1, tsresol: int | None = None, simple: bool = False
) -> bytes:
    def block(btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        length = len(body) + 12
        return struct.pack("<II", btype, length) + body + struct.pack("<I", length)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    opts = b""
    if tsresol is not None:
        opts = struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HH", 0, 0)
    out += block(1, struct.pack("<HHI", linktype, 0, 65535) + opts)
    for i, frame in enumerate(frames):
        if simple:
            out += block(3, struct.pack("<I", len(frame)) + frame)
        else:
            ts = (7 + i) * 1_000_000
            out += block(
                6,
                struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame,
            )
    return out


ETH = bytes(12) + b"\x08\x00"


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nanos", [False, True])
def test_classic_pcap_both_byte_orders_and_resolutions(endian, nanos):
    records = read_records(classic([ETH + ipv4_udp()] * 3, 1, endian, nanos))
    assert len(records) == 3 and records.error is None
    expected = 100 + (500e-9 if nanos else 500e-6)
    assert records.times[0] == pytest.approx(expected)
    traffic = decode(records)
    ((key, datagrams),) = traffic.udp.items()
    src, dst = endpoints(key)
    assert (str(src), str(dst)) == ("10.0.0.1:4000", "10.0.0.2:5004")
    assert [d[0] for d in datagrams] == [1, 2, 3]  # Wireshark numbering
    assert datagrams[0][2] == UDP_PAYLOAD


@pytest.mark.parametrize(
    "linktype, frame",
    [
        (1, ETH + ipv4_udp()),
        (1, bytes(12) + b"\x81\x00\x00\x05\x08\x00" + ipv4_udp()),  # VLAN tag
        (113, bytes(14) + b"\x08\x00" + ipv4_udp()),  # Linux cooked
        (276, b"\x08\x00" + bytes(18) + ipv4_udp()),  # Linux cooked v2
        (101, ipv4_udp()),  # raw IP
        (228, ipv4_udp()),
        (0, struct.pack("<I", 2) + ipv4_udp()),  # BSD loopback, host order
        (108, struct.pack(">I", 2) + ipv4_udp()),  # OpenBSD loopback, network order
        (1, bytes(12) + b"\x86\xdd" + ipv6_udp()),
        (229, ipv6_udp()),
        (0, struct.pack("<I", 30) + ipv6_udp()),
    ],
)
def test_link_types_and_ip_versions_reach_the_udp_payload(linktype, frame):
    traffic = decode(read_records(classic([frame], linktype)))
    ((key, datagrams),) = traffic.udp.items()
    assert datagrams[0][2] == UDP_PAYLOAD
    assert key[1] == 4000 and key[3] == 5004


def test_ethernet_padding_is_trimmed_by_ip_total_length():
    frame = ETH + ipv4_udp(b"ab") + b"\0" * 20  # padded to the Ethernet minimum
    traffic = decode(read_records(classic([frame], 1)))
    assert next(iter(traffic.udp.values()))[0][2] == b"ab"


@pytest.mark.parametrize("tsresol, scale", [(None, 1e-6), (9, 1e-9), (0x80 | 10, 2.0**-10)])
def test_pcapng_enhanced_blocks_and_timestamp_resolution(tsresol, scale):
    records = read_records(pcapng([ETH + ipv4_udp()] * 2, tsresol=tsresol))
    assert records.format == "pcapng" and records.error is None and len(records) == 2
    assert records.times[1] == pytest.approx(8_000_000 * scale)
    assert decode(records).udp


def test_pcapng_simple_packet_blocks():
    records = read_records(pcapng([ETH + ipv4_udp()] * 2, simple=True))
    assert len(records) == 2 and decode(records).udp


def test_truncated_record_keeps_earlier_packets_and_names_the_offset():
    data = classic([ETH + ipv4_udp()] * 3, 1)
    cut = data[:-10]
    records = read_records(cut)
    assert len(records) == 2
    assert isinstance(records.error, CaptureFileError)
    record_len = 16 + len(ETH + ipv4_udp())
    assert records.error.offset == 24 + 2 * record_len
    assert "truncated" in str(records.error) and "offset" in str(records.error)
    assert records.error.packets_read == 2


def test_truncated_record_header():
    data = classic([ETH + ipv4_udp()], 1) + b"\x01\x02\x03"
    records = read_records(data)
    assert len(records) == 1 and records.error.offset == len(data) - 3


def test_corrupt_record_length_is_reported():
    data = bytearray(classic([ETH + ipv4_udp()] * 2, 1))
    second = 24 + 16 + len(ETH + ipv4_udp())
    struct.pack_into("<I", data, second + 8, 0x7FFFFFFF)
    records = read_records(bytes(data))
    assert len(records) == 1
    assert records.error.offset == second and "corrupt" in str(records.error)


def test_truncated_pcapng_block():
    data = pcapng([ETH + ipv4_udp()] * 2)
    records = read_records(data[:-8])
    assert len(records) == 1 and records.error is not None and records.error.offset > 0


@pytest.mark.parametrize(
    "data", [b"", b"abc", b"not a capture file at all", b"\xd4\xc3\xb2\xa1" + bytes(5)]
)
def test_unreadable_headers_raise_capture_error(data):
    with pytest.raises(CaptureFileError) as info:
        read_records(data)
    assert "offset" in str(info.value)


def test_missing_file_raises_capture_error(tmp_path):
    with pytest.raises(CaptureFileError, match="cannot read"):
        read_records(tmp_path / "absent.pcap")


def test_synth_writer_round_trip(tmp_path):
    synth = PcapSynth()
    synth.udp(1.5, ("10.1.1.1", 1000), ("10.1.1.2", 2000), b"x" * 100)
    synth.tcp(1.6, ("10.1.1.1", 1001), ("10.1.1.2", 554), 7, 0, "PA", b"OPTIONS * RTSP/1.0\r\n\r\n")
    records = read_records(synth.write(tmp_path / "s.pcap"))
    traffic = decode(records)
    assert len(traffic.udp) == 1 and len(traffic.tcp) == 1
    (segments,) = traffic.tcp.values()
    assert segments[0][2] == 7 and segments[0][4].startswith(b"OPTIONS")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_the_analysis_error(data):
    for blob in (data, classic([], 1)[:24] + data, pcapng([])[:28] + data):
        try:
            records = read_records(blob)
        except AnalysisError:
            continue
        decode(records)  # whatever was read decodes without raising


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=6), st.sampled_from([0, 1, 101, 113, 229, 276]))
def test_arbitrary_frames_decode_without_raising(frames, linktype):
    traffic = decode(read_records(classic(frames, linktype)))
    assert traffic.packets == len(frames)
