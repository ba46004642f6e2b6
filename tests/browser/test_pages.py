"""Every built page in Chromium: loads cleanly, its links resolve, it is accessible, fits a phone.

Each test walks every page found in the build output and reports all problems at once.
The root page redirects at once with JavaScript, so its own content is checked as a reader
without JavaScript sees it (the redirect itself: test_navigation.py).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import unquote, urldefrag

from _browser import PHONE, Watch, page_language, visit
from bs4 import BeautifulSoup

if TYPE_CHECKING:
    from playwright.sync_api import Page

OpenPage = Callable[..., tuple["Page", Watch]]
SERIOUS = {"serious", "critical"}  # axe-core impacts that fail the test


def report(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}:\n  " + "\n  ".join(found) for page, found in problems.items())


def test_every_page_loads_without_errors_or_requests_elsewhere(
    pages: list[str], open_page: OpenPage, server: str
) -> None:
    page, seen = open_page()
    problems = {}
    for path in pages:
        visit(page, server, path)
        if found := seen.take():
            problems[path] = found
    assert not problems, report(problems)


@cache
def fetch(url: str) -> tuple[int, frozenset[str]]:
    """HTTP status of ``url`` and the ids (and a[name]) its HTML defines."""
    try:
        with urllib.request.urlopen(url) as response:
            body, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        return error.code, frozenset()
    if not url.split("?")[0].endswith((".html", "/")):
        return status, frozenset()
    soup = BeautifulSoup(body, "html.parser")
    ids = {str(tag["id"]) for tag in soup.select("[id]")}
    ids |= {str(tag["name"]) for tag in soup.select("a[name]")}
    return status, frozenset(ids)


def test_every_internal_link_and_anchor_resolves(
    pages: list[str], open_page: OpenPage, server: str
) -> None:
    page, _ = open_page()
    problems: dict[str, list[str]] = {}
    checked = 0
    for path in pages:
        visit(page, server, path)
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        for href in hrefs:
            if not href.startswith(server + "/"):
                continue  # another site, mailto:, javascript: ...
            target, anchor = urldefrag(href)
            status, ids = fetch(target)
            checked += 1
            if status != 200:
                problems.setdefault(path, []).append(f"{href}: HTTP {status}")
            elif anchor and unquote(anchor) not in ids:
                problems.setdefault(path, []).append(f"{href}: no element with this id")
    assert not problems, report(problems)
    assert checked > 10 * len(pages)  # the links were found


def test_every_page_declares_its_language(
    pages: list[str], open_page: OpenPage, server: str
) -> None:
    page, _ = open_page()
    wrong = {}
    for path in pages:
        visit(page, server, path)
        lang = page.evaluate("document.documentElement.lang")
        if lang != page_language(path):
            wrong[path] = lang
    assert not wrong


def test_every_page_passes_axe(
    pages: list[str], open_page: OpenPage, server: str, axe_source: str
) -> None:
    """axe-core finds no serious or critical accessibility violation on any page."""
    page, _ = open_page()
    problems = {}
    for path in pages:
        visit(page, server, path)
        page.add_script_tag(content=axe_source)
        violations = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
                .map(v => ({id: v.id, impact: v.impact, help: v.help,
                            where: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))"""
        )
        if serious := [v for v in violations if v["impact"] in SERIOUS]:
            problems[path] = [f"{v['impact']} {v['id']}: {v['help']} {v['where']}" for v in serious]
    assert not problems, report(problems)


def test_no_page_scrolls_sideways_on_a_phone(
    pages: list[str], open_page: OpenPage, server: str
) -> None:
    page, _ = open_page(viewport=PHONE)
    too_wide = {}
    for path in pages:
        visit(page, server, path)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[path] = width
    assert not too_wide, f"pages wider than {PHONE['width']} px: {too_wide}"
