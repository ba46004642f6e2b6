"""The search page of each language finds the right pages for queries in that language."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from _browser import Watch

if TYPE_CHECKING:
    from playwright.sync_api import Page

OpenPage = Callable[..., tuple["Page", Watch]]

# (language, query, pages that must be among the results)
EXPECTED = [
    ("ja", "勾配", {"index", "comparison"}),
    ("ja", "推論", {"comparison"}),
    ("ja", "凍結", {"index", "comparison"}),
    ("en", "gradient", {"index", "comparison"}),
    ("en", "inference", {"comparison"}),
    ("en", "freeze", {"index", "comparison"}),
]
NOWHERE = "Kubernetes"  # a word no page uses


def search(page: Page, server: str, lang: str, query: str) -> set[str]:
    """The docnames the search page of ``lang`` lists for ``query``, once it has finished."""
    page.goto(f"{server}/{lang}/search.html?q={quote(query)}")
    # Sphinx's searchtools sets the results title to "Search Results" (translated) when done.
    page.wait_for_function(
        "() => typeof Search !== 'undefined' && Search.title"
        " && Search.title.innerText === Documentation.gettext('Search Results')"
    )
    hrefs = page.eval_on_selector_all("#search-results ul.search li > a", "a => a.map(x => x.href)")
    prefix = f"{server}/{lang}/"
    return {href.removeprefix(prefix).split("#")[0].removesuffix(".html") for href in hrefs}


@pytest.mark.parametrize(("lang", "query", "expected"), EXPECTED)
def test_search_finds_the_pages(
    open_page: OpenPage, server: str, lang: str, query: str, expected: set[str]
) -> None:
    page, seen = open_page(locale=f"{lang}-JP" if lang == "ja" else "en-US")
    found = search(page, server, lang, query)
    assert expected <= found, found
    assert seen.take() == []


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_search_finds_nothing_for_a_word_no_page_uses(
    open_page: OpenPage, server: str, lang: str
) -> None:
    page, _ = open_page()
    assert search(page, server, lang, NOWHERE) == set()
