"""Access control in the request handler, with bytes only: 401 and its challenges, Digest
(SHA-256, MD5, RFC 2069's form), Basic only when asked, nonces that expire or are replayed,
sessions bound to their user, and refusals that say nothing about users or files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from server_harness import request_handler

from rtsp_common.auth import (
    DigestAlgorithm,
    DigestChallenge,
    DigestCredentials,
    basic_token,
    digest_ha1,
    digest_response,
)
from rtsp_common.auth_headers import Challenge
from rtsp_common.headers import Session as SessionHeader
from rtsp_common.rtsp import MessageParser, Request, Response
from rtsp_server import access as access_module
from rtsp_server.access import AccessControl
from rtsp_server.actions import StartStreaming
from rtsp_server.handler import RequestHandler
from rtsp_server.media import MediaLibrary
from rtsp_server.options import ServerOptions
from rtsp_server.session import SessionRegistry

PEER = "127.0.0.1"
URL = "rtsp://127.0.0.1:8554/clip.Mjpeg"
TRACK = f"{URL}/track1"
UDP = "RTP/AVP;unicast;client_port=5000-5001"
REALM = "rtsp-workbench"
USERS = {"alice": "wonderland", "bob": "builder"}
LIFETIME = 30.0


class Server:
    """One server's shared state (library, sessions, access control) and its clock."""

    def __init__(self, media: Path, **options) -> None:
        auth = [f"{user}:{password}" for user, password in USERS.items()]
        self.options = ServerOptions(media=media, auth=auth, nonce_lifetime=LIFETIME, **options)
        self.library = MediaLibrary(media)
        self.sessions = SessionRegistry(10)
        self.access = AccessControl.from_options(self.options)
        self.now = 100.0

    def connection(self, peer: str = PEER, connection_id: int = 1) -> Client:
        handler = request_handler(
            self.options, self.library, self.sessions, connection_id, peer, self.access
        )
        return Client(self, handler)


class Client:
    """A peer on one connection, writing requests and answering challenges by hand."""

    def __init__(self, server: Server, handler: RequestHandler) -> None:
        self.server = server
        self.handler = handler
        self.actions: list = []
        self.cseq = 0

    def send(self, method: str, url: str = URL, *headers: tuple[str, str]) -> Response:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{name}: {value}" for name, value in headers]
        (request,) = MessageParser().feed(("\r\n".join(lines) + "\r\n\r\n").encode())
        assert isinstance(request, Request)
        result = self.handler.handle(request, self.server.now)
        self.actions += result.actions
        (response,) = MessageParser().feed(result.response.to_bytes())
        assert isinstance(response, Response)
        return response


def challenges(response: Response) -> list[DigestChallenge | Challenge]:
    found: list[DigestChallenge | Challenge] = []
    for value in response.headers.get_all("WWW-Authenticate"):
        for challenge in Challenge.parse_all(value):
            is_digest = challenge.is_scheme("Digest")
            found.append(DigestChallenge.from_challenge(challenge) if is_digest else challenge)
    return found


def nonce_of(response: Response) -> str:
    first = challenges(response)[0]
    assert isinstance(first, DigestChallenge)
    return first.nonce


def digest(
    user: str,
    password: str,
    nonce: str,
    method: str,
    uri: str = URL,
    algorithm: DigestAlgorithm = DigestAlgorithm.SHA256,
    nc: int | None = 1,
    realm: str = REALM,
) -> tuple[str, str]:
    """An Authorization header answering ``nonce`` (without qop when ``nc`` is None)."""
    qop, cnonce = ("auth", "0a4f113b") if nc is not None else (None, None)
    ha1 = digest_ha1(algorithm, user, realm, password)
    response = digest_response(algorithm, ha1, nonce, method, uri, qop, nc, cnonce)
    answer = DigestCredentials(user, realm, nonce, uri, response, algorithm, qop, nc, cnonce)
    return ("Authorization", str(answer))


def challenged(client: Client, method: str = "DESCRIBE", url: str = URL) -> str:
    """Send without credentials, expect 401, return the nonce offered."""
    response = client.send(method, url)
    assert response.status == 401, response
    return nonce_of(response)


@pytest.fixture
def server(media_dir: Path) -> Server:
    return Server(media_dir)


