"""The built site, in every language: complete, verified, switchable, executed once."""

from __future__ import annotations

import functools
import json
import re
import runpy
import sys
from pathlib import Path

import pytest
import torch
from _site import (
    DOCS,
    LANGUAGES,
    SOURCE_LANGUAGE,
    TRANSLATIONS,
    BuiltSite,
    notebooks,
    pages,
    parsed,
)
from bs4 import Tag
from sphinx.search import languages
from sphinx.util import import_object

from gradmodes import records
from gradmodes.claims import all_claims
from gradmodes.records import load_records

sys.path.insert(0, str(DOCS / "_ext"))
from observation_text import failure_parts
from observation_text import translator as observation_translator

pytestmark = pytest.mark.site
VERIFICATION = "verification"


def entries(site: BuiltSite, lang: str) -> dict[str, Tag]:
    """The verification page's claim entries, by claim id (the first element with the id)."""
    return _entries(site.page(lang, VERIFICATION))


@functools.cache
def _entries(path: Path) -> dict[str, Tag]:
    # One pass over the page: a CSS selector per claim walks the whole page each time.
    found: dict[str, Tag] = {}
    for element in parsed(path).find_all(id=re.compile("^claim-")):
        found.setdefault(str(element["id"]).removeprefix("claim-"), element)
    return found


def marks(node: Tag) -> list[Tag]:
    return node.select(".claim-mark")


def mark_id(mark: Tag) -> str:
    return str(mark["href"]).rsplit("#claim-", 1)[1]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_is_built_with_its_language(site: BuiltSite, lang: str) -> None:
    for page in pages():
        html = site.soup(lang, page).html
        assert html is not None and html["lang"] == lang, page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_switcher_links_to_the_same_page_in_every_language(site: BuiltSite, lang: str) -> None:
    for page in pages():
        switcher = site.soup(lang, page).select_one("nav.lang-switcher")
        assert switcher is not None, page
        links = {str(a["hreflang"]): str(a["href"]) for a in switcher.select("a")}
        assert sorted(links) == sorted(code for code in LANGUAGES if code != lang), page
        for code, href in links.items():
            target = (site.page(lang, page).parent / href).resolve()
            assert target == site.page(code, page).resolve(), (page, code, href)
            assert target.exists()


def test_the_root_page_offers_every_language(site: BuiltSite) -> None:
    root = parsed(site.html / "index.html")
    hrefs = sorted(str(a["href"]) for a in root.select("a[hreflang]"))
    assert hrefs == sorted(f"{code}/index.html" for code in LANGUAGES)
    assert "navigator.languages" in root.decode()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_comparison_table_is_there_and_every_cell_is_verified(
    site: BuiltSite, lang: str
) -> None:
    tables = site.soup(lang, "comparison").select("table")
    table = next(t for t in tables if "model.eval()" in t.get_text())
    headers = [th.get_text("", strip=True) for th in table.select("thead th")]
    assert len(headers) == 4 and "model.eval()" in headers[1] and "no_grad" in headers[3]
    rows = table.select("tbody tr")
    assert len(rows) == 4  # purpose, scope, main effect, typical use
    for row in rows:
        for cell in row.select("td")[1:]:
            cell_marks = marks(cell)
            assert cell_marks, f"a cell cites no claim: {cell.get_text()[:80]!r}"
            assert all("claim-verified" in m["class"] for m in cell_marks)


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_translated_pages_cite_the_same_claims(site: BuiltSite, lang: str) -> None:
    for page in pages():
        source = sorted(
            mark_id(m) for m in marks(site.soup(SOURCE_LANGUAGE, page)) if m.name == "a"
        )
        translated = sorted(mark_id(m) for m in marks(site.soup(lang, page)) if m.name == "a")
        assert translated == source, page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_verification_page_lists_every_claim_and_none_is_false(
    site: BuiltSite, lang: str
) -> None:
    page = site.soup(lang, VERIFICATION)
    listed = sorted(str(t["id"]).removeprefix("claim-") for t in page.select("[id^=claim-]"))
    assert listed == sorted(c.id for c in all_claims())
    assert page.select(".claim-failed") == []
    statuses = {m["class"][1] for m in marks(page)}
    assert statuses <= {"claim-verified", "claim-not-run", "claim-not-applicable"}
    facts = page.get_text()
    assert "torch" in facts and "Python" in facts and "device" in facts


