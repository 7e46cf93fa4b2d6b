"""Who may use the server: user names and the Digest hashes of their passwords, per realm.

The server keeps H(user:realm:password) (RFC 7616 §3.4.2), never a password: ``--auth
USER:PASSWORD`` is hashed as it is read, and ``--auth-file`` holds the hashes already, one
``user:realm:hash`` line each as Apache's ``htdigest`` writes them (MD5, 32 hex digits) or with
a SHA-256 hash (64 hex digits). A user may have a line of each; the algorithms every user can
answer decide which Digest challenges the server offers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from rtsp_common.auth import DigestAlgorithm, check_user, digest_ha1

DEFAULT_REALM = "rtsp-workbench"
# The stored hash names its algorithm by its length in hex digits.
HASH_HEX_DIGITS = {32: DigestAlgorithm.MD5, 64: DigestAlgorithm.SHA256}
# RFC 7616 §3.7: challenges in the server's order of preference, strongest first.
PREFERENCE = (DigestAlgorithm.SHA256, DigestAlgorithm.MD5)
_HEX = re.compile(r"[0-9a-fA-F]+")
COMMENT = "#"


@dataclass(frozen=True)
class CredentialStore:
    """The users of one realm and, per user, H(user:realm:password) for each algorithm known."""

    realm: str
    hashes: Mapping[str, Mapping[DigestAlgorithm, str]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @classmethod
    def from_passwords(cls, realm: str, pairs: Iterable[tuple[str, str]]) -> CredentialStore:
        """Users with clear passwords, each hashed with every algorithm offered."""
        hashes: dict[str, dict[DigestAlgorithm, str]] = {}
        for user, password in pairs:
            check_user(user)
            hashes[user] = {a: digest_ha1(a, user, realm, password) for a in PREFERENCE}
        return cls(realm, MappingProxyType(hashes))

    @classmethod
    def from_htdigest(cls, realm: str, text: str, source: str = "htdigest file") -> CredentialStore:
        """The users of ``realm`` in htdigest lines; ValueError names a malformed line.

        Lines of other realms are skipped (one file may serve several servers), but a file
        without any user in ``realm`` is refused, naming the realms it has.
        """
        hashes: dict[str, dict[DigestAlgorithm, str]] = {}
        realms: set[str] = set()
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith(COMMENT):
                continue
            parts = line.split(":")
            if len(parts) != 3 or not _HEX.fullmatch(parts[2]):
                raise ValueError(f"{source}, line {number}: expected user:realm:hash")
            user, line_realm, ha1 = parts
            algorithm = HASH_HEX_DIGITS.get(len(ha1))
            if algorithm is None:
                raise ValueError(
                    f"{source}, line {number}: a hash is 32 (MD5) or 64 (SHA-256) hex digits"
                )
            check_user(user)
            realms.add(line_realm)
            if line_realm == realm:
                hashes.setdefault(user, {})[algorithm] = ha1.lower()
        if not hashes:
            found = ", ".join(repr(r) for r in sorted(realms)) or "none"
            raise ValueError(
                f"{source} has no user in realm {realm!r} (realms there: {found}); "
                f"name the realm with --auth-realm"
            )
        return cls(realm, MappingProxyType(hashes))

    @classmethod
    def load(cls, realm: str, path: str | os.PathLike[str]) -> CredentialStore:
        """The users of ``realm`` in the htdigest file at ``path`` (OSError if unreadable)."""
        with open(path, encoding="utf-8") as file:
            return cls.from_htdigest(realm, file.read(), source=os.fspath(path))

    def merged(self, other: CredentialStore) -> CredentialStore:
        """Both stores' users; ``other``'s hashes win for a user in both."""
        hashes = {user: dict(known) for user, known in self.hashes.items()}
        for user, known in other.hashes.items():
            hashes.setdefault(user, {}).update(known)
        return CredentialStore(self.realm, MappingProxyType(hashes))

    @property
    def algorithms(self) -> tuple[DigestAlgorithm, ...]:
        """The algorithms some user can answer, strongest first: the challenges offered."""
        known = {a for per_user in self.hashes.values() for a in per_user}
        return tuple(a for a in PREFERENCE if a in known)

    def ha1(self, user: str, algorithm: DigestAlgorithm) -> str | None:
        """The stored H(user:realm:password) for ``algorithm`` (its non-sess base), or None."""
        return self.hashes.get(user, {}).get(algorithm.base)
