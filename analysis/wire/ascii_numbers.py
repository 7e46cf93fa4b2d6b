"""Numbers in protocol text: ASCII digits only.

``str.isdigit`` accepts superscripts and other scripts' digits (which ``int`` rejects or
reads differently); RTSP, SDP and Transport numbers are ASCII (RFC 2326 §15, RFC 4566 §9).
"""

from __future__ import annotations


def is_decimal(text: str) -> bool:
    """True when ``text`` is one or more ASCII digits."""
    return text.isascii() and text.isdigit()
