"""TCP reassembly per direction (sequence order, retransmissions, out of order, gaps,
wrap-around) and the RTSP reader on top of it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.wire.flows import TCP_SYN
from analysis.wire.rtsp import InterleavedFrame, Kind, RTSPMessage, read_stream
from analysis.wire.tcp import reassemble

KEY = (b"\x0a\x00\x00\x02", 40000, b"\x0a\x00\x00\x01", 554)
PSH_ACK = 0x18


def segments(chunks: list[tuple[int, bytes]], isn: int = 1000, syn: bool = True) -> list:
    """(relative offset, data) chunks as captured segments, packet numbers from 2."""
    out = [(1, 0.0, isn, TCP_SYN, b"")] if syn else []
    for i, (rel, data) in enumerate(chunks):
        out.append((i + 2, 0.1 * (i + 1), (isn + 1 + rel) % 2**32, PSH_ACK, data))
    return out


def test_in_order_stream_and_packet_mapping():
    stream = reassemble(KEY, segments([(0, b"hello "), (6, b"world")]))
    assert stream.data == b"hello world"
    assert stream.packet_at(0) == (2, 0.1) and stream.packet_at(7) == (3, 0.2)
    assert stream.retransmissions == stream.out_of_order == 0 and not stream.gaps


def test_out_of_order_segments_are_put_back_in_order():
    stream = reassemble(KEY, segments([(6, b"world"), (0, b"hello ")]))
    assert stream.data == b"hello world"
    assert stream.out_of_order == 1 and stream.retransmissions == 0
    assert stream.packet_at(0)[0] == 3  # the earlier bytes came in the later packet


def test_retransmission_and_partial_overlap_are_kept_once():
    stream = reassemble(
        KEY, segments([(0, b"hello "), (0, b"hello "), (3, b"lo world"), (11, b"!")])
    )
    assert stream.data == b"hello world!"
    assert stream.retransmissions == 2


def test_gap_is_recorded_and_stream_joined_across_it():
    stream = reassemble(KEY, segments([(0, b"abc"), (10, b"xyz")]))
    assert stream.data == b"abcxyz"
    assert stream.gaps == [(3, 7)]
    assert stream.packet_at(3)[0] == 3


def test_sequence_numbers_wrap_around_2_32():
    stream = reassemble(KEY, segments([(0, b"abcd"), (4, b"efgh")], isn=2**32 - 3))
    assert stream.data == b"abcdefgh"


def test_capture_started_mid_connection_without_syn():
    stream = reassemble(KEY, segments([(5, b"later"), (0, b"first")], syn=False))
    assert stream.data == b"firstlater" and not stream.syn_seen


def rtsp(*chunks: bytes) -> list:
    data = b"".join(chunks)
    # split the bytes across segments of 7 bytes to test messages spanning segments
    pieces = [(i, data[i : i + 7]) for i in range(0, len(data), 7)]
    return read_stream(reassemble(KEY, segments(pieces)))


def test_messages_span_segments_and_pipeline():
    items = rtsp(
        b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        b"DESCRIBE rtsp://h/a RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n",
    )
    assert [m.method for m in items] == ["OPTIONS", "DESCRIBE"]
    assert [m.cseq for m in items] == [1, 2]
    assert items[1].header("accept") == "application/sdp"
    assert items[0].pktno == 2 and items[1].pktno == 6  # byte 31 is in the fifth segment
    assert items[0].raw == b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"


def test_body_by_content_length_and_interleaved_frames():
    body = b"v=0\r\no=- 1 1 IN IP4 h\r\n"
    items = rtsp(
        b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
        b"$\x00\x00\x05abcde",
        b"$\x01\x00\x02xy",
        b"RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n",
    )
    assert isinstance(items[0], RTSPMessage) and items[0].body == body
    assert items[0].kind is Kind.RESPONSE and items[0].status == 200
    assert [(f.channel, f.payload) for f in items[1:3]] == [(0, b"abcde"), (1, b"xy")]
    assert all(isinstance(f, InterleavedFrame) for f in items[1:3])
    assert items[3].cseq == 3 and not items[0].length_mismatch


def test_lf_only_lines_are_counted():
    (message,) = rtsp(b"SETUP rtsp://h/a RTSP/1.0\nCSeq: 3\nTransport: RTP/AVP;client_port=1-2\n\n")
    assert message.lf_only_lines == 4 and message.cseq == 3


def test_content_length_shorter_than_the_body_is_found():
    items = rtsp(
        b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 3\r\n\r\nv=0\r\ns=x\r\n",
        b"RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n",
    )
    assert "Content-Length 3 but 7 more body bytes follow" in items[0].length_mismatch
    assert items[1].cseq == 3  # reading resumes at the next message


def test_syntax_problems_are_listed_not_raised():
    (message,) = rtsp(b"HELLO\r\nno colon here\r\nCSeq: x\r\n\r\n")
    assert message.kind is Kind.INVALID
    assert len(message.problems) == 2 and message.cseq is None


def test_lab_replies_without_empty_line_end_at_their_segment():
    replies = [
        b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456",
        b"RTSP/1.0 200 OK\nCSeq: 2\nSession: 123456",
    ]
    items = read_stream(reassemble(KEY, segments([(0, replies[0]), (len(replies[0]), replies[1])])))
    assert [m.cseq for m in items] == [1, 2]
    assert items[0].session_id == "123456" and "empty line" in items[0].problems[0]
    assert items[1].truncated  # the capture ends inside it: no empty line seen yet


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.binary(max_size=80)), max_size=12))
def test_arbitrary_segments_never_raise(chunks):
    stream = reassemble(KEY, segments(chunks))
    for item in read_stream(stream):
        assert item.pktno >= 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_read_as_rtsp_never_raise(data):
    stream = reassemble(KEY, segments([(0, data)]))
    items = read_stream(stream)
    assert sum(
        len(i.raw) if isinstance(i, RTSPMessage) else 4 + len(i.payload) for i in items
    ) <= len(data)


def test_non_ascii_digits_are_not_numbers():
    (message,) = rtsp(b"RTSP/1.0 200 OK\r\nCSeq: \xb3\r\nContent-Length: \xb2\r\n\r\n")
    assert message.cseq is None  # "³" is a digit to str.isdigit, not to RTSP
    assert "Content-Length" in message.problems[0]
