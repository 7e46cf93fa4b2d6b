"""The request handler with bytes only: every method, every status code, the lab's dialect."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from media_samples import SUB_420, make_jpeg, noise_jpeg, progressive_jpeg
from server_harness import request_handler, write_clip

from rtsp_common.errors import ParseError
from rtsp_common.headers import Session as SessionHeader
from rtsp_common.headers import Transport, parse_public, parse_rtp_info
from rtsp_common.rtsp import MessageParser, Request, Response
from rtsp_common.sdp import SessionDescription
from rtsp_server.actions import EndSession, StartStreaming, StopStreaming
from rtsp_server.handler import PUBLIC_METHODS
from rtsp_server.media import LAB_MAX_FRAME, MediaLibrary
from rtsp_server.options import ServerOptions
from rtsp_server.session import SessionRegistry, SessionState

PEER = "127.0.0.1"
BASE = "rtsp://127.0.0.1:8554"
URL = f"{BASE}/clip.Mjpeg"
TRACK = f"{URL}/track1"
UDP = "RTP/AVP;unicast;client_port=5000-5001"


class Harness:
    """A handler fed raw request bytes; answers parsed back from bytes."""

    def __init__(
        self,
        media: Path,
        max_sessions: int = 10,
        peer: str = PEER,
        connection_id: int = 1,
        sessions: SessionRegistry | None = None,
        library: MediaLibrary | None = None,
    ) -> None:
        self.options = ServerOptions(media=media, fps=25, session_timeout=60)
        self.sessions = sessions if sessions is not None else SessionRegistry(max_sessions)
        self.library = library if library is not None else MediaLibrary(media)
        self.handler = request_handler(
            self.options, self.library, self.sessions, connection_id, peer
        )
        self.now = 100.0
        self.actions: list = []
        self.closed = False

    def raw(self, data: bytes) -> list[Response]:
        parser = MessageParser()
        answers = []
        try:
            requests = parser.feed(data)
        except ParseError as exc:
            result = self.handler.handle_parse_error(exc)
            self.closed = result.close
            return [reparse(result.response)]
        for request in requests:
            assert isinstance(request, Request)
            result = self.handler.handle(request, self.now)
            self.actions += result.actions
            answers.append(reparse(result.response))
        return answers

    def send(self, method: str, url: str = URL, cseq: int = 1, **headers: str) -> Response:
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}"]
        lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
        (answer,) = self.raw(("\r\n".join(lines) + "\r\n\r\n").encode())
        return answer

    def setup(self, transport: str = UDP, url: str = TRACK) -> str:
        answer = self.send("SETUP", url, Transport=transport)
        assert answer.status == 200, answer
        return SessionHeader.parse(answer.headers["Session"]).id


def reparse(response: Response) -> Response:
    """The response as a client reads it off the wire."""
    data = response.to_bytes()
    (parsed,) = MessageParser().feed(data)
    assert isinstance(parsed, Response)
    return parsed


@pytest.fixture
def h(media_dir: Path) -> Harness:
    return Harness(media_dir)


def test_options_lists_public_methods_and_echoes_cseq(h):
    answer = h.send("OPTIONS", "*", cseq=7)
    assert answer.status == 200
    assert answer.cseq == 7
    assert parse_public(answer.headers["Public"]) == list(PUBLIC_METHODS)


def test_describe_returns_sdp_with_content_base(h, clip_frames):
    answer = h.send("DESCRIBE", URL, Accept="application/sdp")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/sdp"
    assert answer.headers["Content-Base"] == URL + "/"
    sdp = SessionDescription.parse(answer.body.decode())
    assert (sdp.payload_type, sdp.encoding, sdp.clock_rate) == (26, "JPEG", 90000)
    assert sdp.track_control == "track1"
    assert (sdp.width, sdp.height) == (160, 120)
    assert sdp.duration == pytest.approx(len(clip_frames) / 25)


def test_describe_of_lab_style_uri_builds_absolute_base(h):
    answer = h.send("DESCRIBE", "clip.Mjpeg")
    assert answer.status == 200
    assert answer.headers["Content-Base"] == "rtsp://127.0.0.1:8554/clip.Mjpeg/"


def test_describe_subfolder_file_by_relative_path(h):
    assert h.send("DESCRIBE", f"{BASE}/sub/raw.mjpeg").status == 200


def test_setup_udp_reply_has_ports_ssrc_and_session_timeout(h):
    answer = h.send("SETUP", TRACK, Transport=UDP)
    assert answer.status == 200
    session = SessionHeader.parse(answer.headers["Session"])
    assert session.id.isdigit() and len(session.id) >= 16
    assert session.timeout == 60
    transport = Transport.parse(answer.headers["Transport"])
    assert transport.client_port == (5000, 5001)
    assert transport.server_port == (6000, 6001)
    stored = h.sessions.get(session.id)
    assert transport.ssrc == stored.stream.ssrc
    assert stored.state is SessionState.READY
    assert answer.headers.items()[0][0] == "CSeq"


def test_setup_on_aggregate_url_works_too(h):
    assert h.send("SETUP", URL, Transport=UDP).status == 200


def test_setup_tcp_interleaved_assigns_channels(h):
    answer = h.send("SETUP", TRACK, Transport="RTP/AVP/TCP;unicast;interleaved=0-1")
    transport = Transport.parse(answer.headers["Transport"])
    assert transport.interleaved == (0, 1)
    answer2 = h.send(
        "SETUP", f"{BASE}/sub/raw.mjpeg/track1", Transport="RTP/AVP/TCP;unicast;interleaved=0-1"
    )
    assert Transport.parse(answer2.headers["Transport"]).interleaved == (2, 3)  # 0-1 taken


def test_setup_picks_first_supported_alternative(h):
    answer = h.send(
        "SETUP", TRACK, Transport="RTP/AVP;multicast, RTP/AVP/TCP;unicast;interleaved=4-5"
    )
    assert answer.status == 200
    assert Transport.parse(answer.headers["Transport"]).interleaved == (4, 5)


@pytest.mark.parametrize(
    "transport",
    [
        "RTP/AVP;multicast;client_port=5000-5001",
        "RTP/AVP;unicast;destination=10.9.8.7;client_port=5000-5001",  # reflection attempt
        "RTP/AVP;unicast",  # UDP without client_port
        "RTP/SAVP;unicast;client_port=5000-5001",
        'RTP/AVP;unicast;client_port=5000-5001;mode="RECORD"',
        "RTP/AVP;unicast;client_port=0-1",
    ],
)
def test_unsupported_transports_get_461(h, transport):
    answer = h.send("SETUP", TRACK, Transport=transport)
    assert answer.status == 461
    assert len(h.sessions) == 0


def test_destination_equal_to_peer_is_accepted(h):
    answer = h.send(
        "SETUP", TRACK, Transport=f"RTP/AVP;unicast;destination={PEER};client_port=5000-5001"
    )
    assert answer.status == 200


def test_setup_without_transport_is_400(h):
    assert h.send("SETUP", TRACK).status == 400


def test_unreadable_transport_is_461(h):
    assert h.send("SETUP", TRACK, Transport="RTP/XYZ;multicast;client_port=abc-def").status == 461


def test_play_reply_has_range_and_rtp_info_of_first_packet(h):
    sid = h.setup()
    answer = h.send("PLAY", URL + "/", Session=sid, Range="npt=0.000-")
    assert answer.status == 200
    session = h.sessions.get(sid)
    assert session.state is SessionState.PLAYING
    (info,) = parse_rtp_info(answer.headers["RTP-Info"])
    assert info.url == TRACK
    assert info.seq == session.stream.next_seq
    assert info.rtptime == session.stream.next_timestamp
    assert answer.headers["Range"].startswith("npt=0.000-")
    assert isinstance(h.actions[-1], StartStreaming)


def test_play_range_seeks_to_nearest_frame(h):
    sid = h.setup()
    answer = h.send("PLAY", URL, Session=sid, Range="npt=1.01-")
    session = h.sessions.get(sid)
    assert session.stream.position == 25  # 1.01 s at 25 fps: nearest frame 25 (1.000 s)
    assert answer.headers["Range"].startswith("npt=1.000-")
    (info,) = parse_rtp_info(answer.headers["RTP-Info"])
    assert info.rtptime == session.stream.ts_base  # the first packet ever carries the random base


def test_play_range_beyond_end_is_457_and_state_unchanged(h):
    sid = h.setup()
    assert h.send("PLAY", URL, Session=sid, Range="npt=999-").status == 457
    assert h.sessions.get(sid).state is SessionState.READY
    assert h.send("PLAY", URL, Session=sid, Range="smpte=0:10:00-").status == 457


def test_pause_holds_position_and_resume_keeps_the_clock_running(h):
    sid = h.setup()
    h.send("PLAY", URL, Session=sid)
    session = h.sessions.get(sid)
    session.stream.frame_headers([b"x", b"y"], sent_at=100.0)  # as if two frames went out
    session.stream.frame_headers([b"z"], sent_at=100.04)
    last_ts = session.stream.last_timestamp
    h.now = 100.05
    answer = h.send("PAUSE", URL, Session=sid)
    assert answer.status == 200
    assert isinstance(h.actions[-1], StopStreaming)
    assert session.state is SessionState.READY
    seq, position = session.stream.next_seq, session.stream.position
    h.now = 102.04  # resumed 2 s after the last frame
    answer = h.send("PLAY", URL, Session=sid)
    (info,) = parse_rtp_info(answer.headers["RTP-Info"])
    assert position == 2 and info.seq == seq
    assert (info.rtptime - last_ts) % (1 << 32) == 2 * 90000  # RFC 3550 §5.1: linear in time
    assert answer.headers["Range"].startswith("npt=0.080-")
    assert h.actions[-1] == StartStreaming(session, 102.04)


def test_pause_when_ready_is_455(h):
    sid = h.setup()
    assert h.send("PAUSE", URL, Session=sid).status == 455


def test_setup_while_playing_is_455(h):
    sid = h.setup()
    h.send("PLAY", URL, Session=sid)
    assert h.send("SETUP", TRACK, Session=sid, Transport=UDP).status == 455


def test_teardown_removes_session_and_ends_it(h):
    sid = h.setup()
    answer = h.send("TEARDOWN", URL, Session=sid)
    assert answer.status == 200
    assert h.sessions.get(sid) is None
    assert isinstance(h.actions[-1], EndSession)
    assert h.send("PLAY", URL, Session=sid).status == 454


def test_get_parameter_is_keepalive(h):
    sid = h.setup()
    h.now += 50
    assert h.send("GET_PARAMETER", URL, Session=sid).status == 200
    assert h.sessions.get(sid).last_activity == h.now
    assert h.send("GET_PARAMETER", URL).status == 200


@pytest.mark.parametrize("method", ["PLAY", "PAUSE", "TEARDOWN"])
def test_unknown_session_is_454(h, method):
    assert h.send(method, URL, Session="1234567890123456").status == 454


@pytest.mark.parametrize("method", ["PLAY", "PAUSE"])
def test_play_or_pause_before_setup_is_455(h, method):
    # RFC 2326 Appendix A.2: with no session the server is in Init, which takes only SETUP.
    assert h.send(method, URL).status == 455


def test_teardown_without_session_is_454(h):
    # TEARDOWN is listed for Init (Appendix A.2); what is missing is the session id (§11.3.7).
    assert h.send("TEARDOWN", URL).status == 454


def test_session_bound_to_peer_address(media_dir):
    sessions = SessionRegistry(10)
    library = MediaLibrary(media_dir)
    owner = Harness(media_dir, sessions=sessions, library=library)
    sid = owner.setup()
    stranger = Harness(
        media_dir, sessions=sessions, library=library, peer="127.0.0.2", connection_id=2
    )
    assert stranger.send("PLAY", URL, Session=sid).status == 454
    assert stranger.send("TEARDOWN", URL, Session=sid).status == 454
    assert sessions.get(sid) is not None


def test_one_peer_cannot_take_every_session(media_dir):
    sessions = SessionRegistry(10, max_per_peer=2)
    library = MediaLibrary(media_dir)
    greedy = Harness(media_dir, sessions=sessions, library=library)
    first = greedy.setup()
    greedy.setup()
    refused = greedy.send("SETUP", TRACK, Transport=UDP)
    assert refused.status == 453  # RFC 2326 §11.3.11, as when the server is full
    assert PEER in refused.body.decode()
    other = Harness(media_dir, sessions=sessions, library=library, peer="127.0.0.2")
    other.setup()  # another address still has room
    assert greedy.send("TEARDOWN", URL, Session=first).status == 200
    greedy.setup()  # a torn-down session frees its peer's slot


def test_interleaved_sessions_per_connection_are_limited_with_461(media_dir):
    h = Harness(media_dir, max_sessions=200)
    h.handler.options = dataclasses.replace(h.options, max_interleaved_sessions=128)
    for _ in range(128):  # every one of the 256 channel ids
        h.setup("RTP/AVP/TCP;unicast")
    answer = h.send("SETUP", TRACK, Transport="RTP/AVP/TCP;unicast")
    assert answer.status == 461
    assert "--max-interleaved-sessions" in answer.body.decode()


def test_unknown_method_is_501_with_public(h):
    answer = h.send("RECORD", URL)
    assert answer.status == 501
    assert "DESCRIBE" in parse_public(answer.headers["Public"])
    assert h.send("FLY", URL, cseq=9).cseq == 9


def test_required_option_is_551_with_unsupported(h):
    answer = h.send("SETUP", TRACK, Transport=UDP, Require="implicit-play, x-fancy")
    assert answer.status == 551
    assert answer.headers["Unsupported"] == "implicit-play, x-fancy"
    assert len(h.sessions) == 0


def test_wrong_version_is_505(h):
    (answer,) = h.raw(b"OPTIONS * RTSP/2.0\r\nCSeq: 3\r\n\r\n")
    assert answer.status == 505 and answer.cseq == 3


def test_missing_cseq_is_400(h):
    (answer,) = h.raw(b"OPTIONS * RTSP/1.0\r\n\r\n")
    assert answer.status == 400
    (answer,) = h.raw(b"OPTIONS * RTSP/1.0\r\nCSeq: x\r\n\r\n")
    assert answer.status == 400


def test_malformed_request_line_is_400_and_closes(h):
    (answer,) = h.raw(b"\x01\x02 garbage\r\n\r\n")
    assert answer.status == 400
    assert h.closed


def test_oversized_request_is_413_and_closes(h):
    big = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"
    (answer,) = h.raw(big)
    assert answer.status in (400, 413)
    assert answer.cseq == 1  # read from the bytes before the oversized header
    assert h.closed


def test_unknown_media_is_404(h):
    assert h.send("DESCRIBE", f"{BASE}/nothing.Mjpeg").status == 404
    assert h.send("SETUP", f"{BASE}/nothing.Mjpeg/track1", Transport=UDP).status == 404


def test_session_limit_is_453(media_dir):
    h = Harness(media_dir, max_sessions=2)
    h.setup()
    h.setup()
    assert h.send("SETUP", TRACK, Transport=UDP).status == 453
    assert len(h.sessions) == 2


def test_unsupported_jpeg_is_415_with_reason_and_fix(tmp_path, caplog):
    media = tmp_path / "m"
    write_clip(media / "prog.mjpeg", [progressive_jpeg()])
    h = Harness(media)
    for answer in (
        h.send("DESCRIBE", f"{BASE}/prog.mjpeg"),
        h.send("SETUP", f"{BASE}/prog.mjpeg/track1", Transport=UDP),
    ):
        assert answer.status == 415
        text = answer.body.decode()
        assert "frame 0" in text and "rtsp-workbench convert" in text
    assert len(h.sessions) == 0
    assert "rtsp-workbench convert" in caplog.text


def test_connection_close_ends_interleaved_sessions_only(h):
    udp = h.setup()
    tcp = h.setup("RTP/AVP/TCP;unicast;interleaved=0-1")
    actions = h.handler.connection_closed()
    assert [a.session.id for a in actions] == [tcp]
    assert h.sessions.get(tcp) is None
    assert h.sessions.get(udp) is not None


# The lab's dialect: URI without scheme, LF line ends, "RTP/UDP; client_port= 25000", and
# replies read by line position (lines[1] CSeq, lines[2] Session).


def lab_lines(answer: Response) -> list[str]:
    return answer.to_bytes().decode().split("\n")


def test_lab_setup_reply_puts_cseq_then_session_without_timeout(h):
    (answer,) = h.raw(
        b"SETUP clip.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000\n\n"
    )
    lines = lab_lines(answer)
    assert int(lines[0].split(" ")[1]) == 200
    assert int(lines[1].split(" ")[1]) == 1
    session_id = int(lines[2].split(" ")[1])
    assert len(str(session_id)) >= 16
    session = h.sessions.get(str(session_id))
    assert session.lab_dialect and session.stream.next_seq == 1
    assert session.destination.rtp_port == 25000


def test_lab_setup_of_a_clip_with_frames_over_one_datagram_is_refused_415(media_dir):
    big = noise_jpeg((400, 304), 1, quality=95, subsampling=SUB_420)
    assert len(big) > LAB_MAX_FRAME
    write_clip(media_dir / "big.mjpeg", [make_jpeg(400, 304, subsampling=SUB_420), big])
    h = Harness(media_dir)
    (answer,) = h.raw(
        b"SETUP big.mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000\n\n"
    )
    assert answer.status == 415
    assert f"frame 1 of big.mjpeg is {len(big)} bytes" in answer.body.decode()
    assert len(h.sessions) == 0
    # The standard dialect fragments frames (RFC 2435): the same clip plays.
    assert h.send("SETUP", f"{BASE}/big.mjpeg/track1", Transport=UDP).status == 200


def test_lab_play_pause_teardown_replies_keep_line_positions(h):
    (answer,) = h.raw(
        b"SETUP clip.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000\n\n"
    )
    sid = lab_lines(answer)[2].split(" ")[1].strip()
    for cseq, method in enumerate(["PLAY", "PAUSE", "PLAY", "TEARDOWN"], start=2):
        (answer,) = h.raw(
            f"{method} clip.Mjpeg RTSP/1.0\nCSeq: {cseq}\nSession: {sid}\n\n".encode()
        )
        lines = lab_lines(answer)
        assert int(lines[0].split(" ")[1]) == 200, method
        assert int(lines[1].split(" ")[1]) == cseq
        assert int(lines[2].split(" ")[1]) == int(sid)


def test_standard_client_never_gets_lab_form(h):
    answer = h.send("SETUP", TRACK, Transport=UDP)
    assert ";timeout=" in answer.headers["Session"]
    session = h.sessions.get(SessionHeader.parse(answer.headers["Session"]).id)
    assert not session.lab_dialect


def test_lab_session_errors_keep_session_on_the_third_line(h):
    (answer,) = h.raw(
        b"SETUP clip.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000\n\n"
    )
    sid = lab_lines(answer)[2].split(" ")[1].strip()
    (answer,) = h.raw(f"PAUSE clip.Mjpeg RTSP/1.0\nCSeq: 2\nSession: {sid}\n\n".encode())
    lines = lab_lines(answer)
    assert int(lines[0].split(" ")[1]) == 455
    assert int(lines[1].split(" ")[1]) == 2
    assert int(lines[2].split(" ")[1]) == int(sid)


def test_an_internal_error_costs_one_request_only(h, monkeypatch):
    def broken(name):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(h.library, "track", broken)
    answer = h.send("DESCRIBE", URL, cseq=5)
    assert (answer.status, answer.cseq) == (500, 5)
    assert h.send("OPTIONS", "*", cseq=6).status == 200
