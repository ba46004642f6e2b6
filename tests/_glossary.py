"""A language's glossary (``docs/locale/<lang>/GLOSSARY.md``) and the variants it discourages.

The glossary's first table gives, per term, the variants not to use (``使わない表記``) and the
words that contain one but are right (``使ってよい語``); its last table, the translations allowed
to use a variant anyway. ``discouraged_uses`` finds every other use in a language's catalogues.

>>> rules = [Rule("forward pass", "順伝播", ("forward", "順伝搬"), ())]
>>> [use.variant for use in find_variants("forward の間、`forward` と forward() は", rules)]
['forward']
>>> [use.variant for use in find_variants("順伝搬ではなく [順伝播](https://x.org/forward)", rules)]
['順伝搬']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from _catalogues import CODE, LINK, OBSERVATIONS, ROLE, catalogues

CELL = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Rule:
    english: str
    term: str
    variants: tuple[str, ...]
    allowed: tuple[str, ...]  # words containing a variant that are right (活性化関数)


@dataclass(frozen=True)
class Exception_:
    catalogue: str
    variant: str
    passage: str  # a part of the translation that may use the variant
    reason: str


@dataclass(frozen=True)
class Use:
    variant: str
    context: str


def glossary_path(docs: Path, lang: str) -> Path:
    return docs / "locale" / lang / "GLOSSARY.md"


def _tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table of ``text``: its rows (the header row first), as cells."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= {"-", ":"} for cell in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def read_glossary(path: Path) -> tuple[list[Rule], list[Exception_]]:
    """The glossary's rules (first table) and exceptions (last table)."""
    tables = _tables(path.read_text(encoding="utf-8"))
    if len(tables) < 2:
        raise ValueError(f"{path}: expected a table of terms and a table of exceptions")
    terms, exceptions = tables[0], tables[-1]
    header = terms[0]
    variants_at, allowed_at = header.index("使わない表記"), header.index("使ってよい語")
    rules = [
        Rule(
            row[0],
            row[1],
            tuple(CELL.findall(row[variants_at])),
            tuple(CELL.findall(row[allowed_at])),
        )
        for row in terms[1:]
    ]
    found = [Exception_(row[0], CELL.findall(row[1])[0], row[2], row[3]) for row in exceptions[1:]]
    return rules, found


def prose(text: str) -> str:
    """A translation without what is not its prose: code spans, role and link targets."""
    text = ROLE.sub(" ", text)
    text = LINK.sub("] ", text)
    return CODE.sub(" ", text)


LATIN = re.compile(r"[A-Za-z][\w-]*\Z")  # a variant that is a word in Latin letters


def _pattern(variant: str) -> re.Pattern[str]:
    if LATIN.match(variant):  # a word in Latin letters, not a method call
        return re.compile(rf"(?<![\w.]){re.escape(variant)}(?![\w(])")
    return re.compile(re.escape(variant))


def find_variants(text: str, rules: list[Rule]) -> list[Use]:
    """The discouraged variants in the prose of ``text``."""
    uses = []
    for rule in rules:
        shown = prose(text)
        for word in rule.allowed:
            shown = shown.replace(word, " ")
        for variant in rule.variants:
            for match in _pattern(variant).finditer(shown):
                start, end = max(0, match.start() - 20), match.end() + 20
                uses.append(Use(variant, shown[start:end].replace("\n", " ")))
    return uses


# Japanese letters and punctuation: kana, kanji, the iteration mark, 、。「」『』 and the
# full-width （）： a half-width sign next to them should be full-width too.
JAPANESE = "\u3040-\u30ff\u4e00-\u9fff\u3005\u3001\u3002\u300c-\u300f\uff08\uff09\uff1a"
HALF_WIDTH = [
    ("a half-width '(' after Japanese", re.compile(rf"[{JAPANESE}] ?\((?!\))")),
    ("half-width '()' around Japanese", re.compile(rf"\([^()`]*[{JAPANESE}][^()`]*\)")),
    ("a half-width ':' after Japanese", re.compile(rf"[{JAPANESE}] ?:(?!//)")),
    ("a half-width '?' after Japanese", re.compile(rf"[{JAPANESE}]\?")),
    (
        "italics on Japanese",
        re.compile(rf"(?<![*\w])\*(?![*\s])[^*\n]*[{JAPANESE}][^*\n]*(?<=\S)\*(?!\*)"),
    ),
]
RST_ROLE = re.compile(r":[\w:~-]+:`[^`]*`")


def typography_problems(text: str) -> list[str]:
    """What in the prose of ``text`` breaks the Japanese typography rules of the glossary.

    >>> typography_problems("凍結した層(ヘッド)は :func:`x` で戻せます。")
    ["a half-width '(' after Japanese", "half-width '()' around Japanese"]
    >>> typography_problems("*推論テンソル*です。違いは? `eval()` の後で `(1, C)`：")
    ["a half-width '?' after Japanese", 'italics on Japanese']
    >>> typography_problems("凍結（ヘッド）です：`f(x)` と eval() の後、Linear(10, 1) です。")
    []
    """
    shown = prose(RST_ROLE.sub(" ", text))
    return [name for name, pattern in HALF_WIDTH if pattern.search(shown)]


def typography_uses(docs: Path, lang: str) -> list[str]:
    """Every translation of ``lang`` whose prose breaks a typography rule (not the labels of
    observations: they are shown as code, whose punctuation is half-width)."""
    return [
        f"{page}: {problem} in {message.string[:80]!r}"
        for page, catalogue in catalogues(docs, lang).items()
        if page != OBSERVATIONS
        for message in catalogue
        if message.id and isinstance(message.string, str)
        for problem in typography_problems(message.string)
    ]


def discouraged_uses(docs: Path, lang: str) -> tuple[list[str], list[str]]:
    """(uses of discouraged variants, exceptions no translation needs any more)."""
    rules, exceptions = read_glossary(glossary_path(docs, lang))
    # A label of an observation is code with words in it: a variant in Latin letters there
    # (head, forward) is a name of the code.
    in_code = [
        Rule(r.english, r.term, tuple(v for v in r.variants if not LATIN.match(v)), r.allowed)
        for r in rules
    ]
    problems, used = [], set()
    for page, catalogue in catalogues(docs, lang).items():
        for message in catalogue:
            if not message.id or not isinstance(message.string, str):
                continue
            for use in find_variants(message.string, in_code if page == OBSERVATIONS else rules):
                excused = [
                    e
                    for e in exceptions
                    if (e.catalogue, e.variant) == (page, use.variant)
                    and e.passage in message.string
                ]
                if excused:
                    used.update(excused)
                    continue
                problems.append(f"{page}: {use.variant!r} in …{use.context}…")
    unused = [f"{e.catalogue}: {e.variant!r} ({e.passage})" for e in exceptions if e not in used]
    return problems, unused
