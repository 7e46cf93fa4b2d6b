"""Access-control rules: what a capture shows of RTSP authentication (RFC 2326 §D.1).

A 401 answered by the same request with credentials is how authentication starts, and no
rule minds it. Basic credentials (RFC 7617) on a plain TCP connection are a password anyone
holding the capture can read: a warning naming the user, never the password.
"""

from __future__ import annotations

import base64
import binascii
import re

from analysis.rules.registry import Context, Finding, Severity, not_applicable, rule, verdict

AUTHORIZATION = "Authorization"
# RFC 7617 §2: credentials = "Basic" 1*SP token68 (base64 of user-id ":" password)
_BASIC = re.compile(r"\s*basic\s+([A-Za-z0-9+/=._~-]+)\s*$", re.IGNORECASE)


def basic_user(value: str) -> str | None:
    """The user of Basic credentials (the password is dropped), '?' when the token is not
    base64 of user:password, None when the credentials are not Basic."""
    match = _BASIC.match(value)
    if match is None:
        return None
    try:
        decoded = base64.b64decode(match.group(1), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return "?"
    user, colon, _ = decoded.partition(":")
    return user if colon else "?"


@rule("RTSP-AUTH-1", "RFC 7617", "4", Severity.WARNING, "no Basic credentials in clear text")
def basic_in_clear(ctx: Context) -> Finding:
    """No request carries Basic credentials, which put the password on the wire in base64:
    each offence names the user, never the password. Not applicable when no request of the
    capture carries credentials."""
    requests = [m for c in ctx.capture.connections for m in c.requests]
    credentials = [(m, m.header(AUTHORIZATION)) for m in requests if m.header(AUTHORIZATION)]
    if not credentials:
        return not_applicable("no request carries credentials (Authorization)")
    offences = []
    for message, value in credentials:
        user = basic_user(value or "")
        if user is not None:
            offences.append(
                (
                    message.pktno,
                    f"{message.method} carries Basic credentials of user {user!r}: the "
                    "password is readable by anyone who has this capture",
                )
            )
    schemes = sorted({(v or "").split(" ", 1)[0] for _, v in credentials})
    return verdict(offences, f"{len(credentials)} requests with {', '.join(schemes)} credentials")
