"""Code shown on the site fits the content column: no line is longer than ``CODE_WIDTH``.

Every code cell of every notebook page, and every fenced code block in their prose (not
the directives: ``{note}`` holds prose), is checked line by line. ``CODE_WIDTH`` characters
of code fit a desktop's column: ``tests/browser/test_fit.py`` measures it in Chromium.
"""

from __future__ import annotations

import re

import pytest
from _site import CODE_WIDTH, DOCS, notebooks
from myst_nb.core.read import read_myst_markdown_notebook

# A fenced block in Markdown: its info string (the language, or {directive}), its body.
FENCE = re.compile(
    r"^(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)", re.MULTILINE | re.DOTALL
)


def shown_code(docname: str) -> list[str]:
    """The code of ``docs/<docname>.md``: its code cells, then its fenced code blocks.

    >>> FENCE.findall("text\\n```python\\nx = 1\\n```\\n")
    [('```', 'python', 'x = 1\\n')]
    """
    cells = read_myst_markdown_notebook((DOCS / f"{docname}.md").read_text("utf-8")).cells
    code = [cell.source for cell in cells if cell.cell_type == "code"]
    for cell in cells:
        if cell.cell_type == "markdown":
            code += [m["body"] for m in FENCE.finditer(cell.source) if "{" not in m["info"]]
    return code


def too_long(code: str) -> list[str]:
    """The lines of ``code`` longer than ``CODE_WIDTH`` characters.

    >>> too_long("short\\n" + "x" * (CODE_WIDTH + 1))
    ['xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx']
    """
    return [line for line in code.splitlines() if len(line) > CODE_WIDTH]


@pytest.mark.parametrize("docname", notebooks())
def test_no_line_of_code_is_wider_than_the_column(docname: str) -> None:
    code = shown_code(docname)
    assert code, f"{docname}: no code found"
    long = [line for block in code for line in too_long(block)]
    assert not long, f"{docname}.md: lines over {CODE_WIDTH} characters:\n" + "\n".join(long)