def test_without_users_every_request_is_served_as_in_the_lab(media_dir):
    options = ServerOptions(media=media_dir)
    assert AccessControl.from_options(options) is None
    handler = request_handler(options, MediaLibrary(media_dir), SessionRegistry(4))
    client = Client(Server(media_dir), handler)
    assert client.send("DESCRIBE").status == 200


def test_no_credentials_get_401_with_sha256_then_md5_digest_and_no_basic(server):
    response = server.connection().send("DESCRIBE", URL, ("Accept", "application/sdp"))
    assert (response.status, response.cseq, response.body) == (401, 1, b"")
    offered = challenges(response)
    assert [c.algorithm for c in offered] == [DigestAlgorithm.SHA256, DigestAlgorithm.MD5]
    assert {(c.realm, c.nonce, c.qop, c.stale) for c in offered} == {
        (REALM, offered[0].nonce, ("auth",), False)
    }
    assert len(offered[0].nonce) >= 32  # RFC 7616 §5.4: unpredictable


@pytest.mark.parametrize(
    ("algorithm", "nc"),
    [(DigestAlgorithm.SHA256, 1), (DigestAlgorithm.MD5, 1), (DigestAlgorithm.MD5, None)],
    ids=["sha256", "md5", "rfc2069"],
)
def test_a_right_digest_answer_is_granted(server, algorithm, nc):
    client = server.connection()
    nonce = challenged(client)
    answer = digest("alice", USERS["alice"], nonce, "DESCRIBE", algorithm=algorithm, nc=nc)
    response = client.send("DESCRIBE", URL, answer)
    assert response.status == 200 and response.headers["Content-Type"] == "application/sdp"


def test_without_legacy_digest_an_answer_without_qop_is_refused(media_dir):
    client = Server(media_dir, auth_legacy_digest=False).connection()
    nonce = challenged(client)
    answer = digest(
        "alice", USERS["alice"], nonce, "DESCRIBE", algorithm=DigestAlgorithm.MD5, nc=None
    )
    assert client.send("DESCRIBE", URL, answer).status == 401


def test_refusals_say_nothing_about_users_or_files(server):
    """An unknown user, a wrong password, an absent file: the same 401 but for the nonce."""
    client = server.connection()

    def refusal(user: str, password: str, url: str) -> tuple:
        nonce = challenged(client, "DESCRIBE", url)
        response = client.send("DESCRIBE", url, digest(user, password, nonce, "DESCRIBE", url))
        text = response.to_bytes().decode().replace(nonce_of(response), "NONCE")
        return response.status, re.sub(r"CSeq: \d+", "CSeq: N", text)

    unknown_user = refusal("mallory", USERS["alice"], URL)
    wrong_password = refusal("alice", "guess", URL)
    absent_file = refusal("mallory", "guess", f"{URL}.absent")
    assert unknown_user[0] == 401
    assert unknown_user == wrong_password == absent_file


def test_secrets_are_compared_in_constant_time(server, monkeypatch):
    compared = []

    def spy(a, b):
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(access_module.hmac, "compare_digest", spy)
    client = server.connection()
    for user, password in (("alice", USERS["alice"]), ("alice", "x"), ("nobody", "x")):
        nonce = challenged(client)
        client.send("DESCRIBE", URL, digest(user, password, nonce, "DESCRIBE"))
    assert len(compared) == 3


def test_the_nonce_count_must_grow(server):
    client = server.connection()
    nonce = challenged(client)
    first = digest("alice", USERS["alice"], nonce, "DESCRIBE", nc=1)
    assert client.send("DESCRIBE", URL, first).status == 200
    replayed = client.send("DESCRIBE", URL, first)
    assert replayed.status == 401
    assert not any(c.stale for c in challenges(replayed))  # a replay is no stale nonce
    assert (
        client.send(
            "DESCRIBE", URL, digest("alice", USERS["alice"], nonce, "DESCRIBE", nc=2)
        ).status
        == 200
    )


def test_an_expired_nonce_is_stale_only_for_the_right_password(server):
    client = server.connection()
    nonce = challenged(client)
    server.now += LIFETIME + 1
    stale = client.send("DESCRIBE", URL, digest("alice", USERS["alice"], nonce, "DESCRIBE"))
    assert stale.status == 401
    assert all(c.stale for c in challenges(stale)) and nonce_of(stale) != nonce
    wrong = client.send("DESCRIBE", URL, digest("alice", "guess", nonce, "DESCRIBE"))
    assert not any(c.stale for c in challenges(wrong))
    fresh = nonce_of(stale)
    assert (
        client.send("DESCRIBE", URL, digest("alice", USERS["alice"], fresh, "DESCRIBE")).status
        == 200
    )


