"""Layout on a desktop and on a phone; screenshots of a few pages to look at.

The screenshots go to docs/_build/screenshots/ (``<viewport>-<lang>-<page>.png``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from _browser import DESKTOP, PHONE, SCREENSHOTS, Watch
from _site import LANGUAGES

if TYPE_CHECKING:
    from playwright.sync_api import Page

OpenPage = Callable[..., tuple["Page", Watch]]
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
SHOTS = {"index", "comparison"}  # pages to screenshot, in every language
ROW_LABELS = "table td:first-child > p > strong:only-child"


def translated(pages: list[str]) -> list[str]:
    return [path for path in pages if path.split("/", 1)[0] in LANGUAGES]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_language_switcher_sits_beside_the_page_buttons(
    pages: list[str], open_page: OpenPage, server: str, viewport: str
) -> None:
    page, _ = open_page(viewport=VIEWPORTS[viewport])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    misplaced = {}
    for path in translated(pages):
        page.goto(f"{server}/{path}", wait_until="networkidle")
        switcher = page.locator("nav.lang-switcher").bounding_box()
        buttons = page.locator(".article-header-buttons").bounding_box()
        assert switcher and buttons, path
        middle = switcher["y"] + switcher["height"] / 2
        beside = buttons["y"] <= middle <= buttons["y"] + buttons["height"]
        if not (beside and switcher["x"] + switcher["width"] <= buttons["x"]):
            misplaced[path] = (switcher, buttons)
        lang, name = path.split("/", 1)
        if name.removesuffix(".html") in SHOTS:
            page.screenshot(path=SCREENSHOTS / f"{viewport}-{lang}-{name[:-5]}.png")
    assert not misplaced


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_table_row_labels_stay_on_one_line(
    pages: list[str], open_page: OpenPage, server: str, viewport: str
) -> None:
    page, _ = open_page(viewport=VIEWPORTS[viewport])
    labels = 0
    wrapped = {}
    for path in translated(pages):
        page.goto(f"{server}/{path}", wait_until="networkidle")
        lines = page.eval_on_selector_all(
            ROW_LABELS, "labels => labels.map(l => [l.innerText, l.getClientRects().length])"
        )
        labels += len(lines)
        if broken := [text for text, count in lines if count != 1]:
            wrapped[path] = broken
    assert not wrapped
    assert labels  # the comparison table's labels were found
