"""Getting around: the root page picks the reader's language, the switcher keeps the page,
a missing page offers every language, titled in the reader's."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from _browser import NOT_FOUND, ROOT, Watch, page_language
from _site import LANGUAGES, SOURCE_LANGUAGE

if TYPE_CHECKING:
    from playwright.sync_api import Page

OpenPage = Callable[..., tuple["Page", Watch]]


@pytest.mark.parametrize(
    ("locale", "lang"),
    [("ja-JP", "ja"), ("ja", "ja"), ("en-US", "en"), ("en-GB", "en"), ("de-DE", SOURCE_LANGUAGE)],
)
def test_the_root_page_sends_the_reader_to_their_language(
    open_page: OpenPage, server: str, locale: str, lang: str
) -> None:
    page, seen = open_page(locale=locale)
    page.goto(f"{server}/{ROOT}")
    page.wait_for_url(f"{server}/{lang}/index.html")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.lang") == lang
    assert seen.take() == []


def test_without_javascript_the_root_page_links_every_language(
    open_page: OpenPage, server: str
) -> None:
    page, _ = open_page(java_script_enabled=False)
    page.goto(f"{server}/{ROOT}")
    assert page.url == f"{server}/{ROOT}"  # no redirect without JavaScript
    for code, name in LANGUAGES.items():
        page.get_by_role("link", name=name).click()
        page.wait_for_url(f"{server}/{code}/index.html")
        page.go_back()


def test_the_language_switcher_keeps_the_reader_on_the_same_page(
    pages: list[str], open_page: OpenPage, server: str
) -> None:
    """Click every language of the switcher on every page: from each page to each later
    language (in ``LANGUAGES``) and back, which clicks the earlier languages' links too."""
    page, seen = open_page()
    translated = [p for p in pages if p.split("/", 1)[0] in LANGUAGES]
    assert translated
    order = list(LANGUAGES)
    wrong = []
    for path in translated:
        here, rest = path.split("/", 1)
        for there in order[order.index(here) + 1 :]:
            page.goto(f"{server}/{path}")
            with page.expect_navigation():
                page.click(f"nav.lang-switcher a[hreflang={there}]")
            arrived = page.url.removeprefix(f"{server}/")
            with page.expect_navigation():
                page.click(f"nav.lang-switcher a[hreflang={here}]")
            back = page.url.removeprefix(f"{server}/")
            if (arrived, back) != (f"{there}/{rest}", path):
                wrong.append(f"{path} -> {arrived} -> {back}")
    assert wrong == []
    assert seen.take() == []


def test_a_missing_page_gets_the_404_page_in_every_language(
    open_page: OpenPage, server: str
) -> None:
    page, _ = open_page()
    missing = f"{server}/{SOURCE_LANGUAGE}/no/such/page.html"
    response = page.goto(missing)
    assert response is not None and response.status == 404
    assert page.evaluate("document.documentElement.lang") == page_language(NOT_FOUND)
    for code in LANGUAGES:
        section = page.locator(f"section[lang={code}]")
        assert section.locator("h1").inner_text().strip()
        section.locator(f"a[hreflang={code}]").click()  # absolute: works at any depth
        page.wait_for_url(f"{server}/{code}/index.html")
        page.goto(missing)


@pytest.mark.parametrize(
    ("locale", "lang"), [("ja-JP", "ja"), ("en-US", "en"), ("de-DE", SOURCE_LANGUAGE)]
)
def test_the_404_page_is_titled_in_the_readers_language(
    open_page: OpenPage, server: str, locale: str, lang: str
) -> None:
    page, _ = open_page(locale=locale)
    page.goto(f"{server}/{lang}/no/such/page.html")
    heading = page.locator(f"section[lang={lang}] h1").inner_text().strip()
    assert page.title().startswith(heading)
    assert page.evaluate("document.documentElement.lang") == lang
