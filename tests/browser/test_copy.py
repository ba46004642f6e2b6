"""Copy buttons: each copies exactly its cell's code, which is the code that was executed.

On a translated page the code's comments are in the page's language (``code_comments.py``):
the button copies the executed code with its comments translated from the page's catalogue.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from _browser import Watch, page_language
from _catalogues import translator
from _site import DOCS, SOURCE_LANGUAGE, BuiltSite
from myst_nb.core.read import read_myst_markdown_notebook

sys.path.insert(0, str(DOCS / "_ext"))
from code_comments import translate_comments

if TYPE_CHECKING:
    from playwright.sync_api import Page

OpenPage = Callable[..., tuple["Page", Watch]]
NOT_SHOWN = {"remove-cell", "remove-input"}  # myst-nb tags that leave the code off the page
# What a click copied, the clipboard emptied again for the next click (one call, not two).
TAKE_CLIPBOARD = """async () => {
  const text = await navigator.clipboard.readText();
  await navigator.clipboard.writeText("");
  return text;
}"""


def shown_code(docname: str) -> list[str]:
    """The code cells of ``docs/<docname>.md`` that the page shows, in order."""
    text = (DOCS / f"{docname}.md").read_text(encoding="utf-8")
    cells = read_myst_markdown_notebook(text).cells
    return [
        cell.source
        for cell in cells
        if cell.cell_type == "code" and not NOT_SHOWN & set(cell.metadata.get("tags", []))
    ]


def in_language(code: list[str], lang: str, docname: str) -> list[str]:
    """``code`` as the page of ``lang`` shows it: its comments from the page's catalogue."""
    if lang == SOURCE_LANGUAGE:
        return code
    translated = translator(DOCS, lang, docname)
    return [translate_comments(cell, translated) for cell in code]


def executed_code(site: BuiltSite, docname: str) -> list[str]:
    """The code cells of the notebook myst-nb executed for ``docname`` (all of them)."""
    notebook = json.loads((site.html / "jupyter_execute" / f"{docname}.ipynb").read_text("utf-8"))
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]


def notebook_pages(pages: list[str]) -> list[tuple[str, str]]:
    """(page, docname) of every built page whose source is a notebook with code shown."""
    found = []
    for path in pages:
        if "/" not in path:
            continue  # the root and 404 pages
        docname = path.split("/", 1)[1].removesuffix(".html")
        if (DOCS / f"{docname}.md").is_file() and shown_code(docname):
            found.append((path, docname))
    return found


def test_each_copy_button_copies_the_code_of_its_cell(
    site: BuiltSite, pages: list[str], open_page: OpenPage, server: str
) -> None:
    page, seen = open_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    notebooks = notebook_pages(pages)
    assert notebooks, "no page with code cells was found"
    for path, docname in notebooks:
        code = shown_code(docname)
        assert set(code) <= set(executed_code(site, docname)), docname
        page.goto(f"{server}/{path}")
        page.evaluate("document.querySelectorAll('details').forEach(d => (d.open = true))")
        assert page.locator(".cell_output button.copybtn").count() == 0, path
        cells = page.locator("div.cell_input")
        buttons = cells.evaluate_all(
            "cells => cells.map(c => c.querySelectorAll('button.copybtn').length)"
        )
        assert buttons == [1] * len(code), path  # one button in each cell shown, no more
        page.evaluate("navigator.clipboard.writeText('')")
        copied = []
        for i in range(len(code)):
            cells.nth(i).locator("button.copybtn").click()
            copied.append(page.evaluate(TAKE_CLIPBOARD))
        assert copied == in_language(code, page_language(path), docname), path
    assert seen.take() == []
