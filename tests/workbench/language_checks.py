"""Telling an English sentence left in a translated text, for the catalog and report tests.

English function words that Portuguese does not have are the tell, with a few words the
report uses a lot. RTSP reason phrases
(RFC 2326 §7.1.1) are protocol text, quoted as servers send them, and are left aside.
"""

from __future__ import annotations

import re

ENGLISH_WORDS = frozenset(
    {"the", "and", "of", "with", "is", "are", "was", "were", "not", "this", "that", "from",
     "to", "in", "by", "its", "which", "when", "while", "each", "every",
     # and words the report uses a lot, easy to leave untranslated
     "passed", "failed", "packets", "seconds", "appendix", "received", "expected"}
)  # fmt: skip
REASON_PHRASES = re.compile(
    r"Method Not Valid in This State|Session Not Found|Not Found|Not Implemented|Bad Request"
    r"|Unsupported [Tt]ransport|RTSP Version not supported|Request Entity Too Large"
    r"|Method Not Allowed|Not Acceptable|Invalid Range|Internal Server Error"
)
PLACEHOLDER = re.compile(r"\{[^}]*\}")
WORD = re.compile(r"[^\W\d_]+")  # letters only, accented ones included


def english_words_in(text: str) -> set[str]:
    """The English function words in ``text`` (placeholders and reason phrases aside)."""
    words = WORD.findall(REASON_PHRASES.sub(" ", PLACEHOLDER.sub(" ", text)))
    return {w for w in words if w.lower() in ENGLISH_WORDS}
