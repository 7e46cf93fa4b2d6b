"""The fuzz targets: one function per parser, fed arbitrary bytes.

A target may raise only the error its parser documents for bad input (``ParseError`` in
rtsp_common, ``AnalysisError`` in analysis); any other exception, a hang or a crash is a
finding. Targets that take structured input cut the bytes themselves (the first byte picks
a chunk size, records carry small headers), so they run the same with or without atheris.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from analysis.errors import AnalysisError
from rtsp_common.errors import ParseError


@dataclass(frozen=True)
class Target:
    """A fuzz target: its function and the exceptions that count as a clean refusal."""

    name: str
    run: Callable[[bytes], None]
    allowed: tuple[type[BaseException], ...]
    about: str

    def __call__(self, data: bytes) -> None:
        try:
            self.run(data)
        except self.allowed:
            pass


def chunks(data: bytes) -> Iterator[bytes]:
    """Cut ``data`` into pieces whose sizes the first byte sets (1-256), as TCP may."""
    if not data:
        return
    size = data[0] + 1
    for start in range(1, len(data), size):
        yield data[start : start + size]


def text(data: bytes) -> str:
    """The bytes as the str a header parser receives (Latin-1 maps every byte)."""
    return data.decode("latin-1")


# --- rtsp_common: what the server and the client parse ---------------------------------


def rtsp_messages(data: bytes) -> None:
    from rtsp_common.rtsp import MessageParser, Request, Response

    parser = MessageParser(max_header_bytes=4096, max_headers=32, max_body=8192)
    for piece in chunks(data):
        for item in parser.feed(piece):
            if isinstance(item, Request | Response):
                # What was parsed can be written back and parsed again to the same message.
                again = MessageParser().feed(item.to_bytes())
                assert len(again) == 1 and type(again[0]) is type(item), item


def rtsp_headers(data: bytes) -> None:
    from rtsp_common import headers, uri

    value = text(data)
    for parse in (
        headers.Session.parse,
        headers.Transport.parse,
        headers.parse_transports,
        headers.NPTRange.parse,
        headers.parse_rtp_info,
        headers.parse_public,
        headers.parse_cseq,
        headers.parse_content_length,
        uri.parse_request_uri,
    ):
        try:
            parse(value)
        except ParseError:
            pass


def auth_headers(data: bytes) -> None:
    from rtsp_common import auth
    from rtsp_common.auth_headers import Challenge, Credentials

    value = text(data)
    try:
        challenges = Challenge.parse_all(value)
    except ParseError:
        challenges = []
    # What was parsed can be written back and parsed again to the same values.
    if challenges:
        assert Challenge.parse_all(", ".join(map(str, challenges))) == challenges
    for challenge in challenges:
        if challenge.is_scheme(auth.DIGEST):
            try:
                digest = auth.DigestChallenge.from_challenge(challenge)
            except ParseError:
                continue
            (again,) = Challenge.parse_all(str(digest))
            assert auth.DigestChallenge.from_challenge(again) == digest
    credentials = Credentials.parse(value)
    assert Credentials.parse(str(credentials)) == credentials
    if credentials.is_scheme(auth.BASIC):
        auth.parse_basic(credentials)
    else:
        auth.DigestCredentials.from_credentials(credentials)


def sdp(data: bytes) -> None:
    from rtsp_common.sdp import SessionDescription

    description = SessionDescription.parse(text(data))
    SessionDescription.parse(description.to_text())


def rtp(data: bytes) -> None:
    from rtsp_common.rtp import RTPPacket

    packet = RTPPacket.parse(data)
    assert RTPPacket.parse(packet.to_bytes()) == packet


def rtcp(data: bytes) -> None:
    from rtsp_common.rtcp import build_compound, compound_problems, parse_compound

    packets = parse_compound(data)
    compound_problems(packets)
    parse_compound(build_compound(packets))


RECORD = struct.Struct("!BBH")  # timestamp, marker, payload length


def flagged_records(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """Cut ``data`` into (timestamp, flags byte, payload) records."""
    pos = 0
    while pos + RECORD.size <= len(data):
        ts, flags, length = RECORD.unpack_from(data, pos)
        pos += RECORD.size
        yield ts * 3000, flags, data[pos : pos + length]
        pos += length


def records(data: bytes) -> Iterator[tuple[int, bool, bytes]]:
    """Cut ``data`` into (timestamp, marker, payload) records, as RTP delivers them: the
    marker is bit 0 of the flags byte."""
    for timestamp, flags, payload in flagged_records(data):
        yield timestamp, bool(flags & 1), payload


def rfc2435(data: bytes) -> None:
    """Records through the RFC 2435 depacketizer, packet by packet and in runs (a new run
    where bit 1 of the flags byte is set): a bad packet is dropped and counted, the next
    one still works, and both ways give the same frames from the same packets."""
    from rtsp_common.payload_formats import JPEGFrames

    packets = list(flagged_records(data))
    one_by_one, in_runs = JPEGFrames(1 << 16), JPEGFrames(1 << 16)
    expected = [
        (i, timestamp, jpeg)
        for i, (packet_timestamp, flags, payload) in enumerate(packets)
        for timestamp, jpeg in one_by_one.push(payload, packet_timestamp, bool(flags & 1))
    ]
    got: list[tuple[int, int, bytes]] = []
    starts = [i for i, (_, flags, _) in enumerate(packets) if i == 0 or flags & 2]
    for start, end in zip(starts, [*starts[1:], len(packets)][: len(starts)], strict=True):
        run = packets[start:end]
        done = in_runs.push_run(
            [payload for _, _, payload in run],
            [timestamp for timestamp, _, _ in run],
            [bool(flags & 1) for _, flags, _ in run],
            0,
        )
        got += [(start + i, timestamp, jpeg) for i, timestamp, jpeg in done]
    assert got == expected, "frames taken in runs differ from those taken packet by packet"
    counts = ("frames_complete", "frames_dropped", "packets_malformed")
    assert [getattr(in_runs, c) for c in counts] == [getattr(one_by_one, c) for c in counts]


def _nal_unit_records(reader, data: bytes) -> None:
    """Records through an H.264/H.265 depacketizer: it never raises, and what it hands out
    is Annex B. Bit 1 of a record's marker byte leaves a sequence gap before it (a loss)."""
    from rtsp_common.access_units import AccessUnitDepacketizer

    depacketizer = AccessUnitDepacketizer(reader, max_frame_bytes=1 << 16)
    sequence = 0
    for timestamp, flags, payload in flagged_records(data):
        sequence += 2 if flags & 2 else 1
        for _, unit in depacketizer.push(payload, timestamp, bool(flags & 1), sequence % 65536):
            assert unit.startswith(b"\x00\x00\x00\x01")
    depacketizer.flush()


