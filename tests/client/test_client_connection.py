"""The sans-I/O client connection, with bytes alone: CSeq, Session, dialects, state, events."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtsp_client.connection import ClientConnection, split_url, url_credentials
from rtsp_client.errors import ProtocolViolation, RTSPError, StateError
from rtsp_client.events import InterleavedReceived, NotRTSP, ReplyReceived, ServerRequestRefused
from rtsp_client.options import ClientOptions, Dialect, LowerTransport
from rtsp_client.state import ClientState
from rtsp_common.rtsp import InterleavedFrame, MessageParser, Request

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=clip\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    "a=control:*\r\nm=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\na=control:track1\r\n"
)


def reply(cseq: int | None, status: str = "200 OK", headers: str = "", body: str = "") -> bytes:
    fields = f"CSeq: {cseq}\r\n" if cseq is not None else ""
    if body:
        fields += f"Content-Length: {len(body.encode())}\r\n"
    return f"RTSP/1.0 {status}\r\n{fields}{headers}\r\n{body}".encode()


def sent(data: bytes) -> Request:
    (request,) = MessageParser().feed(data)
    assert isinstance(request, Request)
    return request


def connection(**options: object) -> ClientConnection:
    return ClientConnection("127.0.0.1", 8554, "movie.Mjpeg", ClientOptions(**options))  # type: ignore[arg-type]


def set_up(conn: ClientConnection) -> None:
    conn.receive_data(reply(conn.send_request("DESCRIBE").cseq, body=SDP))
    setup = conn.send_request("SETUP", conn.track_url(), [("Transport", conn.transport_header())])
    transport = "RTP/AVP/TCP;interleaved=4-5" if "TCP" in conn.transport_header() else "RTP/AVP"
    conn.receive_data(reply(setup.cseq, headers=f"Session: 42\r\nTransport: {transport}\r\n"))


def test_requests_are_numbered_and_replies_matched_by_cseq_in_any_order():
    conn = connection()
    first = conn.send_request("OPTIONS")
    second = conn.send_request("DESCRIBE", headers=[("Accept", "application/sdp")])
    assert (first.cseq, second.cseq) == (1, 2)
    assert sent(second.data).headers.get("Accept") == "application/sdp"
    events = conn.receive_data(
        reply(2, body=SDP) + reply(1, headers="Public: OPTIONS, DESCRIBE, SETUP\r\n")
    )
    assert [(e.cseq, e.method, e.error) for e in events if isinstance(e, ReplyReceived)] == [
        (2, "DESCRIBE", None),
        (1, "OPTIONS", None),
    ]
    assert conn.info.public == ["OPTIONS", "DESCRIBE", "SETUP"]
    assert conn.info.sdp is not None and conn.info.sdp.payload_type == 26
    assert conn.track_url() == "rtsp://127.0.0.1:8554/movie.Mjpeg/track1"


def test_a_request_the_state_refuses_is_never_numbered():
    conn = connection()
    with pytest.raises(StateError, match="PLAY is not allowed in state init"):
        conn.send_request("PLAY")
    assert conn.send_request("OPTIONS").cseq == 1


def test_setup_reply_gives_session_timeout_and_transport_and_moves_the_state():
    conn = connection(rtp_port=25000)
    assert "client_port=25000-25001" in conn.transport_header()
    conn.receive_data(reply(conn.send_request("DESCRIBE").cseq, body=SDP))
    setup = conn.send_request("SETUP", conn.track_url(), [("Transport", conn.transport_header())])
    headers = "Session: 0123456789;timeout=30\r\nTransport: RTP/AVP;unicast;server_port=6970-6971;ssrc=0000BEEF\r\n"
    (event,) = conn.receive_data(reply(setup.cseq, headers=headers))
    assert isinstance(event, ReplyReceived) and event.error is None
    assert (conn.info.session_id, conn.info.timeout) == ("0123456789", 30)
    assert conn.info.transport is not None and conn.info.transport.server_port == (6970, 6971)
    assert conn.state.state is ClientState.READY
    play = sent(conn.send_request("PLAY").data)
    assert play.headers.get("Session") == "0123456789"
    receiver = conn.new_receiver("127.0.0.1")
    assert (receiver.ssrc, receiver.payload_type, receiver.server_host) == (
        0xBEEF,
        26,
        "127.0.0.1",
    )


def test_an_unusable_setup_reply_is_a_protocol_violation_and_the_state_stays():
    conn = connection()
    setup = conn.send_request("SETUP")
    (event,) = conn.receive_data(reply(setup.cseq, headers="Transport: RTP/AVP\r\n"))
    assert isinstance(event, ReplyReceived) and isinstance(event.error, ProtocolViolation)
    assert "no Session header" in str(event.error)
    assert conn.state.state is ClientState.INIT


def test_a_non_2xx_reply_is_an_rtsp_error_and_a_refused_keepalive_falls_back_to_options():
    conn = connection()
    set_up(conn)
    keepalive = conn.send_request(conn.keepalive_method)
    assert conn.keepalive_method == "GET_PARAMETER"
    (event,) = conn.receive_data(reply(keepalive.cseq, "501 Not Implemented"))
    assert isinstance(event, ReplyReceived) and isinstance(event.error, RTSPError)
    assert (event.error.status, event.error.reason) == (501, "Not Implemented")
    assert conn.keepalive_method == "OPTIONS"
    assert conn.state.state is ClientState.READY


@pytest.mark.parametrize("cseq", [None, -1, 999])
def test_a_reply_whose_cseq_names_no_request_sent_is_a_violation(cseq):
    conn = connection()
    conn.send_request("OPTIONS")
    events = conn.receive_data(reply(cseq) + reply(1))
    assert len(events) == 1 and isinstance(events[0], NotRTSP)  # nothing after it is trusted
    assert "§12.17" in events[0].reason and ("no CSeq" if cseq is None else f"CSeq '{cseq}'") in (
        events[0].reason
    )


@pytest.mark.parametrize(
    ("control", "content_base"),
    [("track 1", None), ("track\x01", None), ("rtsp://[::1/x", None), ("track1", "rtsp://[::1/")],
)
def test_an_sdp_naming_a_track_no_request_can_carry_is_a_violation(control, content_base):
    conn = connection()
    headers = f"Content-Base: {content_base}\r\n" if content_base else ""
    body = SDP.replace("a=control:track1", f"a=control:{control}")
    (event,) = conn.receive_data(
        reply(conn.send_request("DESCRIBE").cseq, headers=headers, body=body)
    )
    assert isinstance(event.error, ProtocolViolation)
    assert "unusable track" in str(event.error)
    assert conn.info.sdp is None  # nothing half-learned for a SETUP to use


def test_a_late_reply_to_an_abandoned_request_is_dropped_and_the_next_matched():
    conn = connection()
    timed_out = conn.send_request("OPTIONS")
    conn.abandon(timed_out.cseq)
    describe = conn.send_request("DESCRIBE")
    assert conn.receive_data(reply(timed_out.cseq)) == []
    (event,) = conn.receive_data(reply(describe.cseq, headers="Content-Type: application/sdp\r\n"))
    assert isinstance(event, ReplyReceived) and event.method == "DESCRIBE"


def test_the_lab_dialect_writes_like_client_py_and_reads_unterminated_replies():
    conn = connection(dialect=Dialect.LAB, rtp_port=25000)
    assert conn.url == "movie.Mjpeg"
    setup = conn.send_request("SETUP", conn.track_url())
    assert setup.data == (
        b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000\n\n"
    )
    # The lab's server ends its reply without the blank line.
    assert conn.receive_data(b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456") == []
    assert conn.head_unterminated
    (event,) = conn.end_head()
    assert isinstance(event, ReplyReceived) and event.error is None
    assert conn.info.session_id == "123456" and not conn.head_unterminated
    assert (
        conn.send_request("PLAY").data == b"PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456\n\n"
    )
    # no stated clock: the receiver measures no jitter on a guessed rate
    assert conn.new_receiver("127.0.0.1").stats.clock_rate is None


def test_interleaved_packets_follow_the_negotiated_channels():
    conn = connection(transport=LowerTransport.TCP)
    assert "interleaved=0-1" in conn.transport_header()
    set_up(conn)
    assert conn.info.transport is not None and conn.info.transport.interleaved == (4, 5)
    frames = b"".join(
        InterleavedFrame(channel, bytes([channel])).to_bytes() for channel in (4, 5, 0, 9)
    )
    assert conn.receive_data(frames) == [
        InterleavedReceived(b"\x04", rtcp=False),
        InterleavedReceived(b"\x05", rtcp=True),
    ]
    assert conn.interleaved_rtcp(b"rr") == InterleavedFrame(5, b"rr").to_bytes()


def test_a_request_from_the_server_is_answered_501_with_its_cseq():
    conn = connection()
    (event,) = conn.receive_data(b"ANNOUNCE rtsp://x/ RTSP/1.0\r\nCSeq: 9\r\n\r\n")
    assert isinstance(event, ServerRequestRefused) and event.request.method == "ANNOUNCE"
    assert event.answer == b"RTSP/1.0 501 Not Implemented\r\nCSeq: 9\r\n\r\n"


@pytest.mark.parametrize(
    "data",
    [b"\x00\x01garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
    ids=["noise", "http"],
)
def test_bytes_that_are_not_rtsp_end_in_one_not_rtsp_event(data):
    conn = connection()
    conn.send_request("OPTIONS")
    (event,) = conn.receive_data(data)
    assert isinstance(event, NotRTSP) and "RTSP" in event.reason


@given(st.lists(st.binary(max_size=300), max_size=8))
def test_arbitrary_bytes_give_events_never_an_exception(chunks):
    conn = connection()
    conn.send_request("OPTIONS")
    for chunk in chunks:
        events = conn.receive_data(chunk)
        assert all(
            isinstance(e, ReplyReceived | InterleavedReceived | ServerRequestRefused | NotRTSP)
            for e in events
        )


def test_bad_settings_are_refused_with_their_reason():
    with pytest.raises(ValueError, match="server port 0"):
        ClientConnection("h", 0, "p")
    with pytest.raises(ValueError, match="only knows RTP over UDP"):
        ClientOptions(dialect=Dialect.LAB, transport=LowerTransport.TCP)
    with pytest.raises(ValueError, match="transport must be 'udp' or 'tcp'"):
        ClientOptions(transport="sctp")  # type: ignore[arg-type]
    assert split_url("rtsp://cam.local/live") == ("cam.local", 554, "live")


@pytest.mark.parametrize(
    "url, why",
    [
        ("rtsp://[::1/x", "Invalid IPv6 URL"),
        ("rtsp://cam:99999/x", "Port out of range"),
        ("rtsp://user:pw@cam:abc/x", "could not be cast"),
    ],
)
def test_a_malformed_url_is_one_error_naming_the_url(url, why):
    # urlsplit's own words alone ("Invalid IPv6 URL") do not say which argument was wrong.
    for read in (split_url, url_credentials):
        with pytest.raises(ValueError, match=f"not a valid rtsp:// URL '.*': .*{why}"):
            read(url)


@pytest.mark.parametrize("dialect", [Dialect.STANDARD, Dialect.LAB])
def test_setup_names_the_announced_port_of_a_port_forward_not_the_bound_one(dialect):
    conn = connection(rtp_port=25000, announce_port=40000, dialect=dialect)
    assert "client_port=40000-40001" in conn.transport_header()
    setup = conn.send_request("SETUP", conn.track_url(), [("Transport", conn.transport_header())])
    assert b"40000" in setup.data and b"25000" not in setup.data


def test_an_announced_port_must_be_an_even_udp_port():
    with pytest.raises(ValueError, match="not an even port"):
        ClientOptions(announce_port=40001)
    with pytest.raises(ValueError, match="needs the UDP transport"):
        ClientOptions(announce_port=40000, transport=LowerTransport.TCP)
