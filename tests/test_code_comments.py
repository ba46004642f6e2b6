"""Code cells: comments in the page's language, code exactly as executed, executed once.

A translated page shows each cell's comments from the page's catalogue; every other token of
its code is the code myst-nb executed (from the English page, once for every language: that
the translations execute nothing is ``test_site.py``'s ``test_translations_reuse_...``).
"""

from __future__ import annotations

import io
import json
import sys
import tokenize

import pytest
from _catalogues import translator
from _site import DOCS, TRANSLATIONS, BuiltSite, notebooks

sys.path.insert(0, str(DOCS / "_ext"))
from code_comments import comment_blocks, translate_comments

COMMENTARY = {tokenize.COMMENT, tokenize.NL}


def code_tokens(code: str) -> list[tuple[int, str]]:
    """The tokens of ``code`` apart from comments (and the line breaks that only they make).

    >>> code_tokens("x = 1  # one\\n# two\\n") == code_tokens("x = 1  # 一\\n# 二\\n# 三\\n")
    True
    >>> code_tokens("x = 1") == code_tokens("x = 2")
    False
    """
    tokens = tokenize.generate_tokens(io.StringIO(code.rstrip() + "\n").readline)
    return [(t.type, t.string) for t in tokens if t.type not in COMMENTARY]


def shown_cells(site: BuiltSite, lang: str, page: str) -> list[str]:
    return [pre.get_text() for pre in site.soup(lang, page).select("div.cell_input pre")]


def executed_cells(site: BuiltSite, page: str) -> list[str]:
    notebook = json.loads((site.html / "jupyter_execute" / f"{page}.ipynb").read_text("utf-8"))
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]


def in_order(shown: list[str], executed: list[str]) -> list[str]:
    """The executed cells that ``shown`` shows, matched in order by their code tokens."""
    matched, rest = [], iter(executed)
    for code in shown:
        tokens = code_tokens(code)
        matched.append(next((cell for cell in rest if code_tokens(cell) == tokens), ""))
    return matched


pytestmark = pytest.mark.site


@pytest.mark.parametrize("lang", TRANSLATIONS)
@pytest.mark.parametrize("page", notebooks())
def test_each_cell_shows_the_executed_code_with_its_comments_translated(
    site: BuiltSite, lang: str, page: str
) -> None:
    shown = shown_cells(site, lang, page)
    source = shown_cells(site, "en", page)
    assert len(shown) == len(source), page
    executed = in_order(shown, executed_cells(site, page))
    assert all(executed), f"{page}: a cell's code is not the code that was executed"
    translated = translator(DOCS, lang, page)
    for english, code, cell in zip(source, shown, executed, strict=True):
        assert code_tokens(code) == code_tokens(cell)
        assert english.strip() == cell.strip()  # the English page shows the executed code
        assert code.strip() == translate_comments(cell, translated).strip()
        for block in comment_blocks(cell):
            assert translated(block.message), f"{page}: comment not translated: {block.message!r}"