def rfc6184(data: bytes) -> None:
    from rtsp_common.h264 import H264PayloadReader

    _nal_unit_records(H264PayloadReader(), data)


def rfc7798(data: bytes) -> None:
    from rtsp_common.h265 import H265PayloadReader

    # The first byte chooses whether DONL/DOND fields are present (sprop-max-don-diff > 0).
    _nal_unit_records(H265PayloadReader(donl=bool(data[:1]) and data[0] & 1 == 1), data[1:])


def mjpeg(data: bytes) -> None:
    from rtsp_common.mjpeg import open_media

    # The reader maps a real file; tmpfs keeps the round trip cheap.
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".Mjpeg") as file:
        file.write(data)
        file.flush()
        with open_media(file.name) as reader:
            for frame in reader:
                assert frame


# --- analysis: what the checker reads from captures -----------------------------------


def pcap(data: bytes) -> None:
    from analysis.pcap.reader import read_records

    read_records(data)


def annotate(data: bytes) -> None:
    """The annotated copy holds every packet the reader reads, byte for byte, and reads back
    whole."""
    from analysis.pcap.annotated_writer import annotate_stream
    from analysis.pcap.compressed import compression_of
    from analysis.pcap.reader import read_records

    if compression_of(data[:4]) is not None:
        return  # the copy reads decompressed streams; the pcap target covers decompression
    out = io.BytesIO()
    comments = {n: [f"finding on packet {n}"] for n in range(1, 200, 3)}
    summary = annotate_stream(io.BytesIO(data), out, comments, "fuzz")
    before, after = read_records(data), read_records(out.getvalue())
    assert after.error is None, after.error
    assert len(after) == len(before) == summary.packets, (len(after), len(before), summary)
    for i in range(len(before)):
        assert after.frame(i) == before.frame(i)


def capture_check(data: bytes) -> None:
    from analysis.pcap.reader import read_records
    from analysis.rules import Context, run_all
    from analysis.sessions.build import build
    from analysis.wire.flows import decode

    traffic = decode(read_records(data))
    run_all(Context(traffic, build(traffic)))


