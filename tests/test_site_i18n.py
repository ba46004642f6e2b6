"""Every language of the built site: its translations reach the pages, and so do its metadata."""

from __future__ import annotations

import json
import re
import runpy

import pytest
from _catalogues import INTERFACE, catalogue_path, untranslated_on_pages
from _site import DOCS, LANGUAGES, SOURCE_LANGUAGE, TRANSLATIONS, BuiltSite, pages
from bs4 import BeautifulSoup

pytestmark = pytest.mark.site
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
BUILD = runpy.run_path(str(DOCS / "build.py"))


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_no_translated_message_shows_its_english(site: BuiltSite, lang: str) -> None:
    """Outside code and outputs, the page shows no English text of a message its catalogue
    translates (nor the interface's, in text, tooltips and labels): nothing was dropped."""
    problems = untranslated_on_pages(DOCS, site.html / lang, lang)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_links_to_itself_in_every_language(site: BuiltSite, lang: str) -> None:
    for page in pages():
        links = {
            str(link["hreflang"]): str(link["href"])
            for link in site.soup(lang, page).select('link[rel="alternate"][hreflang]')
        }
        assert sorted(links) == sorted([*LANGUAGES, "x-default"]), page
        for code in LANGUAGES:
            target = (site.page(lang, page).parent / links[code]).resolve()
            assert target == site.page(code, page).resolve(), (page, code)
        assert links["x-default"] == links[SOURCE_LANGUAGE]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_has_a_description_in_its_language(site: BuiltSite, lang: str) -> None:
    descriptions = {}
    for page in pages():
        meta = site.soup(lang, page).select('meta[name="description"]')
        assert len(meta) == 1, page
        descriptions[page] = str(meta[0]["content"])
        assert 20 <= len(descriptions[page]) <= 160, (page, descriptions[page])
        assert "✓" not in descriptions[page]  # no claim marks
        assert bool(JAPANESE.search(descriptions[page])) == (lang == "ja"), page
    assert len(set(descriptions.values())) == len(descriptions)  # one per page


def test_the_404_page_is_titled_in_the_readers_language(site: BuiltSite) -> None:
    """Its title is the source language's; its script has the title of every language."""
    page = (site.html / "404.html").read_text(encoding="utf-8")
    html = BeautifulSoup(page, "html.parser")
    titles = json.loads(re.search(r"var titles = (\{.*?\});", page).group(1))
    assert sorted(titles) == sorted(LANGUAGES)
    assert html.title.get_text() == titles[SOURCE_LANGUAGE]
    for code in LANGUAGES:
        heading, _, _ = BUILD["not_found_text"](code)
        assert titles[code].startswith(heading)
        assert html.select_one(f"section[lang={code}] h1").get_text() == heading
        if code != SOURCE_LANGUAGE:
            assert catalogue_path(DOCS, code, INTERFACE).is_file()
            assert heading != BUILD["NOT_FOUND"][0], code  # translated
