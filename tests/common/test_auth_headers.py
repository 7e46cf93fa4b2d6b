"""The WWW-Authenticate / Authorization grammar (RFC 7235): real forms, round trips, bad text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtsp_common.auth_headers import Challenge, Credentials
from rtsp_common.errors import ParseError

TOKEN_ALPHABET = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TOKEN68_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"

# What ffmpeg 5.1 sends (algorithm and qop quoted, which RFC 7616 writes bare).
FFMPEG = (
    'Digest username="u", realm="r", nonce="abc", uri="rtsp://127.0.0.1:18554/x", '
    'response="f7768d3ec40666898d3a758487762c10", algorithm="MD5", qop="auth", '
    'cnonce="b6b5565aa9fa666a", nc=00000001'
)
# What GStreamer 1.22's rtspsrc sends: RFC 2069's form, no qop, no algorithm.
GSTREAMER = (
    'Digest username="u", realm="r", nonce="abc", uri="rtsp://127.0.0.1:18554/x", '
    'response="f3b44e591d7f778f0ed5ba527300f740"'
)


def test_several_challenges_in_one_value_with_token68_and_escapes():
    value = (
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",Basic realm="a \\"b\\"",'
        " Negotiate, Bearer dXNlcjpwYXM="
    )
    challenges = Challenge.parse_all(value)
    assert [c.scheme for c in challenges] == ["Digest", "Basic", "Negotiate", "Bearer"]
    assert challenges[0].get("QOP") == "auth, auth-int"
    assert challenges[0].get("algorithm") == "SHA-256"
    assert challenges[1].get("realm") == 'a "b"'
    assert challenges[2].params == () and challenges[2].token68 is None
    assert challenges[3].token68 == "dXNlcjpwYXM="
    assert challenges[0].is_scheme("DIGEST") and not challenges[0].is_scheme("Basic")


def test_what_ffmpeg_and_gstreamer_send_is_read():
    ffmpeg = Credentials.parse(FFMPEG)
    assert ffmpeg.get("algorithm") == "MD5" and ffmpeg.get("nc") == "00000001"
    gstreamer = Credentials.parse(GSTREAMER)
    assert gstreamer.get("qop") is None and gstreamer.get("uri") == "rtsp://127.0.0.1:18554/x"


def test_quoting_follows_rfc_7616():
    credentials = Credentials.parse(FFMPEG)
    text = str(credentials)
    assert "algorithm=MD5," in text and "qop=auth," in text and "nc=00000001" in text
    assert 'username="u"' in text and 'uri="rtsp://127.0.0.1:18554/x"' in text
    challenge = Challenge("Digest", (("realm", "r"), ("qop", "auth"), ("stale", "true")))
    assert str(challenge) == 'Digest realm="r", qop="auth", stale=true'


@pytest.mark.parametrize(
    "value",
    [
        "",
        " , ,",
        'Digest realm="unterminated',
        "Digest =x",
        "Basic a b",
        'Digest realm="a\x01b"',
        "Digest realm=x y",
        '"Digest" realm=x',
        "Basic\tdXNl\x00",
        "Digest " + ", ".join(f"p{i}=1" for i in range(40)),
    ],
)
def test_malformed_values_raise_parse_error(value):
    with pytest.raises(ParseError):
        Challenge.parse_all(value)


def test_credentials_are_exactly_one_scheme():
    with pytest.raises(ParseError, match="one auth-scheme"):
        Credentials.parse('Digest username="a", Basic abc=')
    with pytest.raises(ParseError):
        Credentials.parse("")


def test_values_that_a_header_cannot_carry_are_refused_when_written():
    with pytest.raises(ValueError):
        Challenge("Digest", (("realm", "a\r\nInjected: yes"),))
    with pytest.raises(ValueError):
        Challenge("Not a token", ())
    with pytest.raises(ValueError):
        Credentials("Basic", (("realm", "x"),), token68="abc")


tokens = st.text(TOKEN_ALPHABET, min_size=1, max_size=10)
# Any printable text, quotes and backslashes included, as a quoted-string can hold it.
values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_characters="\x7f"),
    max_size=20,
)
params = st.lists(st.tuples(tokens.map(str.lower), values), max_size=6)
schemes = st.builds(Challenge, tokens, params.map(tuple)) | st.builds(
    Challenge,
    tokens,
    st.just(()),
    st.from_regex(r"[A-Za-z0-9\-._~+/]+=*", fullmatch=True),
)


@given(st.lists(schemes, min_size=1, max_size=4))
def test_challenges_round_trip(challenges):
    text = ", ".join(str(c) for c in challenges)
    assert Challenge.parse_all(text) == challenges


@given(tokens, params.map(tuple))
def test_credentials_round_trip(scheme, pairs):
    credentials = Credentials(scheme, pairs)
    assert Credentials.parse(str(credentials)) == credentials


@given(st.text(max_size=120))
def test_arbitrary_text_raises_only_parse_error(text):
    for parse in (Challenge.parse_all, Credentials.parse):
        try:
            parse(text)
        except ParseError:
            pass
