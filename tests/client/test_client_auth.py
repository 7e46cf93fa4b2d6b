"""The client's authentication, sans I/O: answering 401 once (twice on stale=true), Digest
with an increasing nonce count, the strongest challenge chosen, Basic only when offered
alone, one-line errors, and credentials from the URL."""

from __future__ import annotations

import pytest

from rtsp_client import RTSPClient
from rtsp_client.authentication import Authenticator, UnanswerableChallenge
from rtsp_client.connection import ClientConnection, url_credentials
from rtsp_client.errors import AuthenticationError
from rtsp_client.events import ReplyReceived, RequestRetried
from rtsp_client.options import ClientOptions
from rtsp_common.auth import (
    DigestAlgorithm,
    DigestCredentials,
    digest_ha1,
    digest_response,
    parse_basic,
)
from rtsp_common.auth_headers import Credentials
from rtsp_common.rtsp import MessageParser, Request

URL = "rtsp://127.0.0.1:8554/movie.Mjpeg"
SHA = 'Digest realm="r", nonce="n1", algorithm=SHA-256, qop="auth"'
MD5 = 'Digest realm="r", nonce="n1", algorithm=MD5, qop="auth"'
RFC2069 = 'Digest realm="r", nonce="n1"'


def connection(user: str | None = "alice", password: str | None = "secret") -> ClientConnection:
    options = ClientOptions(user=user, password=password)
    return ClientConnection("127.0.0.1", 8554, "movie.Mjpeg", options)


def unauthorized(cseq: int, *challenges: str) -> bytes:
    fields = "".join(f"WWW-Authenticate: {c}\r\n" for c in challenges)
    return f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n{fields}\r\n".encode()


def ok(cseq: int) -> bytes:
    return f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS\r\n\r\n".encode()


def request_of(data: bytes) -> Request:
    (request,) = MessageParser().feed(data)
    assert isinstance(request, Request)
    return request


def digest_of(data: bytes) -> DigestCredentials:
    request = request_of(data)
    return DigestCredentials.from_credentials(Credentials.parse(request.headers["Authorization"]))


def answers_correctly(data: bytes, password: str = "secret") -> bool:
    """Recompute the response the request carries from its own fields."""
    request = request_of(data)
    answer = digest_of(data)
    ha1 = digest_ha1(answer.algorithm, answer.username, answer.realm, password)
    expected = digest_response(
        answer.algorithm,
        ha1,
        answer.nonce,
        request.method,
        answer.uri,
        answer.qop,
        answer.nc,
        answer.cnonce,
        request.body,
    )
    return answer.uri == request.uri and answer.response == expected


def retried(conn: ClientConnection, cseq: int, *challenges: str) -> RequestRetried:
    (event,) = conn.receive_data(unauthorized(cseq, *challenges))
    assert isinstance(event, RequestRetried), event
    assert event.previous == cseq and event.request.cseq > cseq
    return event


def test_nothing_is_sent_before_the_server_asks():
    conn = connection()
    assert "Authorization" not in request_of(conn.send_request("OPTIONS").data).headers


def test_a_401_is_answered_with_the_strongest_digest_and_the_nonce_reused():
    conn = connection()
    first = conn.send_request("OPTIONS")
    retry = retried(conn, first.cseq, MD5, SHA, 'Basic realm="r"')
    answer = digest_of(retry.request.data)
    assert (answer.algorithm, answer.qop, answer.nc, answer.username) == (
        DigestAlgorithm.SHA256,
        "auth",
        1,
        "alice",
    )
    assert answers_correctly(retry.request.data)
    (reply,) = conn.receive_data(ok(retry.request.cseq))
    assert isinstance(reply, ReplyReceived) and reply.error is None and reply.cseq == 2
    following = conn.send_request("DESCRIBE")  # no 401 round trip: the nonce, one count up
    later = digest_of(following.data)
    assert (later.nonce, later.nc) == ("n1", 2) and later.cnonce != answer.cnonce
    assert answers_correctly(following.data)


def test_an_rfc_2069_server_gets_an_answer_without_qop():
    conn = connection()
    retry = retried(conn, conn.send_request("DESCRIBE").cseq, RFC2069)
    answer = digest_of(retry.request.data)
    assert (answer.qop, answer.nc, answer.cnonce, answer.algorithm) == (
        None,
        None,
        None,
        DigestAlgorithm.MD5,
    )
    assert answers_correctly(retry.request.data)


def test_auth_int_and_sess_are_answered_over_the_body():
    conn = connection()
    first = conn.send_request("SET_PARAMETER", body=b"volume: 5\r\n")
    challenge = 'Digest realm="r", nonce="n", algorithm=MD5-sess, qop="auth-int"'
    retry = retried(conn, first.cseq, challenge)
    assert digest_of(retry.request.data).qop == "auth-int"
    assert request_of(retry.request.data).body == b"volume: 5\r\n"
    assert answers_correctly(retry.request.data)


