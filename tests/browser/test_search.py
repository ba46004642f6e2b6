"""The search page of each language finds the right pages for queries in that language."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from _browser import Watch
from _catalogues import INTERFACE, catalogue_path, load
from _site import DOCS, BuiltSite, pages
from bs4 import BeautifulSoup
from sphinx.search.ja import SearchJapanese

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
# (query, the page that must come first or among the first three): Japanese writes compound
# words without spaces, so these find nothing unless the query is split as the index was.
TOP_THREE = [
    ("評価モード", "eval-mode"),
    ("学習モード", "eval-mode"),
    ("勾配追跡", "no-grad"),
    ("計算グラフ", "requires-grad"),  # "When an operation is recorded": the graph itself
    ("凍結された", "requires-grad"),
    ("推論テンソル", "inference-mode"),
    ("推論モード", "inference-mode"),  # its title names the query (docs/_ext/search_scorer.js)
    ("移動統計量", "eval-mode"),
    ("落とし穴", "pitfalls"),
    ("ファインチューニング", "requires-grad"),
    ("挙動マトリクス", "matrix"),
    ("メモリ使用量", "performance"),
    ("主張の検証", "verification"),
    ("インプレース演算", "inference-mode"),
    ("スレッドローカル", "no-grad"),
]
NOWHERE = "Kubernetes"  # a word no page uses


def search(page: Page, server: str, lang: str, query: str) -> list[str]:
    """The pages the search page of ``lang`` lists for ``query``, in order, once it is done."""
    page.goto(f"{server}/{lang}/search.html?q={quote(query)}")
    # Sphinx's searchtools sets the results title to "Search Results" (translated) when done.
    page.wait_for_function(
        "() => typeof Search !== 'undefined' && Search.title"
        " && Search.title.innerText === Documentation.gettext('Search Results')"
    )
    hrefs = page.eval_on_selector_all("#search-results ul.search li > a", "a => a.map(x => x.href)")
    prefix = f"{server}/{lang}/"
    found: list[str] = []
    for href in hrefs:
        name = href.removeprefix(prefix).split("#")[0].removesuffix(".html")
        if name not in found:
            found.append(name)
    return found


@pytest.mark.parametrize(("lang", "query", "expected"), EXPECTED)
def test_search_finds_the_pages(
    open_page: OpenPage, server: str, lang: str, query: str, expected: set[str]
) -> None:
    page, seen = open_page(locale=f"{lang}-JP" if lang == "ja" else "en-US")
    found = search(page, server, lang, query)
    assert expected <= set(found), found
    assert seen.take() == []


def test_japanese_compound_words_find_their_page_among_the_first_three(
    open_page: OpenPage, server: str
) -> None:
    page, seen = open_page(locale="ja-JP")
    ranked = {query: search(page, server, "ja", query)[:3] for query, _ in TOP_THREE}
    assert [(q, ranked[q]) for q, want in TOP_THREE if want not in ranked[q]] == []
    assert seen.take() == []


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_search_finds_nothing_for_a_word_no_page_uses(
    open_page: OpenPage, server: str, lang: str
) -> None:
    page, _ = open_page()
    assert search(page, server, lang, NOWHERE) == []


def test_the_japanese_results_say_how_many_pages_were_found_and_where_objects_are(
    open_page: OpenPage, server: str
) -> None:
    """The count line and the object hits are translated by the interface catalogue."""
    catalogue = load(catalogue_path(DOCS, "ja", INTERFACE))
    (count,) = catalogue.get("Search finished, found one page matching the search query.").string
    page, seen = open_page(locale="ja-JP")
    found = search(page, server, "ja", "freeze")
    shown = page.locator("#search-results ul.search > li").count()
    assert found and shown
    summary = page.inner_text("#search-results p.search-summary")
    assert summary == count.replace("${resultCount}", str(shown))
    hit = page.locator(
        "#search-results ul.search > li", has=page.locator("a[href$='#gradmodes.freeze']")
    )
    text = hit.inner_text()
    assert catalogue.get(", in ").string in text and ", in " not in text, text
    assert seen.take() == []


def page_texts(site: BuiltSite) -> list[str]:
    """The text of every block of every Japanese page, as Sphinx fed it to the index."""
    texts: list[str] = []
    for name in pages():
        html = BeautifulSoup(site.page("ja", name).read_text(encoding="utf-8"), "html.parser")
        article = html.select_one("article") or html
        texts += [block.get_text() for block in article.select("p, li, h1, h2, h3, td, th")]
    return [text for text in texts if text.strip()]


def test_the_query_is_segmented_exactly_as_the_index_is(
    site: BuiltSite, open_page: OpenPage, server: str
) -> None:
    """The search page's JavaScript segmenter agrees with Sphinx's Python one on every text."""
    texts = page_texts(site)
    assert len(texts) > 500
    python = SearchJapanese({})
    expected = [python.splitter.split(text) for text in texts]
    page, _ = open_page(locale="ja-JP")
    page.goto(f"{server}/ja/search.html")
    segmented = page.evaluate("texts => texts.map(t => splitQuery.segment(t))", texts)
    differ = [(t, e, s) for t, e, s in zip(texts, expected, segmented, strict=True) if e != s]
    assert differ == []
    # ... and keeps the words that the index keeps (SearchJapanese.word_filter): every term of
    # the index that is one word for the segmenter, and no word of one character.
    index = (site.html / "ja" / "searchindex.js").read_text(encoding="utf-8")
    terms = json.loads(index[index.index("(") + 1 : index.rindex(")")])["terms"]
    whole = [t for t in terms if python.splitter.split(t) == [t] and t == t.strip()]
    assert page.evaluate("terms => terms.filter(t => splitQuery(t).join() !== t)", whole) == []
    short = ["の", "は", "x", "値"]
    assert not any(python.word_filter(w) for w in short)
    assert page.evaluate("words => words.flatMap(w => splitQuery(w))", short) == []
    assert page.evaluate("splitQuery('評価モード')") == ["評価", "モード"]
