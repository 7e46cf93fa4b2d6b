"""Heads that no empty line ends (the lab's peers) are split where the next message begins."""

from __future__ import annotations

from analysis.sessions.rebuild import _pair
from analysis.wire.rtsp import Kind, RTSPMessage, read_stream
from analysis.wire.tcp import TCPStream

KEY = (b"\x7f\x00\x00\x01", 8554, b"\x7f\x00\x00\x01", 40000)
NO_END = "header not ended by an empty line"


def _stream(*segments: bytes, closed: bool = False, first_pktno: int = 10) -> TCPStream:
    stream = TCPStream(KEY, closed=closed)
    offset = 0
    for i, segment in enumerate(segments):
        stream.starts.append(offset)
        stream.pktnos.append(first_pktno + i)
        stream.times.append(float(i))
        offset += len(segment)
    stream.data = b"".join(segments)
    return stream


def _messages(stream: TCPStream) -> list[RTSPMessage]:
    return [m for m in read_stream(stream) if isinstance(m, RTSPMessage)]


def _reply(cseq: int) -> bytes:
    return b"RTSP/1.0 200 OK\nCSeq: %d\nSession: 123456" % cseq


def test_replies_glued_in_one_segment_are_split_at_each_status_line():
    replies = _messages(_stream(_reply(1) + _reply(2) + _reply(3), closed=True))
    assert [m.cseq for m in replies] == [1, 2, 3]
    assert all(m.kind is Kind.RESPONSE and m.session_id == "123456" for m in replies)
    assert all(m.problems == [NO_END] and not m.truncated for m in replies)


def test_one_reply_per_segment_each_names_its_own_packet():
    replies = _messages(_stream(_reply(1), _reply(2), _reply(3), closed=True, first_pktno=6))
    assert [(m.cseq, m.pktno) for m in replies] == [(1, 6), (2, 7), (3, 8)]
    assert all(NO_END in m.problems for m in replies)


def test_last_reply_without_fin_is_truncated_not_a_fault():
    replies = _messages(_stream(_reply(1), _reply(2)))
    assert replies[0].problems == [NO_END]
    assert replies[1].truncated and replies[1].problems == []


def test_unterminated_reply_before_a_terminated_one_in_the_same_segment():
    data = _reply(1) + b"\r\n" + b"RTSP/1.0 404 Not Found\r\nCSeq: 2\r\n\r\n"
    replies = _messages(_stream(data))
    assert [(m.status, m.cseq) for m in replies] == [(200, 1), (404, 2)]
    assert replies[0].problems == [NO_END] and replies[1].problems == []
    assert replies[0].header("Session") == "123456"


def test_requests_without_empty_line_split_at_the_request_line():
    requests = b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000\n"
    requests += b"PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456"
    requests += b"TEARDOWN movie.Mjpeg RTSP/1.0\nCSeq: 3\nSession: 123456"
    got = _messages(_stream(requests, closed=True))
    assert [(m.method, m.cseq) for m in got] == [("SETUP", 1), ("PLAY", 2), ("TEARDOWN", 3)]
    assert all(m.kind is Kind.REQUEST and m.problems == [NO_END] for m in got)


def test_unterminated_replies_pair_with_requests_by_cseq():
    requests = _messages(
        _stream(
            b"SETUP m RTSP/1.0\nCSeq: 1\n\n",
            b"PLAY m RTSP/1.0\nCSeq: 2\n\n",
            b"TEARDOWN m RTSP/1.0\nCSeq: 3\n\n",
            first_pktno=1,
        )
    )
    replies = _messages(_stream(_reply(1) + _reply(2), _reply(3), closed=True, first_pktno=4))
    exchanges = _pair(requests, replies)
    assert [(e.request.method, e.response.cseq, e.cseq_problem) for e in exchanges] == [
        ("SETUP", 1, ""),
        ("PLAY", 2, ""),
        ("TEARDOWN", 3, ""),
    ]


def test_terminated_messages_are_read_as_before():
    data = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 5\r\n\r\nhello"
    data += b"RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n"
    replies = _messages(_stream(data))
    assert [(m.cseq, m.body, m.problems) for m in replies] == [(1, b"hello", []), (2, b"", [])]