def test_basic_only_when_nothing_else_is_offered():
    conn = connection()
    retry = retried(conn, conn.send_request("DESCRIBE").cseq, 'Basic realm="r"')
    credentials = Credentials.parse(request_of(retry.request.data).headers["Authorization"])
    assert parse_basic(credentials) == ("alice", "secret")


def test_a_stale_nonce_is_retried_once_more_and_a_refusal_is_one_line():
    conn = connection()
    first = conn.send_request("DESCRIBE")
    retry = retried(conn, first.cseq, SHA)
    stale = SHA.replace("n1", "n2") + ", stale=true"
    second = retried(conn, retry.request.cseq, stale)
    assert (digest_of(second.request.data).nonce, digest_of(second.request.data).nc) == ("n2", 1)
    (refused,) = conn.receive_data(unauthorized(second.request.cseq, stale))
    assert isinstance(refused, ReplyReceived)
    assert isinstance(refused.error, AuthenticationError) and refused.error.status == 401
    assert str(refused.error) == (
        "DESCRIBE failed: 401 Unauthorized: user 'alice' was refused: wrong user name or password"
    )


def test_a_wrong_password_is_tried_once():
    conn = connection()
    retry = retried(conn, conn.send_request("DESCRIBE").cseq, SHA)
    (refused,) = conn.receive_data(unauthorized(retry.request.cseq, SHA.replace("n1", "n3")))
    assert isinstance(refused, ReplyReceived) and "was refused" in str(refused.error)


def test_a_reused_nonce_the_server_forgot_gets_one_fresh_try():
    conn = connection()
    first = conn.send_request("OPTIONS")
    conn.receive_data(ok(retried(conn, first.cseq, SHA).request.cseq))
    later = conn.send_request("DESCRIBE")  # carries the reused nonce
    retry = retried(conn, later.cseq, SHA.replace("n1", "n4"))
    assert digest_of(retry.request.data).nc == 1


def test_without_credentials_the_error_says_how_to_give_them():
    conn = connection(user=None, password=None)
    (refused,) = conn.receive_data(unauthorized(conn.send_request("DESCRIBE").cseq, SHA, MD5))
    assert isinstance(refused, ReplyReceived) and isinstance(refused.error, AuthenticationError)
    message = str(refused.error)
    assert "\n" not in message and "(Digest SHA-256, Digest MD5)" in message
    assert "rtsp://USER:PASSWORD@host/" in message and "--user" in message


@pytest.mark.parametrize(
    ("challenge", "named"),
    [
        ('Digest realm="r", nonce="n", algorithm=SHA-512-256', "SHA-512-256"),
        ('Digest realm="r", nonce="n", qop="auth-conf"', "Digest"),
        ("Negotiate", "Negotiate"),
        ('Digest realm="unterminated', "nothing readable"),
    ],
)
def test_a_challenge_that_cannot_be_answered_is_named(challenge, named):
    conn = connection()
    (refused,) = conn.receive_data(unauthorized(conn.send_request("DESCRIBE").cseq, challenge))
    assert isinstance(refused, ReplyReceived)
    assert "cannot be answered" in str(refused.error) and named in str(refused.error)
    with pytest.raises(UnanswerableChallenge):
        Authenticator("a", "b").adopt([challenge])


def test_url_credentials_are_percent_decoded_and_options_win():
    assert url_credentials("rtsp://al%40ice:p%3Ass%20w@host:554/x") == ("al@ice", "p:ss w")
    assert url_credentials("rtsp://bob@host/x") == ("bob", "")
    assert url_credentials("rtsp://host/x") is None
    client = RTSPClient.from_url("rtsp://al%40ice:pw@127.0.0.1:8554/movie.Mjpeg")
    connection_ = client.core.connection
    assert connection_.auth is not None and connection_.auth.user == "al@ice"
    assert "pw@" not in connection_.url and connection_.url == URL
    given = RTSPClient.from_url(
        "rtsp://al%40ice:pw@127.0.0.1:8554/x", ClientOptions(user="bob", password="b")
    )
    assert given.core.connection.auth is not None and given.core.connection.auth.user == "bob"
    lab_api = RTSPClient("127.0.0.1", 8554, 0, "movie.Mjpeg", user="carol", password="c")
    assert lab_api.core.connection.auth is not None and lab_api.core.connection.auth.user == "carol"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"password": "x"}, "needs a user name"),
        ({"user": "a:b", "password": "x"}, "user name"),
        ({"user": "a\r\nInjected: 1", "password": "x"}, "control"),
        ({"user": "a", "password": "x", "dialect": "lab"}, "no authentication"),
    ],
)
def test_options_refuse_credentials_that_cannot_be_sent(options, message):
    with pytest.raises(ValueError, match=message):
        ClientOptions(**options)
    assert "secret" not in repr(ClientOptions(user="a", password="secret"))
