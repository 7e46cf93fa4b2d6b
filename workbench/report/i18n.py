"""Message catalogs for the report and the demo's console: workbench/locales/<lang>.json,
flat key -> text, and each language's way of writing numbers.

A catalog names its decimal mark and digit-group separator (``number.decimal`` and
``number.group``: "." and "," in English, "," and "." in Portuguese, so 14,0 s and
5.871.597 bytes). Numbers given to ``t()`` as values are written that way, whatever the
format spec in the text (``{seconds:.1f}``, ``{bytes:,}``); numbers that are names rather
than quantities (ports, SSRCs, frame numbers) are simply formatted without grouping.
"""

from __future__ import annotations

import json
import logging
import numbers
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "en"
# Beside the package's modules (package data); found by path rather than by import name
# because a test folder named like the package can shadow it as a namespace package.
LOCALES = Path(__file__).resolve().parent.parent / "locales"
DECIMAL_KEY = "number.decimal"
GROUP_KEY = "number.group"
MISSING = "–"  # an absent value, in every language


def available_languages() -> list[str]:
    """Languages that have a catalog, e.g. ['en', 'pt']."""
    return sorted(path.stem for path in LOCALES.glob("*.json"))


class _LocalNumber:
    """A number that formats itself with a language's decimal mark and group separator."""

    __slots__ = ("value", "table")

    def __init__(self, value: int | float, table: dict[int, str]) -> None:
        self.value = value
        self.table = table

    def __format__(self, spec: str) -> str:
        # Python writes "." for the decimal mark and "," between groups: swap both at once.
        return format(self.value, spec).translate(self.table)

    def __str__(self) -> str:
        return format(self, "")


@dataclass(frozen=True)
class Catalog:
    """The texts of one language; ``t(key, **values)`` formats one, ``number`` a figure."""

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

    @property
    def _separators(self) -> dict[int, str]:
        return str.maketrans(
            {".": self.messages.get(DECIMAL_KEY, "."), ",": self.messages.get(GROUP_KEY, ",")}
        )

    def _local(self, value: object) -> object:
        # numbers.Real takes numpy's scalars too: the analysis counts in numpy.
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            number = int(value) if isinstance(value, numbers.Integral) else float(value)
            return _LocalNumber(number, self._separators)
        return value

    def t(self, key: str, **values: object) -> str:
        """The text for ``key`` with ``{name}`` placeholders filled from ``values``."""
        try:
            text = self.messages[key]
        except KeyError:
            raise KeyError(f"message {key!r} missing from the {self.language} catalog") from None
        if not values:
            return text
        return text.format(**{name: self._local(value) for name, value in values.items()})

    def number(self, value: float | int | None, digits: int | None = None) -> str:
        """A quantity in this language: digits grouped, ``digits`` decimals for a float
        (1 when not given); "–" for None."""
        if value is None:
            return MISSING
        if isinstance(value, numbers.Integral) and digits is None:
            return format(_LocalNumber(value, self._separators), ",")
        places = 1 if digits is None else digits
        return format(_LocalNumber(value, self._separators), f",.{places}f")
