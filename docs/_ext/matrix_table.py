"""The ``{behaviour-matrix}`` directive: ``gradmodes.behaviour_matrix()`` as an HTML table.

The matrix is measured while the page is built (once per build process); no cell is typed
by hand. Header cells and the caption are translatable paragraphs (their msgid is their
MyST source, as for the claim statements of ``claims.py``), so the gettext builder puts
them in the page's catalogue and each language's build shows its own headers. Body cells
are language-neutral: code (``model.eval()``, ``torch.no_grad()``), ``True``/``False``
and byte counts. A ``True``/``False`` cell also carries a class for a visual mark (see
``_static/gradmodes.css``); the word itself stays the accessible text.
"""

from __future__ import annotations

import functools
from dataclasses import fields
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from evidence_cache import package_sources
from gradmodes import MatrixRow, behaviour_matrix, grad_context

# The table's columns: a MatrixRow field and its header (English MyST source, translated
# through the page's catalogue). The first SETTINGS fields say what was set: the module mode
# and the grad mode head a block of rows (one row spanning the table), the parameters'
# requires_grad is each row's header.
HEADERS = {
    "requires_grad": "Parameters' `requires_grad`",
    "dropout_active": "Dropout active",
    "bn_stats_updated": "BatchNorm statistics updated",
    "output_requires_grad": "Output requires grad",
    "saved_bytes": "Bytes referenced by saved tensors",
    "saved_storage_bytes": "Distinct storage bytes kept for backward",
    "backward_ok": "`backward()` possible",
}
BLOCK = ("training", "grad_mode")  # the settings each block of rows shares
SETTINGS = 1  # columns of settings (row headers) after the block's
GROUPS = ("Setting", "What one forward and backward pass did")
CAPTION = (
    "The behaviour matrix of `SimpleModel` on a batch of 16, measured while this page was built"
)


@functools.cache
def measured() -> tuple[MatrixRow, ...]:
    """The default behaviour matrix, measured once per build process."""
    return tuple(behaviour_matrix())


def setting_text(field: str, value: object) -> str:
    """The code a reader would write for one setting of the matrix.

    >>> setting_text("training", False), setting_text("requires_grad", True)
    ('model.eval()', 'True')
    >>> setting_text("grad_mode", "grad")
    'enable_grad()'
    """
    if field == "training":
        return "model.train()" if value else "model.eval()"
    if field == "grad_mode":
        return f"{type(grad_context(value)).__name__}()"  # type: ignore[arg-type]
    return str(value)


class BehaviourMatrix(SphinxDirective):
    """Render ``behaviour_matrix()``: a block of rows per module mode and grad mode (headed
    by a row that spans the table), one row per ``requires_grad`` in each, as row header.

    Seven columns, not nine, so that the table fits the page's column on a desktop.
    """

    def run(self) -> list[nodes.Node]:
        for path in package_sources().values():
            self.env.note_dependency(str(path))
        names = [field.name for field in fields(MatrixRow)]
        if sorted(names) != sorted([*BLOCK, *HEADERS]):
            raise self.error(f"behaviour-matrix: headers {sorted(HEADERS)} != fields {names}")
        columns = [name for name in names if name not in BLOCK]
        rows = measured()

        # colwidths-auto: the browser sizes the columns (no fixed widths from Sphinx).
        table = nodes.table(classes=["behaviour-matrix", "colwidths-auto"])
        table += self._translatable(nodes.title, CAPTION)
        group = nodes.tgroup(cols=len(columns))
        table += group
        for i, _ in enumerate(columns):
            group += nodes.colspec(colwidth=1, stub=int(i < SETTINGS))
        head = nodes.thead()
        group += head
        groups = nodes.row()
        for text, width in zip(GROUPS, (SETTINGS, len(columns) - SETTINGS), strict=True):
            groups += nodes.entry("", self._translatable(nodes.paragraph, text), morecols=width - 1)
        head += groups
        titles = nodes.row()
        for name in columns:
            titles += nodes.entry("", self._translatable(nodes.paragraph, HEADERS[name]))
        head += titles

        body = nodes.tbody()
        group += body
        previous: MatrixRow | None = None
        for row in rows:
            if previous is None or _block(previous) != _block(row):
                # The block's settings, as code, in one row header across the table; a class
                # marks where the module mode or the grad mode changes (a visible border).
                heading = nodes.row(classes=["matrix-block", *_block_classes(previous, row)])
                codes = [setting_text(name, getattr(row, name)) for name in BLOCK]
                cell = nodes.paragraph()
                for i, code in enumerate(codes):
                    if i:
                        cell += nodes.Text(" · ")
                    cell += nodes.literal(code, code)
                heading += nodes.entry("", cell, morecols=len(columns) - 1)
                body += heading
            line = nodes.row()
            for name in columns[:SETTINGS]:
                text = setting_text(name, getattr(row, name))
                line += nodes.entry("", nodes.paragraph("", "", nodes.literal(text, text)))
            for name in columns[SETTINGS:]:
                line += nodes.entry("", nodes.paragraph("", "", _value(getattr(row, name))))
            body += line
            previous = row
        return [table]

    def _translatable(self, node_class: type[nodes.TextElement], source: str) -> nodes.Element:
        """A paragraph or title whose msgid is its MyST ``source`` (the gettext builder
        extracts it because it has a source; the Locale transform translates it)."""
        inline, messages = self.state.inline_text(source, self.lineno)
        node = node_class(source, "", *inline, *messages)
        node.source, node.line = self.get_source_info()
        return node


def _block(row: MatrixRow) -> tuple[object, ...]:
    return tuple(getattr(row, name) for name in BLOCK)


def _block_classes(previous: MatrixRow | None, row: MatrixRow) -> list[str]:
    """``matrix-new-mode`` / ``matrix-new-grad-mode`` where a block of rows starts."""
    if previous is None:
        return []
    if previous.training != row.training:
        return ["matrix-new-mode"]
    if previous.grad_mode != row.grad_mode:
        return ["matrix-new-grad-mode"]
    return []


def _value(value: object) -> nodes.Node:
    """A measured value: ``True``/``False`` with a class for its mark, a number, or ``-``."""
    if isinstance(value, bool):
        text = str(value)
        return nodes.inline(text, text, classes=["matrix-bool", f"matrix-{text.lower()}"])
    if value is None:
        return nodes.inline("-", "-", classes=["matrix-none"])
    return nodes.inline(str(value), str(value), classes=["matrix-number"])


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("behaviour-matrix", BehaviourMatrix)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


__all__ = ["setup"]
