"""Nothing is cut off, and nothing needs sideways scrolling but code blocks, which show a
scrollbar: every page in every language, on a desktop (1280 px) and on a phone (390 px).

The survey (``_survey.py``) visits each page at each width and measures it with one
script (``_survey.MEASURE``), run in the page: it opens every ``<details>`` and
shows every tab of a tab set, then compares, for every element the reader can see, its
``scrollWidth`` with its ``clientWidth`` (and, where its overflow is hidden, its height) and
reads its overflow style:

- a code block (``pre``) whose text passes its box (padding included) must scroll with a
  visible scrollbar, and on a desktop the code of a cell must fit (a line of ``CODE_WIDTH``
  characters, and the cell);
- any other element wider than its box is a problem: it scrolls sideways (overflow
  ``auto``/``scroll``), is cut (``hidden``/``clip``), or, in the article, spills out of it;
- so is an element whose overflow is hidden and whose content is taller than its box, and a
  page wider than the window.

The browser shows scrollbars as a desktop reader sees them (``_browser.CHROMIUM_IGNORED``;
headless Chromium hides them by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from _browser import Watch
from _survey import EACH_VIEWPORT, VIEWPORTS, Surveys, measure

if TYPE_CHECKING:
    from playwright.sync_api import Page

OpenPage = Callable[..., tuple["Page", Watch]]


@pytest.mark.parametrize("viewport", EACH_VIEWPORT)
def test_nothing_is_cut_off_and_only_code_scrolls_sideways(surveys: Surveys, viewport: str) -> None:
    problems = {path: seen.fit["problems"] for path, seen in surveys[viewport].items()}
    problems = {path: found for path, found in problems.items() if found}
    assert not problems, "\n".join(
        f"{path} at {VIEWPORTS[viewport]['width']} px:\n  " + "\n  ".join(found)
        for path, found in problems.items()
    )
    if viewport == "desktop":
        code_cells = sum(seen.fit["codeCells"] for seen in surveys[viewport].values())
        assert code_cells > 100  # the code cells were found and measured


def test_the_measurement_sees_what_it_must_refuse(open_page: OpenPage, server: str) -> None:
    """A wide table, a cut line and a code block without a scrollbar are all reported; a code
    block whose text reaches into its padding only is not (all of it is visible)."""
    page, _ = open_page()
    page.goto(f"{server}/404.html")
    page.set_content(
        """<html><body><article class="bd-article">
        <div style="width: 200px; overflow-x: auto"><table><tr><td>"""
        + "wide " * 5
        + "x" * 80
        + """</td></tr></table></div>
        <p style="width: 200px; overflow: hidden; white-space: nowrap">"""
        + "cut " * 80
        + """</p><p style="width: 200px">"""
        + "spill" * 80
        + """</p><pre style="width: 200px; overflow-x: auto; scrollbar-width: none">"""
        + "code " * 80
        + """</pre><pre style="width: 200px; overflow-x: auto">"""
        + "fine " * 80
        # text past the content box, not past the padding: all of it is visible
        + """</pre><pre style="width: 200px; box-sizing: border-box; padding: 0 40px 0 0;
        overflow-x: hidden"><span style="display: inline-block; width: 180px">in</span></pre>
        <pre style="width: 200px; box-sizing: border-box; padding: 0 40px 0 0;
        overflow-x: hidden"><span style="display: inline-block; width: 220px">out</span>"""
        + "</pre></article></body></html>"
    )
    found = measure(page, desktop=False)["problems"]
    kinds = sorted(problem.split(":", 1)[0] for problem in found)
    assert kinds == [
        "code block cut or scrolling without a visible scrollbar",
        "code block cut or scrolling without a visible scrollbar",  # "out", not "in"
        "content cut",
        "content spills out",
        "content spills out",  # the article itself, too: it holds the spilling paragraph
        "scrolls sideways",
        "the page scrolls sideways",
    ], found