# The pages' file names, as the verification page links to them ("performance.html").
PAGE_FILES = {f"{page}.html" for page in pages()} - {f"{VERIFICATION}.html"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_registered_claim_is_cited_by_some_page(site: BuiltSite, lang: str) -> None:
    cited = {
        mark_id(m)
        for page in pages()
        if page != VERIFICATION
        for m in marks(site.soup(lang, page))
        if m.name == "a"
    }
    if not torch.cuda.is_available():
        # A CUDA-only claim is cited only inside `{only} cuda` blocks, which a build without
        # CUDA leaves out: the verification page still names the pages that cite it.
        for c in all_claims():
            entry = entries(site, lang).get(c.id)
            facts = entry.select_one(".claim-facts") if entry is not None else None
            links = facts.select("a[href]") if facts is not None else []
            if c.needs_cuda and any(a["href"].split("#")[0] in PAGE_FILES for a in links):
                cited.add(c.id)
    assert sorted({c.id for c in all_claims()} - cited) == []


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_translations_reuse_the_executed_notebooks(site: BuiltSite, lang: str) -> None:
    log = site.logs[lang]
    assert "Executed notebook" not in log
    assert "Executing notebook" not in log
    cached = set(re.findall(r"([\w-]+)\.md: Using cached notebook", log))
    assert sorted({page.rsplit("/", 1)[-1] for page in notebooks()} - cached) == []


SEARCH_WORDS = {"en": ["gradient", "frozen", "inference"], "ja": ["勾配", "凍結", "推論"]}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_search_index_holds_the_words_of_the_language(site: BuiltSite, lang: str) -> None:
    """Japanese has no spaces: its words are indexed only if Sphinx's ja splitter ran."""
    text = (site.html / lang / "searchindex.js").read_text(encoding="utf-8").strip()
    index = json.loads(text.removeprefix("Search.setIndex(").removesuffix(";").removesuffix(")"))
    searcher = languages[lang]
    searcher = import_object(searcher) if isinstance(searcher, str) else searcher
    stem = searcher({}).stem
    assert [w for w in SEARCH_WORDS[lang] if stem(w) not in index["terms"]] == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_copy_buttons_go_on_code_inputs_only(site: BuiltSite, lang: str) -> None:
    """sphinx-copybutton adds a button to what ``copybutton_selector`` matches."""
    selector = runpy.run_path(str(DOCS / "conf.py"))["copybutton_selector"]
    page = site.soup(lang, "comparison")
    targets = page.select(selector)
    assert len(targets) == len(page.select("div.cell_input"))
    assert all(t.find_parent("div", class_="cell_output") is None for t in targets)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_claim_is_an_entry_grouped_by_topic_with_a_filter_of_plain_links(
    site: BuiltSite, lang: str
) -> None:
    page = site.soup(lang, VERIFICATION)
    entries = page.select(".claim-entry")
    assert sorted(str(e["id"]).removeprefix("claim-") for e in entries) == sorted(
        c.id for c in all_claims()
    )
    for entry in entries:
        topic = entry.find_parent("section")
        prefix = str(entry["id"]).removeprefix("claim-").split(".")[0]
        assert topic is not None and topic["id"] == f"topic-{prefix}", entry["id"]
        assert entry.select_one(".claim-statement").get_text(strip=True)
        facts = entry.select(".claim-facts > dd")
        # this build, range, cited by, records, (failures outside the range,) evidence
        assert len(facts) == 5 + bool(entry.select(".record-outside")), entry["id"]
    contents = page.select_one(".claim-contents")
    targets = {str(a["href"]) for a in contents.select("a")}
    topics = {f"#{s['id']}" for s in page.select("section.claim-topic")}
    assert topics <= targets and {f"#{e['id']}" for e in entries} <= targets


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_claim_mark_links_to_its_entry(site: BuiltSite, lang: str) -> None:
    entries = {str(e["id"]) for e in site.soup(lang, VERIFICATION).select(".claim-entry")}
    for page in pages():
        for mark in marks(site.soup(lang, page)):
            if mark.name == "a":
                assert str(mark["href"]).split("#")[1] in entries, (page, mark["href"])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_mark_of_a_claim_stated_for_some_releases_names_them(
    site: BuiltSite, lang: str
) -> None:
    ranges = {c.id: c.torch_versions for c in all_claims()}
    seen = 0
    for page in pages():
        if page == VERIFICATION:
            continue
        for mark in site.soup(lang, page).select("a.claim-mark"):
            shown = mark.select_one(".claim-range")
            wanted = ranges[mark_id(mark)]
            assert (shown.get_text() if shown else "") == (
                f"（torch {wanted}）" if lang == "ja" else f"(torch {wanted})"
            ) * bool(wanted), (page, mark_id(mark))
            seen += bool(wanted)
    assert seen  # marks of ranged claims were found


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_ranged_claims_entry_quotes_how_its_check_fails_outside_its_range(
    site: BuiltSite, lang: str
) -> None:
    """For each claim with a torch range, its entry lists exactly the recorded releases outside
    the range where its check (as it stands) fails, each with the failure."""
    recorded = load_records(DOCS / "_data" / "evidence")
    listed = 0
    for c in all_claims():
        expected = [
            r.claims[c.id].failure or ""
            for r in recorded
            if c.torch_versions
            and not c.applies(r.environment.torch)
            and records.outcome(r, c) == "false"
        ]
        entry = entries(site, lang).get(c.id)
        assert entry is not None, c.id
        # compared word by word: docutils writes a literal's runs of spaces and its line
        # breaks as no-break spaces and spaces
        shown = [
            [" ".join(code.get_text().split()) for code in item.select("code")]
            for item in entry.select(".record-outside li")
        ]
        failures = [f.removeprefix(f"claim {c.id!r} is false: ") for f in expected]
        assert shown == [_failure_codes(f, lang) for f in failures], c.id
        listed += len(shown)
    assert listed or not recorded  # the records show what changed


def _failure_codes(failure: str, lang: str) -> list[str]:
    """How a failure is shown: its label (in ``lang``), the expected and the observed value;
    another error as it is."""
    parts = failure_parts(failure)
    if parts is None:
        return [" ".join(failure.split())]
    what, expected, observed = parts
    label = observation_translator(DOCS, ["locale"], lang).label(what)
    return [" ".join(text.split()) for text in (label, expected, observed)]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_evidence_page_shows_every_claim_in_every_record(site: BuiltSite, lang: str) -> None:
    recorded = load_records(DOCS / "_data" / "evidence")
    page = site.soup(lang, "evidence")
    rows = page.select(".evidence-matrix tbody tr")
    assert sorted(r.select_one("code").get_text() for r in rows) == sorted(
        c.id for c in all_claims()
    )
    assert all(len(r.select("abbr.rec")) == len(recorded) for r in rows)
    assert len(page.select(".record-environment")) == len(recorded)
    footer = site.soup(lang, "index").select_one(".checked-with").get_text(" ", strip=True)
    if recorded:
        assert recorded[0].environment.torch in footer and recorded[-1].environment.torch in footer
