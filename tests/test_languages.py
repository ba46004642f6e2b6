"""A language is added by naming it in ``LANGUAGES`` and giving it a locale folder: nothing else.

The fixture site (``_fixture_site.py``) is built with a third language, German, whose catalogues
are made here from the fixture's templates (the pages' messages kept in English, a few
interface messages in German). Every part of the site that depends on the languages has it:
the pages, the switcher and the alternate links, the root page, the 404 page, the claim marks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _catalogues import INTERFACE, catalogue_path, gettext_dir, load
from _fixture_site import build, make_site
from babel.messages.pofile import write_po
from bs4 import BeautifulSoup

pytestmark = pytest.mark.languages
GERMAN = {
    "verified": "geprüft",
    "Language": "Sprache",
    "Page not found": "Seite nicht gefunden",
    "Go to the English site": "Zur deutschen Website",
}


def add_german(docs: Path) -> None:
    """``"de"`` in conf.py's ``LANGUAGES``, and ``locale/de/`` made from the .pot files."""
    conf = docs / "conf.py"
    text = conf.read_text(encoding="utf-8")
    languages = re.search(r"^LANGUAGES = \{.*\}$", text, re.MULTILINE)
    assert languages, "conf.py assigns LANGUAGES a dict on one line"
    added = languages[0][:-1] + ', "de": "Deutsch"}'
    conf.write_text(text.replace(languages[0], added), encoding="utf-8")
    result = build(docs, "--gettext")
    assert result.returncode == 0, result.log[-3000:]
    for pot in sorted(gettext_dir(docs).glob("*.pot")):
        catalogue = load(pot)
        catalogue.locale = "de"
        for message in catalogue:
            if message.id and not isinstance(message.id, tuple):
                message.string = GERMAN.get(message.id, message.id)
        path = catalogue_path(docs, "de", pot.stem)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalogue)


def soup(docs: Path, path: str) -> BeautifulSoup:
    html = docs / "_build" / "html" / path
    return BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser")


def test_a_third_language_needs_only_languages_and_a_locale_folder(tmp_path: Path) -> None:
    docs = make_site(tmp_path)
    add_german(docs)
    result = build(docs)
    assert result.returncode == 0, result.log[-5000:]
    assert re.findall(r"\b(?:WARNING|ERROR): .*", result.log) == []

    page = soup(docs, "de/index.html")
    assert page.html["lang"] == "de"
    assert {m.get_text() for m in page.select("a.claim-mark")} == {"✓ geprüft"}
    switcher = page.select_one("nav.lang-switcher")
    assert switcher["aria-label"] == "Sprache"
    assert sorted(a["hreflang"] for a in switcher.select("a")) == ["en", "ja"]
    alternates = soup(docs, "ja/index.html").select('link[rel="alternate"]')
    assert sorted(link["hreflang"] for link in alternates) == ["de", "en", "ja", "x-default"]
    root = soup(docs, "index.html")
    assert sorted(a["href"] for a in root.select("a[hreflang]")) == [
        f"{code}/index.html" for code in ("de", "en", "ja")
    ]
    missing = soup(docs, "404.html").select_one("section[lang=de]")
    assert missing.h1.get_text() == "Seite nicht gefunden"
    assert missing.a.get_text() == "Zur deutschen Website"
    script = (docs / "_build" / "html" / "de" / "_static" / "translations.js").read_text("utf-8")
    assert '"verified": "geprüft"' in script

    # A language without its interface catalogue is an error, not a site half in English.
    catalogue_path(docs, "de", INTERFACE).unlink()
    again = build(docs, "--lang", "de")
    assert again.returncode != 0
    assert "language 'de' has no interface catalogue" in again.log, again.log[-3000:]
