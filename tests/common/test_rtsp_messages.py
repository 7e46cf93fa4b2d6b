"""RTSP messages and the incremental parser (RFC 2326): round trips, chunking, limits, bad input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtsp_common.errors import ParseError
from rtsp_common.headers import Headers
from rtsp_common.rtsp import (
    RTSP_VERSION,
    InterleavedFrame,
    MessageError,
    MessageParser,
    ParserState,
    Request,
    Response,
)
from rtsp_common.status import Status, reason_phrase

# ---------------------------------------------------------------- strategies

TOKEN_ALPHABET = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
tokens = st.text(TOKEN_ALPHABET, min_size=1, max_size=20)
# header values: printable text (Unicode too), no leading/trailing blanks, no line breaks
values = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"),
    max_size=40,
).map(lambda s: s.strip(" \t"))
header_lists = st.lists(
    st.tuples(tokens.filter(lambda n: n.lower() != "content-length"), values), max_size=8
)
uris = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60)
versions = st.sampled_from([RTSP_VERSION, "RTSP/2.0", "RTSP/1.1"])
bodies = st.binary(max_size=300)


def _with_length(headers: list[tuple[str, str]], body: bytes) -> Headers:
    """What the parser returns: the serializer adds Content-Length for a body."""
    items = list(headers)
    if body:
        items.append(("Content-Length", str(len(body))))
    return Headers(items)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    body = draw(bodies)
    return Request(
        draw(tokens.filter(lambda m: not m.startswith("$"))),
        draw(uris),
        _with_length(draw(header_lists), body),
        body,
        draw(versions),
    )


@st.composite
def responses(draw: st.DrawFn) -> Response:
    body = draw(bodies)
    reason = draw(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30))
    return Response(
        draw(st.integers(100, 999)),
        reason.strip(" "),
        _with_length(draw(header_lists), body),
        body,
        draw(versions),
    )


frames = st.builds(InterleavedFrame, st.integers(0, 255), st.binary(max_size=2000))
items = st.one_of(requests(), responses(), frames)


def parse_all(data: bytes, chunk: int | None = None) -> list:
    parser = MessageParser()
    if chunk is None:
        out = parser.feed(data)
    else:
        out = []
        for i in range(0, len(data), chunk):
            out += parser.feed(data[i : i + chunk])
    assert parser.buffered == 0
    return out


# ---------------------------------------------------------------- round trips


@given(requests())
def test_request_round_trip(req: Request) -> None:
    assert parse_all(req.to_bytes()) == [req]


@given(responses())
def test_response_round_trip(response: Response) -> None:
    assert parse_all(response.to_bytes()) == [response]


@given(frames)
def test_interleaved_frame_round_trip(frame: InterleavedFrame) -> None:
    assert parse_all(frame.to_bytes()) == [frame]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items, min_size=1, max_size=6), st.integers(1, 64))
def test_pipelined_mix_in_any_chunking(sequence: list, chunk: int) -> None:
    """Requests, responses and interleaved frames back to back, cut into chunks of any size."""
    wire = b"".join(item.to_bytes() for item in sequence)
    assert parse_all(wire, chunk) == sequence
    assert parse_all(wire) == sequence


# ---------------------------------------------------------------- chunking

OPTIONS = b"OPTIONS rtsp://example.com/media.mjpeg RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: test\r\n\r\n"
ANNOUNCE = (
    b"ANNOUNCE rtsp://example.com/live RTSP/1.0\r\n"
    b"CSeq: 2\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 12\r\n"
    b"\r\n"
    b"v=0\r\ns=x\r\nt="
)


@pytest.mark.parametrize("wire", [OPTIONS, ANNOUNCE], ids=["no-body", "body"])
def test_every_split_point(wire: bytes) -> None:
    whole = MessageParser().feed(wire)
    assert len(whole) == 1
    for cut in range(1, len(wire)):
        parser = MessageParser()
        first = parser.feed(wire[:cut])
        assert first == []
        assert parser.buffered == cut
        assert parser.feed(wire[cut:]) == whole


def test_byte_by_byte_with_interleaved_frames_between_messages() -> None:
    frame0 = InterleavedFrame(0, bytes(range(256)) * 3)
    frame1 = InterleavedFrame(1, b"")
    wire = OPTIONS + frame0.to_bytes() + ANNOUNCE + frame1.to_bytes() + OPTIONS
    parser = MessageParser()
    out = []
    for i in range(len(wire)):
        out += parser.feed(wire[i : i + 1])
    assert [type(x).__name__ for x in out] == [
        "Request",
        "InterleavedFrame",
        "Request",
        "InterleavedFrame",
        "Request",
    ]
    assert out[1] == frame0 and out[3] == frame1
    assert out[2].method == "ANNOUNCE" and out[2].body == b"v=0\r\ns=x\r\nt="
    assert parser.buffered == 0


def test_byte_by_byte_feeding_scans_each_byte_a_bounded_number_of_times(monkeypatch) -> None:
    """No quadratic rescans: searching for the end of a head fed byte by byte stays linear."""
    import rtsp_common.rtsp as rtsp

    scanned = 0
    real = rtsp._HEAD_END

    class CountingPattern:
        def search(self, buf, pos=0):
            nonlocal scanned
            scanned += len(buf) - pos
            return real.search(buf, pos)

    monkeypatch.setattr(rtsp, "_HEAD_END", CountingPattern())
    wire = b"OPTIONS * RTSP/1.0\r\nX-Pad: " + b"p" * 8000 + b"\r\n\r\n"
    parser = MessageParser()
    out = []
    for i in range(len(wire)):
        out += parser.feed(wire[i : i + 1])
    assert len(out) == 1
    assert scanned <= 3 * len(wire)  # a rescan from the start each time would be ~len**2 / 2


def test_parser_state_follows_the_stream() -> None:
    parser = MessageParser()
    assert parser.state is ParserState.IDLE
    parser.feed(b"\r\n")
    assert parser.state is ParserState.IDLE
    parser.feed(ANNOUNCE[:10])
    assert parser.state is ParserState.HEAD
    parser.feed(ANNOUNCE[10:-3])
    assert parser.state is ParserState.BODY
    parser.feed(ANNOUNCE[-3:] + b"$\x00")
    assert parser.state is ParserState.FRAME
    parser.feed(b"\x00\x00")
    assert parser.state is ParserState.IDLE
    with pytest.raises(ParseError):
        parser.feed(b"junk\r\n\r\n")
    assert parser.state is ParserState.FAILED


def test_partial_head_holds_only_an_incomplete_head() -> None:
    parser = MessageParser()
    parser.feed(b"\r\nSETUP movie.Mjpeg RTSP/1.0\nCSeq: 2\n")
    assert parser.partial_head == b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 2\n"
    parser.flush()
    assert parser.partial_head == b""
    parser.feed(ANNOUNCE[:-3])  # a complete head waiting for its body
    assert parser.partial_head == b""
    parser.feed(ANNOUNCE[-3:] + b"$\x00")  # part of an interleaved frame
    assert parser.partial_head == b""


def test_frame_payload_that_looks_like_rtsp_is_not_parsed() -> None:
    frame = InterleavedFrame(0, b"RTSP/1.0 200 OK\r\n\r\n")
    assert MessageParser().feed(frame.to_bytes() + OPTIONS) == [
        frame,
        MessageParser().feed(OPTIONS)[0],
    ]


def test_leading_blank_lines_between_messages_are_skipped() -> None:
    out = MessageParser().feed(b"\r\n\n" + OPTIONS + b"\r\n" + OPTIONS)
    assert len(out) == 2 and all(r.method == "OPTIONS" for r in out)


def test_large_pipelined_chunk_parses_in_one_feed() -> None:
    frame = InterleavedFrame(0, b"x" * 1400)
    wire = (frame.to_bytes() + OPTIONS) * 500
    out = MessageParser().feed(wire)
    assert len(out) == 1000


def test_response_with_body_and_parsed_fields() -> None:
    sdp = b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n"
    wire = (
        b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Base: rtsp://h/m/\r\n"
        b"Content-Type: application/sdp\r\nContent-Length: " + str(len(sdp)).encode() + b"\r\n\r\n"
    ) + sdp
    (response,) = MessageParser().feed(wire)
    assert isinstance(response, Response)
    assert (response.status, response.reason, response.cseq) == (200, "OK", 2)
    assert response.headers["content-base"] == "rtsp://h/m/"
    assert response.body == sdp


# ---------------------------------------------------------------- the lab's client and server

LAB_REQUESTS = [
    b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000\n\n",
    b"PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456\n\n",
    b"PAUSE movie.Mjpeg RTSP/1.0\nCSeq: 3\nSession: 123456\n\n",
    b"TEARDOWN movie.Mjpeg RTSP/1.0\nCSeq: 4\nSession: 123456\n\n",
]


def test_lab_client_requests_with_lf_line_ends() -> None:
    out = MessageParser().feed(b"".join(LAB_REQUESTS))
    assert [r.method for r in out] == ["SETUP", "PLAY", "PAUSE", "TEARDOWN"]
    assert [r.cseq for r in out] == [1, 2, 3, 4]
    setup = out[0]
    assert setup.uri == "movie.Mjpeg"
    assert setup.line_ending == "\n"
    assert setup.headers["Transport"] == "RTP/UDP; client_port= 25000"
    assert out[1].headers["session"] == "123456"
    # what we send back is always CRLF
    assert b"\n" not in setup.to_bytes().replace(b"\r\n", b"")
    assert setup.to_bytes().endswith(b"\r\n\r\n")


def test_lab_messages_without_blank_line_complete_on_flush() -> None:
    """The lab's Client.py and ServerWorker.py never send the closing blank line."""
    parser = MessageParser()
    assert (
        parser.feed(b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000")
        == []
    )
    (setup,) = parser.flush()
    assert setup.headers["Transport"] == "RTP/UDP; client_port= 25000"
    assert parser.buffered == 0
    assert parser.flush() == []
    assert parser.feed(b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456\n") == []
    (reply,) = parser.flush()
    assert (reply.status, reply.cseq, reply.line_ending) == (200, 1, "\n")


def test_lf_only_response() -> None:
    (response,) = MessageParser().feed(b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456\n\n")
    assert response.headers["Session"] == "123456" and response.line_ending == "\n"


# ---------------------------------------------------------------- versions, odd lines


def test_other_version_still_parses_so_the_server_can_answer_505() -> None:
    (request,) = MessageParser().feed(b"OPTIONS * RTSP/2.0\r\nCSeq: 9\r\n\r\n")
    assert request.version == "RTSP/2.0" and request.cseq == 9


def test_server_to_client_request() -> None:
    wire = Request("SET_PARAMETER", "rtsp://h/m", [("CSeq", "7")], b"x: y\r\n").to_bytes()
    (request,) = MessageParser().feed(wire)
    assert request.method == "SET_PARAMETER" and request.body == b"x: y\r\n"


def test_status_line_without_reason() -> None:
    (response,) = MessageParser().feed(b"RTSP/1.0 200\r\nCSeq: 1\r\n\r\n")
    assert response.status == 200 and response.reason == ""


def test_folded_header_is_joined() -> None:
    (request,) = MessageParser().feed(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Long: a\r\n  b\r\n\r\n")
    assert request.headers["X-Long"] == "a b"


def test_cseq_is_none_when_absent_or_junk() -> None:
    assert Request("OPTIONS", "*").cseq is None
    assert Request("OPTIONS", "*", [("CSeq", "abc")]).cseq is None


# ---------------------------------------------------------------- limits


def test_header_block_over_8k_is_413_naming_the_limit() -> None:
    parser = MessageParser()
    wire = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"
    with pytest.raises(ParseError, match="max_header_bytes") as info:
        for i in range(0, len(wire), 100):
            parser.feed(wire[i : i + 100])
    assert info.value.status == 413
    assert parser.buffered == 0  # nothing held after the error


def test_header_block_exactly_at_the_limit_is_accepted() -> None:
    head = b"OPTIONS * RTSP/1.0\r\nX-Pad: "
    pad = 8192 - len(head) - len(b"\r\n\r\n")
    wire = head + b"a" * pad + b"\r\n\r\n"
    assert len(wire) == 8192
    assert len(MessageParser().feed(wire)) == 1
    with pytest.raises(ParseError, match="max_header_bytes"):
        MessageParser().feed(head + b"a" * (pad + 1) + b"\r\n\r\n")


def test_more_than_64_headers_is_413() -> None:
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(65))
    with pytest.raises(ParseError, match="max_headers") as info:
        MessageParser().feed(b"OPTIONS * RTSP/1.0\r\nCSeq: 4\r\n" + fields + b"\r\n")
    assert info.value.status == 413
    assert info.value.cseq == 4
    ok = b"".join(b"X-%d: v\r\n" % i for i in range(63))
    assert (
        len(MessageParser().feed(b"OPTIONS * RTSP/1.0\r\nCSeq: 4\r\n" + ok + b"\r\n")[0].headers)
        == 64
    )


@pytest.mark.parametrize(
    ("wire", "status", "cseq"),
    [
        # a head over the size limit, its end never seen: CSeq from the complete lines before
        (b"OPTIONS * RTSP/1.0\r\nCSeq: 5\r\nX-Pad: " + b"a" * 9000, 413, 5),
        # the same with the end seen
        (b"OPTIONS * RTSP/1.0\r\nCSeq: 6\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n", 413, 6),
        # a bad start line followed by a good CSeq
        (b"\x01\x02 garbage\r\nCSeq: 7\r\n\r\n", 400, 7),
        # line breaks between messages before the refused one do not hide its CSeq
        (b"\r\n\r\n\x01\x02 garbage\r\nCSeq: 8\r\n\r\n", 400, 8),
        # a CSeq line cut short by the limit is not read as a smaller number
        (b"OPTIONS * RTSP/1.0\r\nX-Pad: " + b"a" * 8156 + b"\r\nCSeq: 12345", 413, None),
    ],
)
def test_refused_message_carries_the_cseq_of_its_complete_lines(wire, status, cseq) -> None:
    with pytest.raises(ParseError) as info:
        MessageParser().feed(wire)
    assert (info.value.status, info.value.cseq) == (status, cseq)


def test_body_over_64k_is_413_before_the_body_arrives() -> None:
    with pytest.raises(ParseError, match="max_body") as info:
        MessageParser().feed(b"ANNOUNCE * RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 65537\r\n\r\n")
    assert info.value.status == 413
    body = b"b" * 65536
    (request,) = MessageParser().feed(
        b"ANNOUNCE * RTSP/1.0\r\nContent-Length: 65536\r\n\r\n" + body
    )
    assert request.body == body


def test_custom_limits() -> None:
    with pytest.raises(ParseError, match="max_body"):
        MessageParser(max_body=10).feed(b"ANNOUNCE * RTSP/1.0\r\nContent-Length: 11\r\n\r\n")
    with pytest.raises(ParseError, match="max_headers"):
        MessageParser(max_headers=1).feed(b"OPTIONS * RTSP/1.0\r\nA: 1\r\nB: 2\r\n\r\n")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "wire, fragment",
    [
        (b"hello world\r\n\r\n", "not an RTSP request or status line"),
        (b"OPTIONS\r\n\r\n", "not an RTSP request or status line"),
        (b"OPTIONS * RTSP/1.0\r\nno colon here\r\n\r\n", "malformed header line"),
        (b"OPTIONS * RTSP/1.0\r\n bad fold\r\n\r\n", "continuation line"),
        (b"OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
        (b"OPTIONS * RTSP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "conflicting"),
        (b"OPTIONS * RTSP/1.0\r\nX: a\x00b\r\n\r\n", "control characters"),
        (b"OPTIONS * RTSP/1.0\r\nX: a\r\n b\x00\r\n\r\n", "control characters"),  # folded
        (b"RTSP/1.0 020 OK\r\nCSeq: 1\r\n\r\n", "not an RTSP request or status line"),
        (b"\x16\x03\x01\x02\x00\x01\x00", "binary data"),
    ],
)
def test_malformed_input_is_400(wire: bytes, fragment: str) -> None:
    parser = MessageParser()
    with pytest.raises(MessageError, match=fragment) as info:
        parser.feed(wire)
    assert info.value.status == 400
    # the stream cannot be resynchronised: the parser keeps refusing
    with pytest.raises(ParseError):
        parser.feed(OPTIONS)


def test_garbage_start_line_fails_as_soon_as_the_line_ends() -> None:
    parser = MessageParser()
    with pytest.raises(ParseError, match="not an RTSP"):
        parser.feed(b"GARBAGE LINE\r\nmore headers might follow")


def test_error_carries_the_messages_parsed_before_it() -> None:
    with pytest.raises(MessageError) as info:
        MessageParser().feed(OPTIONS + b"junk\r\n\r\n")
    assert [r.method for r in info.value.parsed] == ["OPTIONS"]


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_arbitrary_bytes_raise_only_parse_error(chunks: list[bytes]) -> None:
    parser = MessageParser(max_header_bytes=512, max_body=512)
    try:
        for chunk in chunks:
            for item in parser.feed(chunk):
                assert isinstance(item, Request | Response | InterleavedFrame)
        parser.flush()
    except ParseError as exc:
        assert exc.status in (400, 413)


@given(st.lists(items, min_size=1, max_size=3), st.data())
def test_mutated_valid_streams_raise_only_parse_error(sequence: list, data: st.DataObject) -> None:
    """Valid messages with bytes overwritten, in random chunks: values or ParseError, nothing else."""
    wire = bytearray(b"".join(item.to_bytes() for item in sequence))
    for _ in range(data.draw(st.integers(1, 4))):
        wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    parser = MessageParser()
    try:
        out = parser.feed(bytes(wire[:cut])) + parser.feed(bytes(wire[cut:])) + parser.flush()
    except ParseError as exc:
        assert exc.status in (400, 413)
    else:
        assert all(isinstance(item, Request | Response | InterleavedFrame) for item in out)


@given(
    st.lists(
        st.sampled_from(
            [
                b"OPTIONS",
                b" ",
                b"*",
                b"RTSP/1.0",
                b"\r\n",
                b"\n",
                b":",
                b"CSeq",
                b"1",
                b"Content-Length: 3",
                b"$",
                b"\x00\x03",
                b"RTSP/1.0 200 OK",
                b"\t",
            ]
        ),
        max_size=30,
    )
)
def test_rtsp_like_fragments_raise_only_parse_error(parts: list[bytes]) -> None:
    parser = MessageParser()
    try:
        parser.feed(b"".join(parts))
        parser.flush()
    except ParseError:
        pass


# ---------------------------------------------------------------- serializing


def test_response_make_puts_cseq_first_and_fills_the_reason() -> None:
    response = Response.make(454, 5, [("Server", "rtsp-workbench")])
    assert response.reason == Status.SESSION_NOT_FOUND.phrase == "Session Not Found"
    assert response.headers.items()[0] == ("CSeq", "5")
    assert response.to_bytes() == (
        b"RTSP/1.0 454 Session Not Found\r\nCSeq: 5\r\nServer: rtsp-workbench\r\n\r\n"
    )
    assert Response.make(200, None).headers.items() == []
    assert Response.make(299, 1).reason == "Unknown"
    assert Response.make(200, 1, reason="Fine").reason == "Fine"


def test_status_codes_are_ints_with_the_rfc_phrases() -> None:
    # RFC 2326 §7.1.1 lists 44 codes; each is one member, named after its phrase.
    assert len(Status) == 44
    assert Status(455) is Status.METHOD_NOT_VALID_IN_THIS_STATE
    assert Status.METHOD_NOT_VALID_IN_THIS_STATE == 455
    assert Status.METHOD_NOT_VALID_IN_THIS_STATE.phrase == "Method Not Valid in This State"
    for status in Status:
        words = status.phrase.upper().replace("-", " ").replace("TIME OUT", "TIMEOUT").split()
        assert status.name == "_".join(words), status
    assert reason_phrase(461) == "Unsupported transport"
    assert reason_phrase(299) == "Unknown"


def test_to_bytes_sets_a_correct_content_length() -> None:
    request = Request("ANNOUNCE", "*", [("Content-Length", "999"), ("CSeq", "1")], b"abc")
    assert request.to_bytes() == b"ANNOUNCE * RTSP/1.0\r\nContent-Length: 3\r\nCSeq: 1\r\n\r\nabc"


@pytest.mark.parametrize(
    "message",
    [
        Request("OPTIONS", "*", [("X", "a\r\nInjected: 1")]),
        Request("OPTIONS", "*", [("Bad Name", "v")]),
        Request("OPT IONS", "*"),
        Request("OPTIONS", "a b"),
        Request("$ETUP", "*"),
    ],
)
def test_to_bytes_refuses_header_injection(message: Request) -> None:
    with pytest.raises(ValueError):
        message.to_bytes()


def test_interleaved_frame_limits() -> None:
    with pytest.raises(ValueError):
        InterleavedFrame(256, b"")
    with pytest.raises(ValueError):
        InterleavedFrame(0, b"x" * 65536)
    assert InterleavedFrame(3, b"ab").to_bytes() == b"$\x03\x00\x02ab"


def test_headers_multimap() -> None:
    headers = Headers([("CSeq", "1"), ("X-A", "1"), ("x-a", "2"), ("Session", "s")])
    assert headers.get("x-A") == "1" and headers.get_all("X-A") == ["1", "2"]
    assert "cseq" in headers and "Missing" not in headers
    with pytest.raises(KeyError):
        headers["Missing"]
    headers.set("X-a", "3")
    assert headers.items() == [("CSeq", "1"), ("X-a", "3"), ("Session", "s")]
    headers.add("X-A", "4")
    headers.remove("x-a")
    assert list(headers) == ["CSeq", "Session"] and len(headers) == 2
    assert headers == Headers([("cseq", "1"), ("session", "s")])
    assert headers != Headers([("Session", "s"), ("CSeq", "1")])
    headers.set("New", "n")
    assert headers.items()[-1] == ("New", "n")


def test_messages_accept_plain_header_lists() -> None:
    assert Request("OPTIONS", "*", [("CSeq", "1")]).headers == Headers([("CSeq", "1")])
