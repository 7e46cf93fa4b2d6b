"""Message catalogs for the report: workbench/locales/<lang>.json, flat key -> text."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "en"
# Beside the package's modules (package data); found by path rather than by import name
# because a test folder named like the package can shadow it as a namespace package.
LOCALES = Path(__file__).resolve().parent.parent / "locales"


def available_languages() -> list[str]:
    """Languages that have a catalog, e.g. ['en', 'pt']."""
    return sorted(path.stem for path in LOCALES.glob("*.json"))


@dataclass(frozen=True)
class Catalog:
    """The texts of one language; ``t(key, **values)`` formats one."""

    language: str
    messages: dict[str, str]

    @classmethod
    def load(cls, language: str = DEFAULT_LANGUAGE) -> Catalog:
        """Read a catalog; ValueError naming the languages available when it is unknown."""
        languages = available_languages()
        if language not in languages:
            raise ValueError(
                f"no report language {language!r}: choose one of {', '.join(languages)}"
            )
        path = LOCALES / f"{language}.json"
        messages = json.loads(path.read_text(encoding="utf-8"))
        return cls(language, messages)

    def t(self, key: str, **values: object) -> str:
        """The text for ``key`` with ``{name}`` placeholders filled from ``values``."""
        try:
            text = self.messages[key]
        except KeyError:
            raise KeyError(f"message {key!r} missing from the {self.language} catalog") from None
        return text.format(**values) if values else text
