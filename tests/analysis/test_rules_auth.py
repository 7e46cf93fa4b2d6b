"""What check makes of authentication in a capture: a 401 then 200 is normal; Basic
credentials are a security warning that names the user, never the password."""

from __future__ import annotations

import base64

from analysis_corpus import (
    BASIC_PASSWORD,
    BASIC_USER,
    basic_credentials,
    clean_session,
    digest_credentials,
)

from analysis.check import check_capture
from analysis.craft.synth import SynthMessage
from analysis.rules import Outcome
from analysis.rules.auth import basic_user


def failed(result) -> list[str]:
    return [r.rule.id for r in result.rules if r.failed]


def test_a_401_then_the_request_with_digest_credentials_is_normal(tmp_path):
    session = clean_session()
    digest_credentials(session)
    result = check_capture(session.write(tmp_path / "digest.pcap"))
    assert failed(result) == []
    auth = result.result("RTSP-AUTH-1")
    assert auth.outcome is Outcome.PASSED and "4 requests with Digest credentials" in auth.evidence
    (stream,) = result.streams
    assert stream.stats.frames == 45  # the session is followed through the challenge


def test_basic_credentials_are_a_warning_naming_the_user_not_the_password(tmp_path):
    session = clean_session()
    basic_credentials(session)
    result = check_capture(session.write(tmp_path / "basic.pcap"))
    assert failed(result) == ["RTSP-AUTH-1"]
    auth = result.result("RTSP-AUTH-1")
    assert auth.count == 4 and len(auth.packets) == 4
    assert f"Basic credentials of user {BASIC_USER!r}" in auth.evidence
    token = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
    assert BASIC_PASSWORD not in auth.evidence and token not in auth.evidence
    assert result.failures() == []  # a warning, not an error


def test_without_credentials_the_rule_has_nothing_to_judge(tmp_path):
    result = check_capture(clean_session().write(tmp_path / "open.pcap"))
    auth = result.result("RTSP-AUTH-1")
    assert auth.outcome is Outcome.NOT_APPLICABLE
    assert auth.evidence == "no request carries credentials (Authorization)"


def test_a_401_to_a_request_in_the_wrong_state_is_no_state_error(tmp_path):
    session = clean_session()
    url = f"rtsp://{session.server_ip}:{session.rtsp_port}/clip"
    t = session.messages[1].t + 0.001
    session.messages[2:2] = [
        SynthMessage(t, True, f"PLAY {url} RTSP/1.0\r\nCSeq: 98\r\n\r\n".encode()),
        SynthMessage(t + 0.0005, False, b"RTSP/1.0 401 Unauthorized\r\nCSeq: 98\r\n\r\n"),
    ]
    result = check_capture(session.write(tmp_path / "state.pcap"))
    assert failed(result) == []


def test_the_user_of_basic_credentials_is_read_and_the_rest_dropped():
    assert basic_user("Basic YWxpY2U6d29uZGVybGFuZA==") == "alice"
    assert basic_user("basic   YWxpY2U6") == "alice"
    assert basic_user("Basic bm9jb2xvbg==") == "?"  # "nocolon"
    assert basic_user("Basic !!!") is None  # not token68: not Basic credentials we can read
    assert basic_user("Basic @@") is None
    assert basic_user("Basic YQ") == "?"  # bad padding
    assert basic_user('Digest username="alice"') is None
