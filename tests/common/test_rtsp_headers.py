"""Typed RTSP header values (RFC 2326 §12): round trips, real-world forms, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtsp_common.errors import ParseError
from rtsp_common.headers import (
    NPTRange,
    RTPInfo,
    Session,
    Transport,
    format_public,
    format_rtp_info,
    parse_content_length,
    parse_cseq,
    parse_public,
    parse_rtp_info,
    parse_transports,
)

TOKEN_ALPHABET = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SAFE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-_:/"
KNOWN_TRANSPORT_PARAMS = {
    "unicast",
    "multicast",
    "client_port",
    "server_port",
    "interleaved",
    "ssrc",
    "destination",
    "source",
    "mode",
}

# ---------------------------------------------------------------- CSeq, Content-Length


def test_parse_cseq() -> None:
    assert parse_cseq("1") == 1
    assert parse_cseq(" 42 ") == 42
    for junk in ("", "x", "-1", "1.5", "１", "12345678901", "1 2"):
        with pytest.raises(ParseError, match="CSeq"):
            parse_cseq(junk)


@given(st.integers(0, 9_999_999_999))
def test_cseq_round_trip(n: int) -> None:
    assert parse_cseq(str(n)) == n


def test_parse_content_length() -> None:
    assert parse_content_length("0") == 0 and parse_content_length(" 12") == 12
    with pytest.raises(ParseError, match="Content-Length"):
        parse_content_length("-3")


# ---------------------------------------------------------------- Session

session_ids = st.text(SAFE_ALPHABET.replace(":", "") + "$", min_size=1, max_size=20)


@given(st.builds(Session, session_ids, st.none() | st.integers(0, 10**6)))
def test_session_round_trip(session: Session) -> None:
    assert Session.parse(str(session)) == session


def test_session_forms() -> None:
    assert Session.parse("12345678;timeout=60") == Session("12345678", 60)
    assert str(Session("12345678", 60)) == "12345678;timeout=60"
    assert Session.parse(" 123456 ") == Session("123456")
    assert Session.parse("abc; timeout = 30; other=1") == Session("abc", 30)
    for junk in ("", ";timeout=60", "a b", "abc;timeout=x", "abc;timeout"):
        with pytest.raises(ParseError, match="Session"):
            Session.parse(junk)


# ---------------------------------------------------------------- Transport

ports = st.tuples(st.integers(0, 65535), st.integers(0, 65535))
channels = st.tuples(st.integers(0, 255), st.integers(0, 255))
addresses = st.text(SAFE_ALPHABET, min_size=1, max_size=20)
param_names = st.text(TOKEN_ALPHABET, min_size=1, max_size=10).filter(
    lambda n: n.lower() not in KNOWN_TRANSPORT_PARAMS
)
param_values = st.none() | st.text(SAFE_ALPHABET, max_size=10)

transports = st.builds(
    Transport,
    protocol=st.sampled_from(["RTP/AVP", "RTP/AVP/UDP", "RTP/AVP/TCP", "RTP/UDP", "RTP/SAVP"]),
    unicast=st.booleans(),
    client_port=st.none() | ports,
    server_port=st.none() | ports,
    interleaved=st.none() | channels,
    ssrc=st.none() | st.integers(0, 2**32 - 1),
    destination=st.none() | addresses,
    source=st.none() | addresses,
    mode=st.none() | st.sampled_from(["PLAY", "RECORD", "play"]),
    params=st.lists(st.tuples(param_names, param_values), max_size=3).map(tuple),
)


@given(transports)
def test_transport_round_trip(transport: Transport) -> None:
    assert Transport.parse(str(transport)) == transport


@given(st.lists(transports, min_size=1, max_size=3))
def test_transport_alternatives_round_trip(alternatives: list[Transport]) -> None:
    assert parse_transports(",".join(str(t) for t in alternatives)) == alternatives


def test_lab_client_transport() -> None:
    transport = Transport.parse("RTP/UDP; client_port= 25000")
    assert transport.protocol == "RTP/UDP" and transport.is_lab_form
    assert transport.client_port == (25000, 25001)
    assert transport.unicast and not transport.is_tcp


def test_unicast_udp_transport_from_a_server() -> None:
    transport = Transport.parse(
        "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=0A1B2C3D;mode=play"
    )
    assert transport.client_port == (5000, 5001)
    assert transport.server_port == (6970, 6971)
    assert transport.ssrc == 0x0A1B2C3D
    assert transport.mode == "play"
    assert str(transport) == (
        'RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=0A1B2C3D;mode="play"'
    )


def test_tcp_interleaved_transport() -> None:
    transport = Transport.parse("RTP/AVP/TCP;unicast;interleaved=0-1")
    assert transport.is_tcp and transport.interleaved == (0, 1)
    assert Transport.parse("RTP/AVP/TCP;interleaved=2").interleaved == (2, 3)


def test_destination_source_multicast_and_unknown_params() -> None:
    transport = Transport.parse(
        'RTP/AVP;multicast;destination=224.2.0.1;source=10.0.0.1;ttl=16;append;mode="PLAY"'
    )
    assert not transport.unicast
    assert transport.destination == "224.2.0.1" and transport.source == "10.0.0.1"
    assert transport.params == (("ttl", "16"), ("append", None))
    assert transport.mode == "PLAY"
    assert "ttl=16;append" in str(transport)
    assert Transport.parse("RTP/AVP;unicast;destination").destination == ""


def test_transport_alternatives_from_a_client() -> None:
    # ffmpeg and GStreamer offer several transports in preference order
    alternatives = parse_transports(
        "RTP/AVP/TCP;unicast;interleaved=0-1, RTP/AVP;unicast;client_port=5000-5001"
    )
    assert [t.is_tcp for t in alternatives] == [True, False]
    assert parse_transports('RTP/AVP;mode="PLAY,RECORD"')[0].mode == "PLAY,RECORD"


def test_short_ssrc_is_accepted() -> None:
    assert Transport.parse("RTP/AVP;ssrc=1A2B").ssrc == 0x1A2B


@pytest.mark.parametrize(
    "text",
    [
        "",
        "RTP",
        "RTP AVP;unicast",
        "RTP/AVP;client_port=abc",
        "RTP/AVP;client_port=70000",
        "RTP/AVP;client_port=65535",  # the RTCP port would be 65536
        "RTP/AVP;client_port",
        "RTP/AVP;interleaved=256",
        "RTP/AVP;ssrc=123456789",
        "RTP/AVP;ssrc=xyz",
        'RTP/AVP;mode="PLAY',
        "RTP/AVP;bad param=1",
    ],
)
def test_bad_transports(text: str) -> None:
    with pytest.raises(ParseError):
        parse_transports(text)


# ---------------------------------------------------------------- Range

millis = st.integers(0, 10**9).map(lambda n: n / 1000)


@given(st.none() | millis, st.none() | millis)
def test_npt_range_round_trip(start: float | None, end: float | None) -> None:
    if start is not None and end is not None and end < start:
        start, end = end, start
    npt = NPTRange(start, end)
    assert NPTRange.parse(str(npt)) == npt


def test_npt_range_forms() -> None:
    assert NPTRange.parse("npt=10.5-") == NPTRange(10.5, None)
    assert NPTRange.parse("npt=0-20") == NPTRange(0.0, 20.0)
    assert NPTRange.parse("npt=now-") == NPTRange(None, None)
    assert NPTRange.parse("npt=-20") == NPTRange(0.0, 20.0)
    assert NPTRange.parse("npt = 1:02:03.5-") == NPTRange(3723.5, None)
    assert NPTRange.parse("npt=5-;time=19970123T143720Z") == NPTRange(5.0, None)
    assert str(NPTRange(10.5)) == "npt=10.500-"
    assert str(NPTRange(0, 20)) == "npt=0.000-20.000"
    assert str(NPTRange(None)) == "npt=now-"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "npt=",
        "npt=-",
        "npt=abc-",
        "npt=5",
        "smpte=0:10:00-",
        "npt=10-5",
        "npt=1e5-",
        "npt=inf-",
        "npt=1:2-",
        "npt=" + "9" * 5000 + "-",
    ],
)
def test_bad_ranges_are_457(text: str) -> None:
    with pytest.raises(ParseError) as info:
        NPTRange.parse(text)
    assert info.value.status == 457


# ---------------------------------------------------------------- RTP-Info

rtp_infos = st.builds(
    RTPInfo,
    st.text(SAFE_ALPHABET, min_size=1, max_size=30).map(lambda s: "rtsp://h/" + s),
    st.none() | st.integers(0, 65535),
    st.none() | st.integers(0, 2**32 - 1),
)


@given(st.lists(rtp_infos, min_size=1, max_size=3))
def test_rtp_info_round_trip(entries: list[RTPInfo]) -> None:
    assert parse_rtp_info(format_rtp_info(entries)) == entries


def test_rtp_info_from_a_server() -> None:
    text = (
        "url=rtsp://127.0.0.1:8554/test/stream=0;seq=17015;rtptime=1920393846, url=rtsp://h/a;seq=1"
    )
    assert parse_rtp_info(text) == [
        RTPInfo("rtsp://127.0.0.1:8554/test/stream=0", 17015, 1920393846),
        RTPInfo("rtsp://h/a", 1, None),
    ]


@pytest.mark.parametrize(
    "text",
    ["", "seq=1", "url=;seq=1", "url=x;seq=70000", "url=x;rtptime=-1", "url=x;seq=" + "1" * 50],
)
def test_bad_rtp_info(text: str) -> None:
    with pytest.raises(ParseError, match="RTP-Info"):
        parse_rtp_info(text)


# ---------------------------------------------------------------- Public


@given(st.lists(st.text(TOKEN_ALPHABET, min_size=1, max_size=12), max_size=8))
def test_public_round_trip(methods: list[str]) -> None:
    assert parse_public(format_public(methods)) == methods


def test_public_forms() -> None:
    assert parse_public("OPTIONS, DESCRIBE,SETUP ,PLAY") == ["OPTIONS", "DESCRIBE", "SETUP", "PLAY"]
    with pytest.raises(ParseError, match="Public"):
        parse_public("OPTIONS, GET PARAMETER")


# ---------------------------------------------------------------- arbitrary text


@given(st.text(max_size=80))
def test_arbitrary_text_raises_only_parse_error(text: str) -> None:
    for parse in (
        parse_cseq,
        Session.parse,
        parse_transports,
        NPTRange.parse,
        parse_rtp_info,
        parse_public,
        parse_content_length,
    ):
        try:
            parse(text)
        except ParseError:
            pass
