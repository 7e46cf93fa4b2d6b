"""Who may connect: --auth and --auth-file (htdigest lines), the nonce table, the options'
checks, and the command line's one-line refusals."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from rtsp_common.auth import DigestAlgorithm
from rtsp_server.access import AccessControl
from rtsp_server.credentials import CredentialStore
from rtsp_server.nonces import NonceCheck, NonceTable
from rtsp_server.options import ServerOptions

MD5, SHA256 = DigestAlgorithm.MD5, DigestAlgorithm.SHA256


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# As `htdigest -c users cameras alice` writes it, a SHA-256 line beside it, another realm,
# a comment and a blank line.
HTDIGEST = f"""# users of the cameras
alice:cameras:{md5("alice:cameras:wonderland")}
alice:cameras:{sha256("alice:cameras:wonderland").upper()}

bob:cameras:{md5("bob:cameras:builder")}
carol:office:{md5("carol:office:secret")}
"""


def test_htdigest_lines_of_the_realm_are_read_hashes_and_all():
    store = CredentialStore.from_htdigest("cameras", HTDIGEST)
    assert set(store.hashes) == {"alice", "bob"}  # carol is in another realm
    assert store.ha1("alice", SHA256) == sha256("alice:cameras:wonderland")
    assert store.ha1("alice", DigestAlgorithm.MD5_SESS) == md5("alice:cameras:wonderland")
    assert store.ha1("bob", SHA256) is None
    assert store.algorithms == (SHA256, MD5)
    only_md5 = CredentialStore.from_htdigest("office", HTDIGEST)
    assert only_md5.algorithms == (MD5,)  # no SHA-256 challenge it could not check


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alice:cameras\n", "line 1: expected user:realm:hash"),
        ("# ok\nalice:cameras:xyz\n", "line 2: expected user:realm:hash"),
        ("alice:cameras:abc123\n", "32 (MD5) or 64 (SHA-256) hex digits"),
        (f"carol:office:{md5('x')}\n", "no user in realm 'cameras' (realms there: 'office')"),
        ("", "realms there: none"),
    ],
)
def test_a_bad_htdigest_file_is_refused_with_the_line(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CredentialStore.from_htdigest("cameras", text)


def test_auth_file_and_auth_users_are_merged(tmp_path):
    path = tmp_path / "users"
    path.write_text(HTDIGEST)
    options = ServerOptions(auth=["dave:pw", "alice:other"], auth_file=path, auth_realm="cameras")
    access = AccessControl.from_options(options)
    assert access is not None
    assert set(access.store.hashes) == {"alice", "bob", "dave"}
    # --auth names its password on the command line: it wins over the file's line.
    assert access.store.ha1("alice", MD5) == md5("alice:cameras:other")
    with pytest.raises(OSError):
        AccessControl.from_options(ServerOptions(auth_file=tmp_path / "absent"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"auth": ["alice"]}, "USER:PASSWORD"),
        ({"auth": [":pw"]}, "user name"),
        ({"auth": ["a\nb:pw"]}, "control"),
        ({"auth_basic": True}, "--auth-basic needs users"),
        ({"auth": ["a:b"], "nonce_lifetime": 0}, "nonce_lifetime"),
        ({"auth_realm": "a:b"}, "realm"),
    ],
)
def test_options_refuse_access_settings_that_cannot_work(options, message):
    with pytest.raises(ValueError, match=message):
        ServerOptions(**options)


def test_passwords_stay_out_of_the_options_repr():
    options = ServerOptions(auth=["alice:wonderland"])
    assert options.auth == ("alice:wonderland",) and options.auth_required
    assert "wonderland" not in repr(options)


def test_nonces_expire_belong_to_one_peer_and_the_table_is_bounded():
    table = NonceTable(lifetime=10, capacity=3)
    first = table.issue("10.0.0.1", now=0)
    assert table.check(first, "10.0.0.1", 5, nc=1) is NonceCheck.VALID
    assert table.check(first, "10.0.0.1", 6, nc=1) is NonceCheck.REPLAYED
    assert table.check(first, "10.0.0.2", 6, nc=2) is NonceCheck.STALE
    assert table.check(first, "10.0.0.1", 7, nc=None) is NonceCheck.VALID  # RFC 2069: no count
    assert table.check(first, "10.0.0.1", 11, nc=9) is NonceCheck.STALE  # expired
    assert table.check(first, "10.0.0.1", 11, nc=10) is NonceCheck.STALE  # and forgotten
    issued = [table.issue("10.0.0.1", now=20 + i) for i in range(5)]
    assert len(table) == 3 and len(set(issued)) == 5
    assert table.check(issued[0], "10.0.0.1", 25, None) is NonceCheck.STALE  # pushed out
    assert table.check(issued[-1], "10.0.0.1", 25, None) is NonceCheck.VALID
    table.issue("10.0.0.1", now=100)  # the expired ones go first
    assert len(table) == 1


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rtsp_server", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--auth-basic"], "--auth-basic needs users"),
        (["--auth", "alice"], "--auth takes USER:PASSWORD"),
        (["--auth-file", "absent-users"], "absent-users"),
    ],
)
def test_the_command_refuses_unusable_access_settings_in_one_line(media_dir, args, message):
    result = run_cli("--media", str(media_dir), *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert result.stderr.startswith("rtsp-server: error: ")
