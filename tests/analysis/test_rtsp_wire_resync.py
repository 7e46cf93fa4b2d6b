"""Reading RTSP and interleaved frames where the capture lacks bytes: a snap length cut
the segment, the capture dropped packets, or it joined the connection midway. What spans
a hole is kept as far as it goes and marked; reading resumes at the next message or frame."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.wire.rtsp import InterleavedFrame, Kind, RTSPMessage, read_stream
from analysis.wire.tcp import TCPStream

KEY = (b"\x7f\x00\x00\x01", 8554, b"\x7f\x00\x00\x01", 40000)
REPLY = (
    b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 77\r\nTransport: RTP/AVP/TCP;interleaved=0-1\r\n\r\n"
)


def frame(channel: int, seq: int, size: int = 40) -> bytes:
    rtp = struct.pack("!BBHII", 0x80, 96, seq, seq * 3000, 0xABCD) + bytes(size)
    return struct.pack("!BBH", 0x24, channel, len(rtp)) + rtp


def stream_of(pieces: list[bytes], holes: dict[int, int] = (), syn: bool = True) -> TCPStream:
    """The pieces joined; ``holes`` maps a piece index to bytes missing before it."""
    s = TCPStream(KEY, syn_seen=syn)
    offset = 0
    for i, piece in enumerate(pieces):
        if i in dict(holes):
            s.gaps.append((offset, dict(holes)[i]))
        s.starts.append(offset)
        s.pktnos.append(i + 1)
        s.times.append(float(i))
        offset += len(piece)
    s.data = b"".join(pieces)
    return s


def test_a_frame_cut_by_the_snap_length_keeps_its_header_and_declared_length():
    whole = frame(0, 1, 400)
    pieces = [REPLY, whole[:150], frame(0, 2), frame(1, 3)]
    items = read_stream(stream_of(pieces, {2: len(whole) - 150}))
    frames = [i for i in items if isinstance(i, InterleavedFrame)]
    assert [(f.channel, len(f.payload), f.wire_length) for f in frames] == [
        (0, 146, len(whole) - 4),
        (0, len(frame(0, 2)) - 4, len(frame(0, 2)) - 4),
        (1, len(frame(1, 3)) - 4, len(frame(1, 3)) - 4),
    ]


def test_a_reply_cut_in_its_headers_is_incomplete_and_the_next_one_is_read():
    pieces = [REPLY[:30], b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 77\r\n\r\n"]
    items = read_stream(stream_of(pieces, {1: len(REPLY) - 30}))  # cut inside "Session"
    cut, whole = items
    assert cut.incomplete and cut.header("CSeq") == "3" and cut.header("Session") is None
    assert not whole.incomplete and whole.cseq == 4 and not whole.problems


def test_a_connection_joined_midway_starts_at_the_first_frame_chain():
    tail_of_a_frame = frame(0, 1, 300)[123:]
    pieces = [tail_of_a_frame, frame(0, 2), frame(0, 3), b"RTSP/1.0 200 OK\r\nCSeq: 9\r\n\r\n"]
    items = read_stream(stream_of(pieces, syn=False))
    assert [type(i) for i in items] == [InterleavedFrame, InterleavedFrame, RTSPMessage]
    assert items[-1].kind is Kind.RESPONSE and items[-1].cseq == 9


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.binary(max_size=200), min_size=1, max_size=8),
    st.dictionaries(st.integers(0, 7), st.integers(1, 2000), max_size=3),
    st.booleans(),
)
def test_arbitrary_bytes_with_holes_never_raise(pieces, holes, syn):
    items = read_stream(stream_of(pieces, holes, syn))
    assert all(isinstance(i, RTSPMessage | InterleavedFrame) for i in items)
