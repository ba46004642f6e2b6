"""Tables that fit the page, on a desktop and on a phone, without sideways scrolling.

- Code in a table cell may break after ``.``, ``_``, ``(``, ``,`` and ``=``, and a name in
  plain text after ``_`` (a ``<wbr>``): a long name no longer sets the minimum width of its
  column, and it breaks, where it must, at a sensible point.
- A table of three or more columns gets the class ``stacked-table``, and each body cell the
  attribute ``data-label``, the header of its column: on a phone (``_static/gradmodes.css``)
  every row becomes a block whose cells are labelled by their headers.

The HTML translator writes both (``TableFitTranslator``; the theme wraps it in its own).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.writers.html5 import HTML5Translator

STACKED = "stacked-table"
STACKED_MIN_COLUMNS = 3  # a table of two columns fits a phone as it is
# Where code may break: after these characters, when more of the name follows.
CODE_BREAK = re.compile(r"(?<=[._(,=])(?=[\w(\[])")
NAME_BREAK = re.compile(r"(?<=[^\W_])_(?=[^\W_])")  # small_mlp -> small_<wbr>mlp
# Sphinx writes each word of inline code as <span class="pre">word</span>.
PRE_SPAN = re.compile(r'(<span class="pre">)(.*?)(</span>)')


def code_breaks(word: str) -> str:
    """``word`` (already HTML-escaped inline code) with a ``<wbr>`` at each break point.

    >>> code_breaks("model.train(was_training)")
    'model.<wbr>train(<wbr>was_<wbr>training)'
    >>> code_breaks("x.grad") + " " + code_breaks("f()") + " " + code_breaks("a=1")
    'x.<wbr>grad f() a=<wbr>1'
    """
    return CODE_BREAK.sub("<wbr>", word)


def name_breaks(text: str) -> str:
    """Plain ``text`` with a ``<wbr>`` after each ``_`` inside a name.

    >>> name_breaks("frozen_but_head, _private and e.g.")
    'frozen_<wbr>but_<wbr>head, _private and e.g.'
    """
    return NAME_BREAK.sub("_<wbr>", text)


def _grid(rows: list[nodes.row]) -> Iterator[tuple[nodes.entry, int, int]]:
    """Each entry of ``rows`` with its first column and its width in columns.

    Cells that span rows (``morerows``) hold their columns in the rows below them.
    """
    held: dict[int, int] = {}  # column -> rows it is still held for
    for row in rows:
        column = 0
        for entry in row.children:
            while held.get(column, 0) > 0:
                column += 1
            width = entry.get("morecols", 0) + 1
            for spanned in range(column, column + width):
                held[spanned] = entry.get("morerows", 0) + 1
            yield entry, column, width
            column += width
        held = {column: count - 1 for column, count in held.items() if count > 1}


def _text(entry: nodes.entry) -> str:
    return " ".join(entry.astext().split())


def label_cells(table: nodes.table) -> int:
    """Give each body cell of ``table`` the header of its column as ``label``.

    Only tables of ``STACKED_MIN_COLUMNS`` or more columns with a header are labelled; they
    get the class ``stacked-table``. A cell spanning columns with different headers, and a
    column whose header is empty, get no label. Returns the number of cells labelled.

    >>> from docutils.core import publish_doctree
    >>> doctree = publish_doctree('''
    ... ==== ===== =====
    ... ..   Size  Count
    ... ==== ===== =====
    ... a    1     2
    ... b    3     4
    ... ==== ===== =====
    ... ''')
    >>> table = doctree.next_node(nodes.table)
    >>> label_cells(table), table["classes"]
    (4, ['stacked-table'])
    >>> [entry.get("label") for entry in table.findall(nodes.entry)][3:6]
    [None, 'Size', 'Count']
    """
    groups = [child for child in table.children if isinstance(child, nodes.tgroup)]
    if len(groups) != 1 or groups[0]["cols"] < STACKED_MIN_COLUMNS:
        return 0
    group = groups[0]
    heads = [child for child in group.children if isinstance(child, nodes.thead)]
    bodies = [child for child in group.children if isinstance(child, nodes.tbody)]
    if not heads or not bodies:
        return 0
    headers = [""] * group["cols"]
    for entry, column, width in _grid(list(heads[0].children)):
        for spanned in range(column, column + width):
            headers[spanned] = _text(entry)  # the last header row wins
    labelled = 0
    for entry, column, width in _grid(list(bodies[0].children)):
        names = set(headers[column : column + width])
        if len(names) == 1 and (name := names.pop()):
            entry["label"] = name
            labelled += 1
    table["classes"].append(STACKED)
    return labelled


def label_tables(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """``doctree-resolved``: label the cells of every table of an HTML page."""
    if app.builder.format != "html":
        return
    for table in doctree.findall(nodes.table):
        label_cells(table)


class TableFitTranslator(HTML5Translator):
    """Writes ``data-label`` on labelled cells, and break points into names inside cells."""

    in_cell = 0

    def starttag(
        self, node: nodes.Element, tagname: str, suffix: str = "\n", empty: bool = False, **atts
    ) -> str:
        if isinstance(node, nodes.entry) and node.get("label"):
            atts["data-label"] = node["label"]
        return super().starttag(node, tagname, suffix, empty, **atts)

    def visit_entry(self, node: nodes.entry) -> None:
        self.in_cell += 1
        super().visit_entry(node)

    def depart_entry(self, node: nodes.entry) -> None:
        super().depart_entry(node)
        self.in_cell -= 1

    def visit_Text(self, node: nodes.Text) -> None:
        start = len(self.body)
        super().visit_Text(node)
        if not self.in_cell:
            return
        for i in range(start, len(self.body)):
            if self.protect_literal_text:
                self.body[i] = PRE_SPAN.sub(lambda m: m[1] + code_breaks(m[2]) + m[3], self.body[i])
            else:
                self.body[i] = name_breaks(self.body[i])


def setup(app: Sphinx) -> dict[str, Any]:
    # The theme (pydata-sphinx-theme) wraps a registered translator in its own mixin.
    app.set_translator("html", TableFitTranslator)
    app.connect("doctree-resolved", label_tables)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


__all__ = ["setup"]
