"""Every catalogue follows its language's glossary (``docs/locale/<lang>/GLOSSARY.md``)."""

from __future__ import annotations

import pytest
from _glossary import (
    Rule,
    discouraged_uses,
    find_variants,
    glossary_path,
    read_glossary,
    typography_uses,
)
from _site import DOCS, TRANSLATIONS

WITH_GLOSSARY = [lang for lang in TRANSLATIONS if glossary_path(DOCS, lang).is_file()]


def test_the_japanese_catalogues_have_a_glossary() -> None:
    assert "ja" in WITH_GLOSSARY
    rules, _ = read_glossary(glossary_path(DOCS, "ja"))
    terms = {rule.english: rule.term for rule in rules}
    assert terms["forward pass"] == "順伝播" and terms["default"] == "デフォルト"


@pytest.mark.parametrize("lang", WITH_GLOSSARY)
def test_no_catalogue_uses_a_discouraged_variant(lang: str) -> None:
    problems, _ = discouraged_uses(DOCS, lang)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("lang", WITH_GLOSSARY)
def test_every_exception_is_still_needed(lang: str) -> None:
    """An exception that no translation uses any more is removed from the glossary."""
    _, unused = discouraged_uses(DOCS, lang)
    assert unused == []


def test_japanese_prose_uses_full_width_punctuation_and_no_italics() -> None:
    """「（）」「：」「？」 in Japanese prose; bold or 「」, not italics (GLOSSARY.md 表記)."""
    problems = typography_uses(DOCS, "ja")
    assert problems == [], "\n".join(problems)


RULES = [
    Rule("activations", "活性値", ("活性化",), ("活性化関数",)),
    Rule("forward pass", "順伝播", ("forward",), ()),
]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("backward のために活性化を保存する", ["活性化"]),
        ("活性化関数の出力", []),  # an allowed word
        ("forward の間", ["forward"]),
        ("`forward` と forward() と {meth}`forward`", []),  # code, a method call, a role
        ("[forward の説明](https://example.org/forward)", ["forward"]),  # link text is prose
        ("forwarding", []),  # a whole word only
    ],
)
def test_variants_are_found_in_prose_only(text: str, found: list[str]) -> None:
    assert [use.variant for use in find_variants(text, RULES)] == found
