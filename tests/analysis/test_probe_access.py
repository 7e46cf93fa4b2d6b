"""The probe's access-control cases: its own Digest and Basic, and what it reports of our
server (hardened or not), of GStreamer's rtsp-server, and of servers that guard badly."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

import pytest
from gst_peer import gst_rtsp_server, make_mkv_clip, require_gst_peer
from hypothesis import given
from hypothesis import strategies as st
from scripted_rtsp import ScriptedServer, cseq_of

from analysis.probe.auth import (
    Answerer,
    Offer,
    digest_header,
    read_offers,
    strongest,
    with_authorization,
)
from analysis.probe.battery import ACCESS_CASE_IDS, CASE_IDS, Verdict, run_probe
from analysis.probe.channel import socket_environment
from analysis.probe.wire import Target
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

USER, PASSWORD = "alice", "wonderland"
ALL_CASES = [*CASE_IDS, *ACCESS_CASE_IDS]


def probe(port: int, path: str, user: str | None = USER, password: str = PASSWORD):
    target = Target("127.0.0.1", port, path, user, password)
    report = run_probe(target, socket_environment(target, timeout=2.0, rtp_wait=1.0))
    return report, {r.case: r for r in report.results}


# --- the probe's own authentication ------------------------------------------------------


def test_digest_answers_the_rfc_7616_example():
    (offer,) = read_offers(
        [
            'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
            'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"'
        ]
    )
    header = digest_header(
        offer,
        "Mufasa",
        "Circle of Life",
        "GET",
        "/dir/index.html",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert 'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"' in header
    assert "qop=auth, nc=00000001" in header


def test_offers_are_read_leniently_and_the_strongest_is_taken():
    offers = read_offers(
        [
            'Digest realm="r", nonce="1", algorithm=MD5, qop="auth"',
            'Basic realm="r", Digest realm="r", nonce="2", algorithm=SHA-256, qop="auth", '
            'stale=TRUE, Digest realm="r", nonce="3", algorithm=SHA-512-256',
            'Digest realm="unterminated',
        ]
    )
    assert [(o.scheme, o.params.get("nonce")) for o in offers] == [
        ("digest", "1"),
        ("basic", None),
        ("digest", "2"),
        ("digest", "3"),
        ("digest", None),
    ]
    best = strongest(offers)
    assert best is not None and best.params["nonce"] == "2" and best.stale
    assert not offers[3].answerable  # SHA-512-256 is not computed
    assert strongest([Offer("basic"), Offer("negotiate")]) == Offer("basic")


@given(st.lists(st.text(max_size=60), max_size=3))
def test_reading_offers_never_raises(values):
    for offer in read_offers(values):
        assert offer.scheme and offer.scheme == offer.scheme.lower()


def test_the_nonce_count_grows_and_restarts_with_a_new_nonce():
    answerer = Answerer(USER, PASSWORD)
    assert answerer.header("OPTIONS", "*") is None  # nothing before the server asks
    answerer.adopt(read_offers(['Digest realm="r", nonce="a", qop="auth"']))
    counts = [re.search(r"nc=(\w+)", answerer.header("PLAY", "rtsp://h/x")).group(1)]
    counts.append(re.search(r"nc=(\w+)", answerer.header("PLAY", "rtsp://h/x")).group(1))
    answerer.adopt(read_offers(['Digest realm="r", nonce="b", qop="auth"']))
    counts.append(re.search(r"nc=(\w+)", answerer.header("PLAY", "rtsp://h/x")).group(1))
    assert counts == ["00000001", "00000002", "00000001"]


def test_authorization_replaces_the_old_one_with_the_request_line_ending():
    lab = b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nAuthorization: old\n\n"
    assert with_authorization(lab, "Basic x") == (
        b"SETUP movie.Mjpeg RTSP/1.0\nAuthorization: Basic x\nCSeq: 1\n\n"
    )
    crlf = b"PLAY rtsp://h/x RTSP/1.0\r\nCSeq: 2\r\n\r\nbody"
    assert with_authorization(crlf, "Digest y") == (
        b"PLAY rtsp://h/x RTSP/1.0\r\nAuthorization: Digest y\r\nCSeq: 2\r\n\r\nbody"
    )


# --- our server ---------------------------------------------------------------------------


@pytest.fixture
def protected(lab_movie) -> Callable[..., RTSPServer]:
    def start(**options) -> RTSPServer:
        return RTSPServer(
            options=ServerOptions(
                port=0,
                media=lab_movie,
                host="127.0.0.1",
                fps=50,
                auth=[f"{USER}:{PASSWORD}"],
                **options,
            )
        )

    return start


def test_our_hardened_server_passes_every_case(protected):
    with protected(auth_legacy_digest=False) as server:
        report, cases = probe(server.port, "/movie.Mjpeg")
    assert [r.case for r in report.results] == ALL_CASES
    not_passed = {r.case: r.reason for r in report.results if r.verdict is not Verdict.PASS}
    assert not_passed == {}
    assert (
        "offers Digest SHA-256, Digest MD5; Digest SHA-256 accepted"
        in cases["auth_required"].reason
    )
    assert cases["auth_unknown_nonce"].reason == "refused: 401 stale=true"
    assert "RTP arrived" in cases["play"].reason  # the battery ran authenticated


def test_our_server_by_default_is_warned_of_rfc_2069_and_of_basic(protected):
    with protected(auth_basic=True) as server:
        _, cases = probe(server.port, "/movie.Mjpeg")
    assert cases["auth_replay"].verdict is Verdict.WARN
    assert "without qop (RFC 2069) are accepted, twice" in cases["auth_replay"].reason
    assert cases["auth_basic"].verdict is Verdict.WARN
    assert cases["auth_basic"].reason.startswith("Basic accepted over plain TCP")
    assert cases["auth_user_leak"].verdict is Verdict.PASS


def test_without_credentials_the_battery_says_why_it_did_not_run(protected):
    with protected() as server:
        report, cases = probe(server.port, "/movie.Mjpeg", user=None)
    assert cases["auth_required"].verdict is Verdict.PASS
    assert cases["auth_required"].reason == (
        "demands authentication: offers Digest SHA-256, Digest MD5"
    )
    skipped = {r.case for r in report.results if r.verdict is Verdict.SKIP}
    assert skipped == set(CASE_IDS[1:]) | {"auth_replay", "auth_unknown_nonce"}
    assert "rtsp://USER:PASSWORD@host/" in cases["options"].reason
    assert "'admin'" in cases["auth_user_leak"].reason  # asked about a likely user
    assert not report.failed


def test_refused_credentials_are_named_once(protected):
    with protected() as server:
        report, cases = probe(server.port, "/movie.Mjpeg", password="guess")
    assert "the server refused user 'alice'" in cases["auth_required"].reason
    assert "check the credentials" in cases["describe"].reason
    assert cases["describe"].verdict is Verdict.SKIP and not report.failed


def test_an_open_server_is_reported_open_and_asked_nothing_more(lab_movie):
    options = ServerOptions(port=0, media=lab_movie, host="127.0.0.1", fps=50)
    with RTSPServer(options=options) as server:
        report, cases = probe(server.port, "/movie.Mjpeg")
    assert [r.case for r in report.results] == list(CASE_IDS)
    assert cases["auth_required"].reason == "open: DESCRIBE was served without credentials"


# --- GStreamer's rtsp-server with GstRTSPAuth ---------------------------------------------


@pytest.fixture(scope="module")
def gst_clip(tmp_path_factory):
    require_gst_peer()
    return make_mkv_clip(tmp_path_factory.mktemp("gst-probe"), seconds=2)


@pytest.mark.interop
def test_gstreamer_digest_is_warned_as_replayable(gst_clip):
    with gst_rtsp_server(gst_clip, auth=(USER, PASSWORD)) as peer:
        report, cases = probe(peer.port, peer.path)
    assert cases["auth_required"].reason.startswith("demands authentication: offers Digest MD5;")
    assert cases["play"].verdict is Verdict.PASS
    assert cases["auth_replay"].verdict is Verdict.WARN
    assert "Digest offered without qop (RFC 2069)" in cases["auth_replay"].reason
    assert cases["auth_basic"].verdict is Verdict.PASS
    assert cases["auth_unknown_nonce"].verdict is Verdict.PASS
    assert cases["auth_user_leak"].verdict is Verdict.PASS
    assert not report.failed


@pytest.mark.interop
def test_gstreamer_basic_is_warned_of(gst_clip):
    with gst_rtsp_server(gst_clip, auth=(USER, PASSWORD), auth_method="basic") as peer:
        _, cases = probe(peer.port, peer.path)
    assert cases["auth_basic"].verdict is Verdict.WARN
    assert cases["auth_basic"].reason.startswith("Basic accepted over plain TCP")
    assert cases["auth_replay"].reason == "not run: no Digest offered"


# --- servers that guard badly --------------------------------------------------------------


def right_answer(authorization: bytes, method: bytes) -> bool:
    """True when a Digest answer (MD5, with or without qop) is alice's, whatever its nonce."""
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', authorization.decode()))
    if params.get("username") != USER:
        return False
    md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731
    ha1 = md5(f"{USER}:{params.get('realm')}:{PASSWORD}")
    ha2 = md5(f"{method.decode()}:{params.get('uri')}")
    if "qop" in params:
        middle = f"{params['nonce']}:{params['nc']}:{params['cnonce']}:{params['qop']}"
    else:
        middle = params.get("nonce", "")
    return params.get("response") == md5(f"{ha1}:{middle}:{ha2}")