def analysis_rtsp(data: bytes) -> None:
    from analysis.wire.rtsp import read_stream
    from analysis.wire.tcp import TCPStream

    key = (b"\x7f\0\0\x01", 40000, b"\x7f\0\0\x01", 554)
    stream = TCPStream(key, data=data, starts=[0], pktnos=[1], times=[0.0])
    read_stream(stream)


def analysis_headers(data: bytes) -> None:
    from analysis.wire.rtsp_headers import parse_rtp_info, parse_transport, transport_header_values

    parse_transport(text(data))
    parse_rtp_info(text(data))
    transport_header_values(data)


def analysis_sdp(data: bytes) -> None:
    from analysis.wire.sdp import parse_sdp

    parse_sdp(data)


def analysis_rtcp(data: bytes) -> None:
    from analysis.wire.flows import Endpoint
    from analysis.wire.rtcp import RTCPFlow, read_compound

    read_compound(RTCPFlow(Endpoint("127.0.0.1", 5001), Endpoint("127.0.0.1", 6001)), 1, 0.0, data)


def uri(data: bytes) -> None:
    """The server's Request-URI reader and the client's URL reader (host, port, path and
    percent-decoded credentials). The client's documented refusal is ValueError, the
    server's ParseError; anything else escaping either is a finding."""
    from rtsp_client.connection import split_url, url_credentials
    from rtsp_common.uri import parse_request_uri

    value = text(data)
    try:
        parsed = parse_request_uri(value)
    except ParseError:
        pass
    else:
        assert parsed.port is None or 0 <= parsed.port <= 65535, parsed
    for read in (split_url, url_credentials):
        try:
            read(value)
        except ValueError:
            pass


# The analysis_h26x target's first byte: bit 0 picks H.265, bit 1 announces DONL fields,
# bits 2-3 the H.264 packetization-mode.


def analysis_h26x(data: bytes) -> None:
    from analysis.payloads.h26x import read_h26x
    from analysis.payloads.nal_syntax import H264, H265
    from analysis.payloads.seq_columns import SeqColumns

    if not data:
        return
    flags = data[0]
    encoding, syntax = ("H265", H265) if flags & 1 else ("H264", H264)
    params = {"packetization-mode": str((flags >> 2) & 3)}
    if flags & 2:
        params["sprop-max-don-diff"] = "2"
    packets = [
        (n, n + 1, float(n), ts, marker, payload)
        for n, (ts, marker, payload) in enumerate(records(data[1:]))
    ]
    reading = read_h26x(SeqColumns.of_packets(packets), syntax, encoding, params)
    reading.write_elementary_stream(io.BytesIO(), incomplete=True)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("rtsp_messages", rtsp_messages, (ParseError,), "RTSP requests, replies, $ frames"),
        Target(
            "rtsp_headers", rtsp_headers, (ParseError,), "Session, Transport, Range, RTP-Info, URIs"
        ),
        Target("uri", uri, (), "Request-URIs and the client's rtsp:// URLs"),
        Target("auth_headers", auth_headers, (ParseError,), "WWW-Authenticate, Authorization"),
        Target("sdp", sdp, (ParseError,), "the SDP of DESCRIBE replies"),
        Target("rtp", rtp, (ParseError,), "the RTP fixed header, CSRCs, extension, padding"),
        Target("rtcp", rtcp, (ParseError,), "RTCP compound packets"),
        Target("rfc2435", rfc2435, (ParseError,), "the RFC 2435 depacketizer"),
        Target("rfc6184", rfc6184, (), "the H.264 (RFC 6184) access-unit depacketizer"),
        Target("rfc7798", rfc7798, (), "the H.265 (RFC 7798) access-unit depacketizer"),
        Target("mjpeg", mjpeg, (ParseError,), "the lab's .Mjpeg and raw MJPEG files"),
        Target("pcap", pcap, (AnalysisError,), "pcap and pcapng files"),
        Target("annotate", annotate, (AnalysisError,), "pcap/pcapng copied with comments"),
        Target("capture_check", capture_check, (AnalysisError,), "a capture through every rule"),
        Target("analysis_rtsp", analysis_rtsp, (AnalysisError,), "RTSP read off a TCP stream"),
        Target("analysis_headers", analysis_headers, (AnalysisError,), "Transport, RTP-Info"),
        Target("analysis_sdp", analysis_sdp, (AnalysisError,), "SDP in captured replies"),
        Target("analysis_rtcp", analysis_rtcp, (AnalysisError,), "RTCP in captured datagrams"),
        Target("analysis_h26x", analysis_h26x, (), "the checker's H.264/H.265 depacketizer"),
    )
}
