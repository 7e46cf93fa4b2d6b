"""The message catalogs: every language has every message, translated, with the same
placeholders; every rule of the checker has its title in every language but English (the
checker's own); every message the code asks for exists; numbers follow the language."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import numpy as np
import pytest
from language_checks import english_words_in

from analysis.rules import registered_rules
from workbench.report.i18n import DEFAULT_LANGUAGE, LOCALES, Catalog, available_languages

WORKBENCH = Path(__file__).resolve().parents[2] / "workbench"
RULE_TITLES = "rules."  # titles of the checker's rules, in the languages that are not its own
# Messages that read the same in every language: protocol words, units, a header.
SAME_EVERYWHERE = {
    "ft.options.title",
    "ft.describe.title",
    "ft.setup.title",
    "ft.teardown.title",
    "plot.unit_ms",
    "plot.unit_kib",
    "plot.unit_s",
    "stats.jitter_ms",
}


def catalog(language: str) -> dict[str, str]:
    return json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8"))


def fields(text: str) -> set[tuple[str, str]]:
    return {(name, spec) for _, name, spec, _ in string.Formatter().parse(text) if name}


OTHER_LANGUAGES = [lang for lang in available_languages() if lang != DEFAULT_LANGUAGE]


def test_there_is_a_second_language():
    assert OTHER_LANGUAGES == ["pt"]


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_every_message_is_there_with_the_same_placeholders(language):
    en, other = catalog(DEFAULT_LANGUAGE), catalog(language)
    messages = {k: v for k, v in other.items() if not k.startswith(RULE_TITLES)}
    assert sorted(set(en) - set(messages)) == [], "missing"
    assert sorted(set(messages) - set(en)) == [], "not in English: stale"
    for key, text in en.items():
        assert fields(text) == fields(other[key]), key


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_every_message_is_translated(language):
    en, other = catalog(DEFAULT_LANGUAGE), catalog(language)
    same = sorted(k for k in en if other[k] == en[k] and k not in SAME_EVERYWHERE)
    same = [k for k in same if not k.startswith("number.")]
    assert same == [], "untranslated"
    for key, text in other.items():
        assert not english_words_in(text), f"{key}: English words {english_words_in(text)}"


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_every_rule_of_the_checker_has_a_title(language):
    other = catalog(language)
    rules = {r.id for r in registered_rules()}
    titled = {k.removeprefix(RULE_TITLES) for k in other if k.startswith(RULE_TITLES)}
    assert sorted(rules - titled) == [], "rules without a title"
    assert sorted(titled - rules) == [], "titles of rules that no longer exist"


def test_every_message_the_code_asks_for_exists():
    en = catalog(DEFAULT_LANGUAGE)
    asked = set()
    for path in [*WORKBENCH.rglob("*.py"), *WORKBENCH.rglob("*.j2")]:
        text = path.read_text(encoding="utf-8")
        asked |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""", text))
    assert len(asked) > 50
    assert sorted(asked - set(en)) == []


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "5,871,597 bytes in 14.0 s"), ("pt", "5.871.597 bytes in 14,0 s")],
)
def test_numbers_are_written_the_language_s_way(language, expected):
    c = Catalog(language, {**catalog(language), "x": "{bytes:,} bytes in {seconds:.1f} s"})
    assert c.t("x", bytes=np.int64(5_871_597), seconds=14.04) == expected
    assert c.number(1377.66, 1) == ("1,377.7" if language == "en" else "1.377,7")
    assert c.number(None) == "–"
    # a port or a frame number is a name, not a quantity: no grouping unless asked for
    assert Catalog(language, {"p": "port {port}"}).t("p", port=36519) == "port 36519"
