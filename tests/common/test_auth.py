"""Digest (RFC 7616) and Basic (RFC 7617): the RFCs' own examples, round trips, bad input."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtsp_common.auth import (
    DigestAlgorithm,
    DigestChallenge,
    DigestCredentials,
    basic_token,
    check_user,
    digest_ha1,
    digest_response,
    format_nc,
    parse_basic,
)
from rtsp_common.auth_headers import Challenge, Credentials
from rtsp_common.errors import ParseError

MD5, SHA256 = DigestAlgorithm.MD5, DigestAlgorithm.SHA256
# RFC 7616 §3.9.1 (the password is "Circle of Life", lower-case "of": erratum 4495)
RFC7616 = {
    "username": "Mufasa",
    "realm": "http-auth@example.org",
    "password": "Circle of Life",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
}


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        (MD5, "8ca523f5e9506fed4657c9700eebdbec"),
        (SHA256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc_7616_example_responses(algorithm, expected):
    ha1 = digest_ha1(algorithm, RFC7616["username"], RFC7616["realm"], RFC7616["password"])
    response = digest_response(
        algorithm, ha1, RFC7616["nonce"], "GET", "/dir/index.html", "auth", 1, RFC7616["cnonce"]
    )
    assert response == expected


def test_rfc_2617_and_rfc_2069_example_responses():
    nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
    ha1 = digest_ha1(MD5, "Mufasa", "testrealm@host.com", "Circle Of Life")
    assert (
        digest_response(MD5, ha1, nonce, "GET", "/dir/index.html", "auth", 1, "0a4f113b")
        == "6629fae49393a05397450978507c4ef1"  # RFC 2617 §3.5
    )
    # RFC 2069 §2.4 (its password has no spaces): the form without qop GStreamer still sends.
    ha1 = digest_ha1(MD5, "Mufasa", "testrealm@host.com", "CircleOfLife")
    assert (
        digest_response(MD5, ha1, nonce, "GET", "/dir/index.html")
        == "1949323746fe6a43ef61f9606e7febea"
    )


def test_sess_and_auth_int_follow_the_rfc_formulas():
    h = lambda text: hashlib.sha256(text.encode()).hexdigest()  # noqa: E731
    ha1 = h("u:r:p")
    session = h(f"{ha1}:n:c")  # RFC 7616 §3.4.2
    a2 = h(f"PLAY:rtsp://h/x:{hashlib.sha256(b'body').hexdigest()}")  # §3.4.3
    expected = h(f"{session}:n:0000000a:c:auth-int:{a2}")
    got = digest_response(
        DigestAlgorithm.SHA256_SESS, ha1, "n", "PLAY", "rtsp://h/x", "auth-int", 10, "c", b"body"
    )
    assert got == expected


def test_rfc_7617_examples():
    assert basic_token("Aladdin", "open sesame") == "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="  # §2
    assert basic_token("test", "123\u00a3") == "dGVzdDoxMjPCow=="  # §2.1, UTF-8
    assert parse_basic(Credentials("Basic", token68="dGVzdDoxMjPCow==")) == ("test", "123\u00a3")
    with pytest.raises(ValueError, match="':'"):
        basic_token("a:b", "c")


@pytest.mark.parametrize(
    "value",
    [
        "Basic bm8gY29sb24=",  # "no colon"
        "Basic YQ",  # bad padding
        "Basic YWJj~ZGVm",  # token68, but not base64
        'Basic realm="x"',  # parameters, not a token68
    ],
)
def test_bad_basic_credentials_raise_parse_error(value):
    with pytest.raises(ParseError):
        parse_basic(Credentials.parse(value))


def test_digest_values_read_from_the_wire():
    challenge = DigestChallenge.from_challenge(
        Challenge.parse_all('Digest realm="r", nonce="n", qop="auth,auth-int", stale=TRUE')[0]
    )
    assert challenge == DigestChallenge("r", "n", MD5, ("auth", "auth-int"), stale=True)
    rfc2069 = DigestChallenge.from_challenge(Challenge.parse_all('Digest realm="r", nonce="n"')[0])
    assert rfc2069.qop == () and rfc2069.algorithm is MD5
    answer = DigestCredentials.from_credentials(
        Credentials.parse(
            'Digest username="u", realm="r", nonce="n", uri="/", response="ab", '
            'algorithm="sha-256", qop="auth", nc=0000000A, cnonce="c"'
        )
    )
    assert (answer.algorithm, answer.nc, answer.qop) == (SHA256, 10, "auth")


@pytest.mark.parametrize(
    "value",
    [
        'Digest realm="r"',  # no nonce
        'Digest nonce="n"',  # no realm
        'Digest realm="r", nonce="n", algorithm=SHA-512-256',  # not computed here
        'Basic realm="r"',
    ],
)
def test_unusable_challenges_raise_parse_error(value):
    with pytest.raises(ParseError):
        DigestChallenge.from_challenge(Challenge.parse_all(value)[0])


@pytest.mark.parametrize(
    "value",
    [
        'Digest realm="r", nonce="n", uri="/", response="x"',  # no username
        'Digest username="u", realm="r", nonce="n", uri="/", response="x", nc=1, qop=auth',
        'Digest username="u", realm="r", nonce="n", uri="/", response="x", qop=auth, '
        'cnonce="c", nc=123456789',
        'Digest username="u", realm="r", nonce="n", uri="/", response="x", nc=zz, cnonce="c"',
    ],
)
def test_malformed_digest_credentials_raise_parse_error(value):
    with pytest.raises(ParseError):
        DigestCredentials.from_credentials(Credentials.parse(value))


def test_names_that_no_header_or_file_can_carry_are_refused():
    check_user("alice")
    for bad in ("", "a:b", "a\r\nb", "tab\there"):
        with pytest.raises(ValueError):
            check_user(bad)
    assert format_nc(255) == "000000ff"
    with pytest.raises(ValueError):
        format_nc(1 << 32)


printable = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_characters="\x7f"),
    min_size=1,
    max_size=16,
)
algorithms = st.sampled_from(list(DigestAlgorithm))
challenges = st.builds(
    DigestChallenge,
    printable,
    printable,
    algorithms,
    st.sampled_from([(), ("auth",), ("auth", "auth-int")]),
    st.booleans(),
    st.none() | printable,
    st.none() | printable,
)


@given(challenges)
def test_digest_challenge_round_trip(challenge):
    (parsed,) = Challenge.parse_all(str(challenge))
    assert DigestChallenge.from_challenge(parsed) == challenge


@given(
    st.builds(
        DigestCredentials,
        printable,
        printable,
        printable,
        printable,
        st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
        algorithms,
        st.just("auth"),
        st.integers(0, 0xFFFFFFFF),
        printable,
        st.none() | printable,
        st.booleans(),
    )
)
def test_digest_credentials_round_trip(credentials):
    parsed = DigestCredentials.from_credentials(Credentials.parse(str(credentials)))
    assert parsed == credentials


@given(printable.filter(lambda u: ":" not in u), st.text(max_size=20))
def test_basic_round_trip(user, password):
    token = basic_token(user, password)
    assert parse_basic(Credentials.parse(f"Basic {token}")) == (user, password)


@given(st.text(max_size=80))
def test_arbitrary_authorization_text_raises_only_parse_error(text):
    try:
        credentials = Credentials.parse(text)
        DigestCredentials.from_credentials(credentials)
    except ParseError:
        pass
    try:
        parse_basic(Credentials.parse(text))
    except ParseError:
        pass
