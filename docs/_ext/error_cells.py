"""A cell meant to raise proves the error it shows: its type and a fragment of its message.

A cell tagged ``raises-exception`` (which lets the notebook go on after its error) declares
the error in its options::

    ```{code-cell} python
    :tags: [raises-exception]
    :raises: RuntimeError
    :raises-match: "does not require grad and does not have a grad_fn"

    loss.backward()
    ```

``raises`` is the exception's class name as the traceback's last line shows it (the
executed notebook's ``ename``), ``raises-match`` a fragment of its message (``evalue``).
While a page is read, every code cell is compared with the error output of the executed
notebook (myst-nb's cell renderer is wrapped for that: it is where the cell's options
and its executed outputs meet). It is an error naming page and cell when such a cell
raises another type, a message without the fragment, or nothing; when the tag comes
without the declaration; and when a declaration comes without the tag. A build that
does not execute the notebooks (``nb_execution_mode = "off"``, the gettext build) checks
the declarations only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from myst_nb.sphinx_ import SphinxNbRenderer
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

TAG = "raises-exception"
RAISES, MATCH = "raises", "raises-match"


def verdict(metadata: Mapping[str, Any], outputs: Sequence[Mapping[str, Any]] | None) -> str:
    """What is wrong with one code cell's error declaration, or ``""``.

    ``metadata`` is the cell's options; ``outputs`` its executed outputs (``None``: the
    notebook was not executed in this build, so only the declaration is checked).

    >>> declared = {"tags": [TAG], RAISES: "NameError", MATCH: "'x' is not defined"}
    >>> error = {"output_type": "error", "ename": "NameError", "evalue": "name 'x' is not defined"}
    >>> verdict(declared, [error])
    ''
    >>> print(verdict({**declared, RAISES: "RuntimeError"}, [error]))
    declares RuntimeError but raised NameError: name 'x' is not defined
    >>> print(verdict(declared, []))
    declares NameError ("'x' is not defined") but raised nothing
    >>> print(verdict({"tags": [TAG], RAISES: "NameError"}, None))
    is tagged raises-exception but declares no raises-match: (a fragment of its message)
    """
    tagged = TAG in (metadata.get("tags") or [])
    declared = {key: metadata.get(key) for key in (RAISES, MATCH) if key in metadata}
    if not tagged:
        if declared:
            keys = " and ".join(f"{key}:" for key in declared)
            return f"declares {keys} but is not tagged {TAG}"
        return ""
    missing = {RAISES: "the exception class", MATCH: "a fragment of its message"}
    absent = [f"no {key}: ({what})" for key, what in missing.items() if not declared.get(key)]
    errors = [o for o in outputs or [] if o.get("output_type") == "error"]
    raised = f"{errors[-1].get('ename')}: {errors[-1].get('evalue')}" if errors else "nothing"
    if absent:
        ran = f" (it raised {raised})" if outputs is not None else ""
        return f"is tagged {TAG} but declares {' and '.join(absent)}{ran}"
    wrong = [key for key, value in declared.items() if not isinstance(value, str)]
    if wrong:
        return f"{' and '.join(wrong)} must be text (quote it), got {declared[wrong[0]]!r}"
    if outputs is None:
        return ""
    ename, fragment = declared[RAISES], declared[MATCH]
    if not errors:
        return f"declares {ename} ({fragment!r}) but raised nothing"
    if errors[-1].get("ename") != ename:
        return f"declares {ename} but raised {raised}"
    if fragment not in str(errors[-1].get("evalue", "")):
        return f"raised {raised}, whose message does not contain {fragment!r}"
    return ""


_render_code_cell = SphinxNbRenderer.render_nb_cell_code


def render_nb_cell_code(self: SphinxNbRenderer, token: Any) -> None:
    """myst-nb's rendering of a code cell, then the check of its error declaration."""
    _render_code_cell(self, token)
    index, metadata = token.meta["index"], token.meta["metadata"]
    executed = self.nb_client.exec_metadata is not None
    outputs = self.nb_client.code_cell_outputs(index)[1] if executed else None
    problem = verdict(metadata, outputs)
    if problem:
        docname = self.sphinx_env.docname
        # myst-nb's source map gives each cell's first line (the code-cell fence)
        starts = self.nb_client.nb_metadata.get("source_map") or []
        line = starts[index] if index < len(starts) else None
        logger.error(
            "page %r, the cell at line %s: %s",
            docname,
            line,
            problem,
            location=(docname, line),
            type="error_cells",
            subtype="declaration",
        )


def setup(app: Sphinx) -> dict[str, Any]:
    SphinxNbRenderer.render_nb_cell_code = render_nb_cell_code  # type: ignore[method-assign]
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


__all__ = ["setup", "verdict"]
