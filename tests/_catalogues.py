"""The translation checks, as functions of a docs folder: each returns its problems.

Every problem is one line that starts with the page it is about. ``tests/test_translations.py``
runs them on the real site; ``tests/test_faults.py`` runs them on a fixture site with faults
put in, to show that each fault is reported.

>>> sorted(markup("See {claim}`eval.flag`, [docs](https://pytorch.org) and `x.grad`.").elements())
['code:x.grad', 'link:https://pytorch.org', '{claim}`eval.flag`']
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from _site import pages
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from bs4 import BeautifulSoup

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
from observation_text import Templates

# The interface text's catalogue (docs/_ext/ui_text.py): one per language, beside the pages'.
INTERFACE = "sphinx"
# The labels of what the checks observed (docs/_ext/observation_text.py), shown as code on the
# verification page.
OBSERVATIONS = "observations"
ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"(`+)(.+?)\1")


def catalogue_path(docs: Path, lang: str, page: str) -> Path:
    return docs / "locale" / lang / "LC_MESSAGES" / f"{page}.po"


def gettext_dir(docs: Path) -> Path:
    """Where ``docs/build.py --gettext`` writes the ``.pot`` files of ``docs``."""
    return docs / "_build" / "gettext"


def load(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def translator(docs: Path, lang: str, page: str) -> Callable[[str], str | None]:
    """The translation of a message in ``page``'s catalogue (None: untranslated or fuzzy)."""
    catalogue = load(catalogue_path(docs, lang, page))

    def translated(message: str) -> str | None:
        entry = catalogue.get(message)
        return entry.string or None if entry is not None and not entry.fuzzy else None

    return translated


def markup(text: str) -> Counter[str]:
    """The parts a translation must keep: roles with their targets, link targets, code spans."""
    roles = ROLE.findall(text)
    rest = ROLE.sub(" ", text)
    return Counter(
        [f"{{{name}}}`{target}`" for name, target in roles]
        + [f"link:{target}" for target in LINK.findall(rest)]
        + [f"code:{code}" for _, code in CODE.findall(rest)]
    )


def catalogues(docs: Path, lang: str) -> dict[str, Catalog]:
    """The catalogue of every page that has one, and the interface catalogue."""
    return {
        page: load(catalogue_path(docs, lang, page))
        for page in [*pages(docs), INTERFACE, OBSERVATIONS]
        if catalogue_path(docs, lang, page).exists()
    }


