"""Every page is fully translated, from the current English, with its markup intact."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from _site import DOCS, TRANSLATIONS, pages, run_build
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LOCALE = DOCS / "locale"
ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"(`+)(.+?)\1")


def catalogue_path(lang: str, page: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{page}.po"


def load(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def entries(lang: str) -> list[tuple[str, str, str]]:
    """(page, msgid, msgstr) for every message of every page of ``lang``."""
    return [
        (page, message.id, message.string)
        for page in pages()
        if catalogue_path(lang, page).exists()
        for message in load(catalogue_path(lang, page))
        if message.id
    ]


def markup(text: str) -> Counter[str]:
    """The parts a translation must keep: roles with their targets, link targets, code spans."""
    roles = ROLE.findall(text)
    rest = ROLE.sub(" ", text)
    return Counter(
        [f"{{{name}}}`{target}`" for name, target in roles]
        + [f"link:{target}" for target in LINK.findall(rest)]
        + [f"code:{code}" for _, code in CODE.findall(rest)]
    )


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_every_page_has_a_catalogue_and_every_catalogue_a_page(lang: str) -> None:
    catalogues = {
        p.relative_to(LOCALE / lang / "LC_MESSAGES").with_suffix("").as_posix()
        for p in (LOCALE / lang / "LC_MESSAGES").rglob("*.po")
    }
    assert sorted(set(pages()) - catalogues) == [], "pages without a catalogue"
    assert sorted(catalogues - set(pages())) == [], "catalogues without a page"


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_no_entry_is_untranslated_fuzzy_or_obsolete(lang: str) -> None:
    problems = []
    for page in pages():
        catalogue = load(catalogue_path(lang, page))
        problems += [f"{page}: obsolete: {msgid!r}" for msgid in catalogue.obsolete]
        for message in catalogue:
            if not message.id:
                continue
            if not message.string:
                problems.append(f"{page}: untranslated: {message.id!r}")
            elif message.fuzzy:
                problems.append(f"{page}: fuzzy: {message.id!r}")
    assert problems == []


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_translations_keep_roles_links_and_code(lang: str) -> None:
    problems = [
        f"{page}: {msgid!r}\n  missing {sorted((markup(msgid) - markup(msgstr)).elements())}"
        f"\n  extra {sorted((markup(msgstr) - markup(msgid)).elements())}"
        for page, msgid, msgstr in entries(lang)
        if msgstr and markup(msgid) != markup(msgstr)
    ]
    assert problems == [], "\n".join(problems)


def test_markup_counts_roles_links_and_code_spans() -> None:
    text = "A {claim}`eval.flag` and [PyTorch](https://pytorch.org) and `x.grad` and `y`."
    assert markup(text) == Counter(
        ["{claim}`eval.flag`", "link:https://pytorch.org", "code:x.grad", "code:y"]
    )
    assert markup("only `x.grad`") != markup(text)


@pytest.mark.site
@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_catalogues_match_the_current_english(lang: str) -> None:
    """An English sentence edited after translation must show up here, not fall back silently."""
    result = run_build("--gettext")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stale = []
    for page in pages():
        current = {m.id for m in load(DOCS / "_build" / "gettext" / f"{page}.pot") if m.id}
        translated = {m.id for m in load(catalogue_path(lang, page)) if m.id}
        stale += [f"{page}: not in the catalogue: {m!r}" for m in sorted(current - translated)]
        stale += [f"{page}: no longer in the page: {m!r}" for m in sorted(translated - current)]
    assert stale == [], "run `nox -s i18n` and translate:\n" + "\n".join(stale)