def test_a_nonce_is_good_only_from_where_it_was_sent_and_only_if_ours(server):
    nonce = challenged(server.connection(PEER))
    other = server.connection("127.0.0.2", connection_id=2)
    answer = digest("alice", USERS["alice"], nonce, "DESCRIBE")
    assert other.send("DESCRIBE", URL, answer).status == 401
    forged = digest("alice", USERS["alice"], "made-up-nonce", "DESCRIBE")
    response = server.connection().send("DESCRIBE", URL, forged)
    assert response.status == 401 and all(c.stale for c in challenges(response))


@pytest.mark.parametrize(
    "change",
    [
        {"uri": "rtsp://127.0.0.1:8554/other.Mjpeg"},  # RFC 7616 §3.4.6
        {"realm": "elsewhere"},
        {"algorithm": DigestAlgorithm.SHA256_SESS},  # not offered
        {"nc": None, "algorithm": DigestAlgorithm.SHA256},  # RFC 2069's form is MD5 only
    ],
    ids=["uri", "realm", "algorithm", "sha256-without-qop"],
)
def test_an_answer_to_another_question_is_refused(server, change):
    client = server.connection()
    nonce = challenged(client)
    fields = {"user": "alice", "password": USERS["alice"], "nonce": nonce, "method": "DESCRIBE"}
    assert client.send("DESCRIBE", URL, digest(**fields | change)).status == 401


@pytest.mark.parametrize(
    "headers",
    [
        [("Authorization", "Digest")],
        [("Authorization", 'Digest username="alice"')],
        [("Authorization", 'Digest username="alice", realm="unterminated')],
        [("Authorization", "Basic !!!")],
        [("Authorization", "Negotiate abc")],
        [("Authorization", "Basic " + basic_token("a", "b"))] * 2,
    ],
    ids=["bare", "missing-fields", "unterminated", "bad-basic", "other-scheme", "twice"],
)
def test_malformed_credentials_get_a_401_and_never_break_the_handler(server, headers):
    response = server.connection().send("DESCRIBE", URL, *headers)
    assert response.status == 401 and challenges(response)


def test_basic_is_refused_unless_asked_for(server, media_dir):
    basic = ("Authorization", "Basic " + basic_token("alice", USERS["alice"]))
    refused = server.connection().send("DESCRIBE", URL, basic)
    assert refused.status == 401
    assert not any(isinstance(c, Challenge) for c in challenges(refused))

    open_basic = Server(media_dir, auth_basic=True).connection()
    offered = challenges(open_basic.send("DESCRIBE"))
    assert str(offered[-1]) == f'Basic realm="{REALM}", charset="UTF-8"'
    assert open_basic.send("DESCRIBE", URL, basic).status == 200
    wrong = ("Authorization", "Basic " + basic_token("alice", "guess"))
    assert open_basic.send("DESCRIBE", URL, wrong).status == 401
    nobody = ("Authorization", "Basic " + basic_token("nobody", USERS["alice"]))
    assert open_basic.send("DESCRIBE", URL, nobody).status == 401


def test_no_session_or_stream_without_an_authorised_setup(server):
    client = server.connection()
    assert client.send("SETUP", TRACK, ("Transport", UDP)).status == 401
    assert len(server.sessions) == 0 and client.actions == []


def test_a_session_belongs_to_the_user_who_set_it_up(server):
    alice = server.connection()
    nonce = challenged(alice, "SETUP", TRACK)
    answer = digest("alice", USERS["alice"], nonce, "SETUP", TRACK)
    setup = alice.send("SETUP", TRACK, ("Transport", UDP), answer)
    assert setup.status == 200
    session = ("Session", SessionHeader.parse(setup.headers["Session"]).id)

    bob = server.connection(connection_id=2)  # same host, another user
    bob_nonce = challenged(bob, "PLAY")
    bob_play = digest("bob", USERS["bob"], bob_nonce, "PLAY")
    assert bob.send("PLAY", URL, session, bob_play).status == 454
    assert bob.actions == []

    play = alice.send("PLAY", URL, session, digest("alice", USERS["alice"], nonce, "PLAY", nc=2))
    assert play.status == 200
    assert [type(a) for a in alice.actions] == [StartStreaming]
