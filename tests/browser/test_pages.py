"""Every built page in Chromium: loads cleanly, its links resolve, it is accessible, fits a phone.

Each test walks every page found in the build output and reports all problems at once.
The root page redirects at once with JavaScript, so its own content is checked as a reader
without JavaScript sees it (the redirect itself: test_navigation.py).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from functools import cache
from urllib.parse import unquote, urldefrag

from _browser import PHONE, page_language
from _survey import ON_DESKTOP, ON_PHONE, Surveys
from bs4 import BeautifulSoup

SERIOUS = {"serious", "critical"}  # axe-core impacts that fail the test


def report(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}:\n  " + "\n  ".join(found) for page, found in problems.items())


@ON_DESKTOP
def test_every_page_loads_without_errors_or_requests_elsewhere(surveys: Surveys) -> None:
    problems = {path: seen.problems for path, seen in surveys["desktop"].items() if seen.problems}
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


@ON_DESKTOP
def test_every_internal_link_and_anchor_resolves(surveys: Surveys, server: str) -> None:
    problems: dict[str, list[str]] = {}
    checked = 0
    for path, seen in surveys["desktop"].items():
        for href in seen.links:
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
    assert checked > 10 * len(surveys["desktop"])  # the links were found


@ON_DESKTOP
def test_every_page_declares_its_language(surveys: Surveys) -> None:
    wrong = {
        path: seen.lang
        for path, seen in surveys["desktop"].items()
        if seen.lang != page_language(path)
    }
    assert not wrong


@ON_DESKTOP
def test_every_page_passes_axe(surveys: Surveys) -> None:
    """axe-core finds no serious or critical accessibility violation on any page."""
    problems = {}
    for path, seen in surveys["desktop"].items():
        assert seen.axe is not None, path
        if serious := [v for v in seen.axe if v["impact"] in SERIOUS]:
            problems[path] = [f"{v['impact']} {v['id']}: {v['help']} {v['where']}" for v in serious]
    assert not problems, report(problems)


@ON_PHONE
def test_no_page_scrolls_sideways_on_a_phone(surveys: Surveys) -> None:
    too_wide = {
        path: seen.scroll_width
        for path, seen in surveys["phone"].items()
        if seen.scroll_width > PHONE["width"]
    }
    assert not too_wide, f"pages wider than {PHONE['width']} px: {too_wide}"