def unmatched_catalogues(docs: Path, lang: str) -> list[str]:
    """Pages without a catalogue (they would fall back to English), catalogues without a page,
    and a missing interface catalogue."""
    folder = docs / "locale" / lang / "LC_MESSAGES"
    found = {p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*.po")}
    sources = set(pages(docs))
    return (
        [f"{page}: no {lang} catalogue" for page in sorted(sources - found)]
        + [
            f"{page}: a {lang} catalogue without a page"
            for page in sorted(found - sources - {INTERFACE, OBSERVATIONS})
        ]
        + ([] if INTERFACE in found else [f"{INTERFACE}: no {lang} interface catalogue"])
    )


def incomplete_entries(docs: Path, lang: str) -> list[str]:
    """Entries that are untranslated, fuzzy or obsolete."""
    problems = []
    for page, catalogue in catalogues(docs, lang).items():
        problems += [f"{page}: obsolete: {msgid!r}" for msgid in catalogue.obsolete]
        for message in catalogue:
            if not message.id:
                continue
            if not message.string or not all(message.string):  # all: every plural form
                problems.append(f"{page}: untranslated: {message.id!r}")
            elif message.fuzzy:
                problems.append(f"{page}: fuzzy: {message.id!r}")
    return problems


def markup_mismatches(docs: Path, lang: str) -> list[str]:
    """Translations that lose or add a role, a link target or a code span."""
    return [
        f"{page}: {message.id!r}\n  missing {sorted((want - got).elements())}"
        f"\n  extra {sorted((got - want).elements())}"
        for page, catalogue in catalogues(docs, lang).items()
        for message in catalogue
        if message.id
        and message.string
        and (want := markup(_last(message.id))) != (got := markup(_last(message.string)))
    ]


def _last(text: str | tuple[str, ...]) -> str:
    """A message, or the last form of a message with plural forms (the plural)."""
    return text[-1] if isinstance(text, tuple) else text


def stale_entries(docs: Path, lang: str) -> list[str]:
    """Differences between each catalogue and the current English (needs a gettext build).

    A sentence edited after translation shows up twice: its new text is not in the
    catalogue, and its old text is no longer in the page.
    """
    stale = []
    for page, catalogue in catalogues(docs, lang).items():
        current = {m.id for m in load(gettext_dir(docs) / f"{page}.pot") if m.id}
        translated = {m.id for m in catalogue if m.id}
        stale += [f"{page}: not in the catalogue: {m!r}" for m in sorted(current - translated)]
        stale += [f"{page}: no longer in the page: {m!r}" for m in sorted(translated - current)]
    return stale


# --- does every translation reach its page? -------------------------------------------------

WORD = re.compile(r"[A-Za-z]{2,}")
EMPHASIS = re.compile(r"(\*\*|\*|__)(?=\S)(.+?)(?<=\S)\1")
# Not a page's translated text: code blocks and cell outputs (executed once, in English), the
# permalinks, scripts; and the print-only copy of the table of contents, kept with the rest.
NOT_PROSE = "script, style, pre, div.highlight, div.cell_output, a.headerlink"
BLOCKS = ["p", "li", "dt", "dd", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "div", "nav"]
ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
PLACEHOLDER = re.compile(r"%\(\w+\)s|\$?\{\w+\}")
VERIFICATION = "verification"


def english_fragments(msgid: str) -> list[str]:
    """The pieces of an English message that a page shows as they are, if untranslated.

    Roles render as something else (a claim mark, a page title), so the message is cut there;
    code spans, link texts and emphasis render as their text. Only pieces with an English
    word outside code are kept: a piece of code alone is the same in every language.

    >>> english_fragments("The `x.grad` is {claim}`a.b` set *here* by [PyTorch](https://p.org).")
    ['The x.grad is', 'set here by PyTorch.']
    >>> english_fragments("`model.eval()`")
    []
    """
    fragments = []
    for piece in ROLE.split(msgid)[::3]:  # ROLE has two groups: keep the text between roles
        prose_words = WORD.findall(CODE.sub(" ", LINK.sub("]", piece)))
        text = re.sub(r"\[([^\]]*)\]\([^)\s]*\)", r"\1", piece)
        text = EMPHASIS.sub(r"\2", CODE.sub(r"\2", text))
        text = " ".join(text.split())
        if prose_words and text:
            fragments.append(text)
    return fragments


def page_text(html: str) -> tuple[tuple[str, set[str]], tuple[str, set[str]]]:
    """A page's text outside code blocks and outputs (blocks on lines of their own) and its
    attributes that people read (title, aria-label, ...): with its inline code, then
    without it (one parse for both).

    >>> page_text('<p title="t">a <code>b</code></p><pre>c</pre>')
    (('a b', {'t'}), ('a', {'t'}))
    """
    soup = BeautifulSoup(html, "html.parser")
    for node in soup.select(NOT_PROSE):
        node.decompose()
    for tag in soup.find_all(BLOCKS):
        tag.append("\n")
    shown = _text_and_attributes(soup)
    for node in soup.select("code"):
        node.decompose()
    return shown, _text_and_attributes(soup)


def _text_and_attributes(soup: BeautifulSoup) -> tuple[str, set[str]]:
    attributes = {
        " ".join(str(tag[name]).split())
        for tag in soup.find_all(True)
        for name in ATTRIBUTES
        if tag.has_attr(name)
    }
    body = soup.body or soup
    lines = (" ".join(line.split()) for line in body.get_text("").splitlines())
    return "\n".join(line for line in lines if line), attributes


def _found(fragment: str, text: str) -> bool:
    """``fragment`` in ``text``, not as a part of a longer word."""
    return re.search(rf"(?<![A-Za-z]){re.escape(fragment)}(?![A-Za-z])", text) is not None


def untranslated_on_pages(docs: Path, html: Path, lang: str) -> list[str]:
    """English text of translated messages that the built pages of ``lang`` still show.

    A page's messages are looked for in its own page; the interface catalogue's in every page,
    in the text and in the attributes (a tooltip, a label). A piece of English that some
    translation of the catalogue keeps on purpose (a title of a PyTorch page, a quoted error
    message) is not looked for.
    """
    found = []
    labels = Templates.of_checks()
    sources = {page: path.read_text(encoding="utf-8") for page, path in _pages(html)}
    texts = {page: page_text(source) for page, source in sources.items()}
    shown = {page: with_code for page, (with_code, _) in texts.items()}
    without_code = {page: bare for page, (_, bare) in texts.items()}
    for page, catalogue in catalogues(docs, lang).items():
        kept = " ".join(" ".join(str(m.string).split()) for m in catalogue if m.id)
        targets = (
            without_code.items() if page == INTERFACE else [(page, shown.get(page, ("", set())))]
        )
        for message in catalogue:
            if not message.id or isinstance(message.id, tuple) or message.string == message.id:
                continue
            if page == OBSERVATIONS:  # a label, as an evidence line: "label → value"
                known = labels.by_msgid.get(message.id)
                label = known.pattern.pattern if known else re.escape(message.id)
                pattern = re.compile(label + " → ")
                text = shown.get(VERIFICATION, ("", set()))[0]
                if any(pattern.match(line) for line in text.splitlines()):
                    found.append(f"{VERIFICATION}: English of {page}.po shown: {message.id!r}")
                continue
            for fragment in english_fragments(message.id):
                if _found(fragment, kept):
                    continue
                if page == INTERFACE:
                    pattern = re.compile(".+".join(map(re.escape, PLACEHOLDER.split(fragment))))
                    where = [
                        shown_page
                        for shown_page, (text, attributes) in targets
                        if any(pattern.fullmatch(v) for v in attributes)
                        or any(pattern.fullmatch(line) for line in text.splitlines())
                    ]
                else:
                    where = [p for p, (text, _) in targets if _found(fragment, text)]
                found += [f"{p}: English of {page}.po shown: {fragment!r}" for p in where]
    return found


def _pages(html: Path) -> list[tuple[str, Path]]:
    return [
        (path.relative_to(html).with_suffix("").as_posix(), path)
        for path in sorted(html.rglob("*.html"))
        if not {"_static", "_sources", "_images", "jupyter_execute"} & set(path.parts)
    ]
