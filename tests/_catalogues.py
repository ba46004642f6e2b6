"""The translation checks, as functions of a docs folder: each returns its problems.

Every problem is one line that starts with the page it is about. ``tests/test_translations.py``
runs them on the real site; ``tests/test_faults.py`` runs them on a fixture site with faults
put in, to show that each fault is reported.

>>> sorted(markup("See {claim}`eval.flag`, [docs](https://pytorch.org) and `x.grad`.").elements())
['code:x.grad', 'link:https://pytorch.org', '{claim}`eval.flag`']
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from _site import pages
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

# The interface text's catalogue (docs/_ext/ui_text.py): one per language, beside the pages'.
INTERFACE = "sphinx"
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
        for page in [*pages(docs), INTERFACE]
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
            for page in sorted(found - sources - {INTERFACE})
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
            if not message.string:
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
        and (want := markup(message.id)) != (got := markup(message.string))
    ]


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
