"""SDP for one MJPEG track (RFC 4566): round trips, what real servers write, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtsp_common.errors import ParseError
from rtsp_common.sdp import SessionDescription

# Written by GStreamer 1.22's rtsp-server for "videotestsrc ! jpegenc ! rtpjpegpay" (a DESCRIBE body).
GSTREAMER_SDP = (
    "v=0\r\n"
    "o=- 7288873699970896223 1 IN IP4 127.0.0.1\r\n"
    "s=Session streamed with GStreamer\r\n"
    "i=rtsp-server\r\n"
    "t=0 0\r\n"
    "a=tool:GStreamer\r\n"
    "a=type:broadcast\r\n"
    "a=control:*\r\n"
    "a=range:npt=now-\r\n"
    "m=video 0 RTP/AVP 26\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:26 JPEG/90000\r\n"
    "a=framerate:10.000000\r\n"
    "a=control:stream=0\r\n"
    "a=ts-refclk:local\r\n"
    "a=mediaclk:sender\r\n"
    "a=ssrc:1469077880 cname:user4179844646@host-28bef981\r\n"
)

# Written by ffmpeg 5.1 (`-f rtp -sdp_file`) for an MJPEG stream: static type 26, no rtpmap.
FFMPEG_SDP = (
    "v=0\n"
    "o=- 0 0 IN IP4 127.0.0.1\n"
    "s=No Name\n"
    "c=IN IP4 127.0.0.1\n"
    "t=0 0\n"
    "a=tool:libavformat LIBAVFORMAT_VERSION\n"
    "m=video 5004 RTP/AVP 26\n"
    "b=AS:200\n"
)


def test_build_matches_the_contracted_lines() -> None:
    text = SessionDescription(
        session_id=42, framerate=20, duration=12.0, width=640, height=480
    ).to_text()
    assert text == (
        "v=0\r\n"
        "o=- 42 42 IN IP4 127.0.0.1\r\n"
        "s=rtsp-workbench\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "t=0 0\r\n"
        "a=control:*\r\n"
        "a=range:npt=0-12\r\n"
        "m=video 0 RTP/AVP 26\r\n"
        "a=rtpmap:26 JPEG/90000\r\n"
        "a=control:track1\r\n"
        "a=framerate:20\r\n"
        "a=x-dimensions:640,480\r\n"
    )


names = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs"), blacklist_characters="\x85"),
    max_size=30,
)
controls = st.sampled_from(
    ["", "*", "track1", "stream=0", "rtsp://127.0.0.1:8554/movie.Mjpeg/track1"]
)
millis = st.integers(1, 10**7).map(lambda n: n / 1000)

descriptions = st.builds(
    SessionDescription,
    session_name=names,
    origin_address=st.sampled_from(["127.0.0.1", "192.168.1.20", "::1"]),
    session_id=st.integers(0, 2**63),
    connection_address=st.sampled_from(["0.0.0.0", "127.0.0.1", "::"]),
    control=controls,
    track_control=controls,
    payload_type=st.sampled_from([26, 96, 127]),
    encoding=st.sampled_from(["JPEG", "H264"]),
    clock_rate=st.sampled_from([90000, 8000]),
    framerate=st.none() | millis,
    duration=st.none() | millis | st.just(0.0),
    width=st.none() | st.integers(1, 4096),
    height=st.none() | st.integers(1, 4096),
).filter(lambda d: (d.width is None) == (d.height is None))


@given(descriptions)
def test_round_trip(description: SessionDescription) -> None:
    assert SessionDescription.parse(description.to_text()) == description


def test_gstreamer_description() -> None:
    sdp = SessionDescription.parse(GSTREAMER_SDP)
    assert sdp.session_id == 7288873699970896223
    assert sdp.session_name == "Session streamed with GStreamer"
    assert (sdp.control, sdp.track_control) == ("*", "stream=0")
    assert (sdp.payload_type, sdp.encoding, sdp.clock_rate) == (26, "JPEG", 90000)
    assert sdp.framerate == 10.0
    assert sdp.duration is None  # npt=now-: live
    assert sdp.connection_address == "0.0.0.0"  # from the media section
    assert sdp.width is None and sdp.height is None


def test_ffmpeg_description_with_static_payload_type() -> None:
    sdp = SessionDescription.parse(FFMPEG_SDP)
    assert (sdp.payload_type, sdp.encoding, sdp.clock_rate) == (26, "JPEG", 90000)
    assert sdp.session_name == "No Name" and sdp.connection_address == "127.0.0.1"
    assert (sdp.control, sdp.track_control) == ("", "")


def test_first_video_section_is_taken_and_others_ignored() -> None:
    text = (
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=two tracks\r\nt=0 0\r\n"
        "a=range:npt=0-596.48\r\n"
        "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/44100/2\r\na=control:audio\r\n"
        "a=x-dimensions:1,1\r\n"
        "m=video 0 RTP/AVP 96 26\r\nc=IN IP4 224.2.1.1/127\r\na=rtpmap:96 JPEG/90000\r\n"
        "a=control:rtsp://10.0.0.1/movie/trackID=1\r\na=cliprect:0,0,480,640\r\n"
        "a=framesize:96 640-480\r\n"
        "m=video 0 RTP/AVP 26\r\na=control:second\r\na=framerate:99\r\n"
    )
    sdp = SessionDescription.parse(text)
    assert sdp.payload_type == 96
    assert sdp.track_control == "rtsp://10.0.0.1/movie/trackID=1"
    assert sdp.duration == 596.48
    assert (sdp.width, sdp.height) == (640, 480)
    assert sdp.framerate is None
    assert sdp.connection_address == "224.2.1.1"


def test_malformed_optional_attributes_are_ignored() -> None:
    text = (
        "v=0\r\ns=x\r\nm=video 0 RTP/AVP 26\r\na=framerate:fast\r\na=x-dimensions:wide\r\n"
        "a=rtpmap:junk\r\na=range:clock=19961108T142300Z-\r\n"
    )
    sdp = SessionDescription.parse(text)
    assert (sdp.framerate, sdp.width, sdp.duration, sdp.encoding) == (None, None, None, "JPEG")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "not an SDP"),
        ("hello\r\n", "not an SDP"),
        ("v=1\r\n", "unsupported SDP version"),
        ("v=0\r\ns=x\r\n", "no video media"),
        ("v=0\r\nm=audio 0 RTP/AVP 0\r\n", "no video media"),
        ("v=0\r\nthis is not sdp\r\n", "malformed SDP line"),
        ("v=0\r\nm=video 0 RTP/AVP 96\r\n", "no a=rtpmap"),
        ("v=0\r\nm=video 0 RTP/AVP 300\r\n", "payload type"),
        ("v=0\r\nm=video 0 RTP/AVP x\r\n", "payload type"),
    ],
)
def test_bad_descriptions(text: str, fragment: str) -> None:
    with pytest.raises(ParseError, match=fragment):
        SessionDescription.parse(text)


@pytest.mark.parametrize("inside", ["\r", "\0"])
def test_a_nul_or_cr_inside_a_line_is_refused(inside: str) -> None:
    # RFC 4566 §5: no field may hold NUL, CR or LF; what was read must be writable again.
    text = f"v=0\r\nm=video 0 RTP/AVP 26\r\na=control:track{inside}1\r\n"
    with pytest.raises(ParseError, match="inside a line"):
        SessionDescription.parse(text)


def test_line_breaks_in_fields_are_refused() -> None:
    with pytest.raises(ValueError):
        SessionDescription(session_name="a\r\nm=audio 0 RTP/AVP 0").to_text()


@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_parse_error(text: str) -> None:
    try:
        SessionDescription.parse(text)
    except ParseError:
        pass


@given(
    st.lists(
        st.sampled_from(
            [
                "v=0",
                "m=video 0 RTP/AVP 26",
                "m=video",
                "a=rtpmap:26",
                "a=rtpmap:26 JPEG/",
                "a=range:npt=",
                "a=x-dimensions:1,",
                "o=- x",
                "c=IN",
                "a=control",
                "a=framerate:0",
                "o=- 99999999999999999999999 1 IN IP4 h",
                "m=video 0 RTP/AVP",
            ]
        ),
        max_size=12,
    )
)
def test_sdp_like_lines_raise_only_parse_error(lines: list[str]) -> None:
    try:
        SessionDescription.parse("\r\n".join(lines))
    except ParseError:
        pass


# What GStreamer's rtph264pay announces, with an audio track (and its own fmtp) after it.
GSTREAMER_H264 = (
    "v=0\r\no=- 1188340656180883 1 IN IP4 127.0.0.1\r\ns=Session streamed with GStreamer\r\n"
    "t=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z2QADKzZQUH7ARAAAAMAEAAAAwMo8UKZYA==,"
    "aOvjyyLA;profile-level-id=64000c;level-asymmetry-allowed=1\r\n"
    "a=control:stream=0\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=fmtp:0 foo=bar\r\na=control:stream=1\r\n"
)


def test_fmtp_of_the_video_track_is_read_and_written_back():
    description = SessionDescription.parse(GSTREAMER_H264)
    assert description.encoding == "H264" and description.track_control == "stream=0"
    params = description.format_parameters
    assert params["packetization-mode"] == "1"
    assert params["sprop-parameter-sets"].endswith("==,aOvjyyLA")  # base64 '=' kept
    assert params["profile-level-id"] == "64000c" and "foo" not in params
    assert SessionDescription.parse(description.to_text()) == description


def test_fmtp_names_are_case_insensitive_and_odd_items_tolerated():
    text = GSTREAMER_H264.replace("packetization-mode=1", "Packetization-Mode=1;;flag")
    params = SessionDescription.parse(text).format_parameters
    assert params["packetization-mode"] == "1" and params["flag"] == ""