def careless(leak_users: bool = False, challenge: bool = True) -> Callable[[bytes], bytes]:
    """A server that takes alice's right Digest answer whatever its nonce or count, and
    (``leak_users``) says so when a user does not exist."""

    def answer(request: bytes) -> bytes:
        cseq = cseq_of(request)
        found = re.search(rb"(?im)^authorization:\s*(.*?)\r?$", request)
        authorization = found.group(1) if found else b""
        if right_answer(authorization, request.split(b" ", 1)[0]):
            return f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 1234\r\n\r\n".encode()
        unknown = authorization and f'username="{USER}"'.encode() not in authorization
        reason = "No Such User" if leak_users and unknown else "Unauthorized"
        fields = 'WWW-Authenticate: Digest realm="r", nonce="fixed", qop="auth"\r\n'
        return (
            f"RTSP/1.0 401 {reason}\r\nCSeq: {cseq}\r\n{fields if challenge else ''}\r\n"
        ).encode()

    return answer


def test_a_server_that_checks_neither_nonce_nor_count_fails():
    with ScriptedServer(careless()) as server:
        report, cases = probe(server.port, "/clip")
    assert cases["auth_replay"].verdict is Verdict.FAIL
    assert "accepted twice" in cases["auth_replay"].reason
    assert cases["auth_unknown_nonce"].verdict is Verdict.FAIL
    assert "never issued was accepted" in cases["auth_unknown_nonce"].reason
    assert cases["auth_user_leak"].verdict is Verdict.PASS
    assert report.failed


def test_a_server_that_names_unknown_users_fails():
    with ScriptedServer(careless(leak_users=True)) as server:
        _, cases = probe(server.port, "/clip")
    leak = cases["auth_user_leak"]
    assert leak.verdict is Verdict.FAIL and "different refusals (status)" in leak.reason


def test_a_401_without_a_challenge_fails():
    with ScriptedServer(careless(challenge=False)) as server:
        report, cases = probe(server.port, "/clip")
    assert cases["auth_required"].verdict is Verdict.FAIL
    assert "401 without WWW-Authenticate" in cases["auth_required"].reason
    assert [r.case for r in report.results] == list(CASE_IDS)  # nothing to guard


def test_the_probe_command_takes_credentials_and_never_shows_them(protected, capsys):
    import argparse

    from workbench.commands import probe as probe_command

    parser = argparse.ArgumentParser()
    probe_command.register(parser.add_subparsers())
    with protected(auth_legacy_digest=False) as server:
        url = f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg"
        args = parser.parse_args(["probe", url, "--user", USER, "--password", PASSWORD])
        assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "accepted for 'alice'" in " ".join(out.split())
    assert PASSWORD not in out
    assert base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in out
