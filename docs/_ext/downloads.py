"""Every notebook page offers its executed notebook (``.ipynb``) and its code (``.py``).

While a page is written, this extension publishes both in the language's ``_sources/``, where
the page's ``.md`` is, under stable names:

- ``<docname>.ipynb``: the notebook myst-nb read from the page (in its output folder,
  ``<html>/jupyter_execute/``), with the outputs of the execution it showed, taken from the
  execution cache (myst-nb's own copy has none when they came from the cache); cell ids that
  are the same in every build (``cell-0``, ``cell-1``, ...); without myst-nb's bookkeeping
  metadata. The theme's download button offers it when the page context names it
  (``ipynb_source``).
- ``<docname>.py``: the code cells in order, as a script (``python_script``), added to the
  download button after the notebook.

Both languages offer the same two files: the code and its printed output are shared.
"""

from __future__ import annotations

import ast
import builtins
import copy
import re
import textwrap
from pathlib import Path
from typing import Any

import nbformat
from jupyter_cache import get_cache
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

from ui_text import N_, _

# The download button's entry for the script (the theme's own entries are translated by its
# catalogue; this one by the site's interface catalogue).
SCRIPT_TOOLTIP = N_("Download the code as a Python script")
DROPPED_METADATA = ("jupytext", "source_map")  # myst-nb's bookkeeping, not the notebook's
MAGIC = re.compile(r"^[%!]")  # an IPython command (%xmode Minimal): not Python


def published_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``notebook`` as it is offered for download: stable cell ids, no myst-nb metadata.

    >>> metadata = {"source_map": [3], "language_info": {"name": "python"}}
    >>> nb = nbformat.v4.new_notebook(metadata=metadata)
    >>> nb.cells = [nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("1")]
    >>> out = published_notebook(nb)
    >>> [cell.id for cell in out.cells], dict(out.metadata)
    (['cell-0', 'cell-1'], {'language_info': {'name': 'python'}})
    """
    published = copy.deepcopy(notebook)
    for key in DROPPED_METADATA:
        published.metadata.pop(key, None)
    for index, cell in enumerate(published.cells):
        cell.id = f"cell-{index}"
    nbformat.validate(published)
    return published


def _script_cell(source: str, number: int, raises: str | None) -> str:
    """Cell ``number`` as script lines: IPython commands commented out; a cell that awaits
    at the top level (a notebook may) run by ``asyncio``; a declared error caught (the cell
    shows it on the page) and printed as the last line of its traceback."""
    lines = [
        f"# {line}  (an IPython command: a script skips it)" if MAGIC.match(line) else line
        for line in source.rstrip().splitlines()
    ]
    code = "\n".join(lines)
    if _awaits(code):
        names = ", ".join(sorted(_bound_names(ast.parse(code))))
        body = _indented(code, "awaits at the top level")
        code = (
            "import asyncio\n\n\n"
            f"async def cell_{number}():  # the cell awaits at the top level: a notebook may\n"
            + (f"    global {names}\n" if names else "")
            + f"{body}\n\n\nasyncio.run(cell_{number}())"
        )
    if raises is None:
        return code
    guarded = _indented(code, f"raises {raises}")
    builtin = getattr(builtins, raises, None)
    if isinstance(builtin, type) and issubclass(builtin, BaseException):
        caught = f"except {raises} as error:\n"
    else:  # a class of a module (torch.OutOfMemoryError): compared by the name the page shows
        caught = (
            "except Exception as error:\n"
            f"    if type(error).__name__ != {raises.rpartition('.')[2]!r}:\n"
            "        raise\n"
        )
    return (
        f"try:  # this cell raises {raises}, as the page shows\n{guarded}\n"
        f"{caught}"
        f'    print(f"{raises}: {{error}}")\n'
        f"else:\n"
        f'    raise AssertionError("expected {raises}")'
    )


def _indented(code: str, why: str) -> str:
    """``code`` indented one level; an error where that would change it (a string)."""
    indented = textwrap.indent(code, "    ")
    if ast.dump(ast.parse(textwrap.dedent(indented))) != ast.dump(ast.parse(code)):
        raise ValueError(f"a cell that {why} cannot be indented unchanged:\n{code}")
    return indented


def _awaits(code: str) -> bool:
    """Whether ``code`` awaits at the top level, which only a notebook cell may.

    >>> _awaits("import asyncio\\nawait asyncio.sleep(0)"), _awaits("async def f(): await g()")
    (True, False)
    """
    try:
        compile(code, "<cell>", "exec", dont_inherit=True)
    except SyntaxError:
        compile(code, "<cell>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
        return True
    return False


def _bound_names(tree: ast.Module) -> set[str]:
    """The names a cell's top level binds (not those bound inside its functions or classes).

    >>> tree = ast.parse("import a.b as c, d.e\\nx, y = 1, 2\\ndef f(z): w = 1\\nfor i in x: pass")
    >>> sorted(_bound_names(tree))
    ['c', 'd', 'f', 'i', 'x', 'y']
    """
    names: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue  # its body is its own scope
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp):
            continue
        if isinstance(node, ast.GeneratorExp):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        todo.extend(ast.iter_child_nodes(node))
    return names


def python_script(notebook: nbformat.NotebookNode, name: str) -> str:
    """The code cells of ``notebook``, in order, as a Python script named ``name``.

    A cell tagged ``raises-exception`` declares its error (``raises`` in its metadata): the
    script catches that error, prints it, and stops with an ``AssertionError`` if it is not
    raised, so the script runs from top to bottom as the notebook does.

    >>> nb = nbformat.v4.new_notebook()
    >>> nb.cells = [
    ...     nbformat.v4.new_markdown_cell("Text"),
    ...     nbformat.v4.new_code_cell("%xmode Minimal\\nx = 1"),
    ...     nbformat.v4.new_code_cell(
    ...         "x / 0",
    ...         metadata={"tags": ["raises-exception"], "raises": "ZeroDivisionError"},
    ...     ),
    ... ]
    >>> print(python_script(nb, "page"))
    # page.py: the code of the page's cells, in order, as the site ran them.
    <BLANKLINE>
    # %% [1]
    # %xmode Minimal  (an IPython command: a script skips it)
    x = 1
    <BLANKLINE>
    # %% [2]
    try:  # this cell raises ZeroDivisionError, as the page shows
        x / 0
    except ZeroDivisionError as error:
        print(f"ZeroDivisionError: {error}")
    else:
        raise AssertionError("expected ZeroDivisionError")
    <BLANKLINE>
    >>> exec(python_script(nb, "page"))
    ZeroDivisionError: division by zero
    """
    parts = [f"# {name}.py: the code of the page's cells, in order, as the site ran them.\n"]
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        tags = cell.metadata.get("tags", [])
        raises = cell.metadata.get("raises") if "raises-exception" in tags else None
        parts.append(f"# %% [{number}]\n{_script_cell(cell.source, number, raises)}\n")
    script = "\n".join(parts)
    compile(script, f"{name}.py", "exec", dont_inherit=True)  # else a build error
    return script


def is_notebook(env: Any, docname: str) -> bool:
    """Whether ``docname`` is a notebook page (MyST with a kernel: myst-nb executes it)."""
    return "kernelspec" in env.metadata.get(docname, {})


def executed_notebook(app: Sphinx, pagename: str) -> nbformat.NotebookNode:
    """The notebook of ``pagename`` with the outputs this build showed (from the cache)."""
    config = app.env.mystnb_config
    if config.execution_mode != "cache":
        mode = config.execution_mode
        raise ExtensionError(f"downloads: nb_execution_mode is {mode!r}, not 'cache'")
    read = Path(config.output_folder) / f"{pagename}.ipynb"
    if not read.is_file():
        raise ExtensionError(  # reread_unpublishable reads such a page again
            f"{pagename}: myst-nb's notebook {read.name} is missing from its output folder: "
            "build again with -E (read every page afresh)"
        )
    cache = get_cache(config.execution_cache_path)
    # The page's own cell metadata (tags, raises); the cache's has execution timestamps.
    _, merged = cache.merge_match_into_notebook(nbformat.read(read, as_version=4), cell_meta=())
    return merged


def publish(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any):
    """``html-page-context``: write a notebook page's two downloads and name them for the
    download button (before the theme builds it)."""
    if doctree is None or not is_notebook(app.env, pagename):
        return
    notebook = published_notebook(executed_notebook(app, pagename))
    sources = Path(app.outdir) / "_sources" / pagename
    sources.parent.mkdir(parents=True, exist_ok=True)
    leaf = pagename.rsplit("/", 1)[-1]
    sources.with_name(f"{leaf}.ipynb").write_text(nbformat.writes(notebook), encoding="utf-8")
    script = python_script(notebook, leaf)
    sources.with_name(f"{leaf}.py").write_text(script, encoding="utf-8")
    context["ipynb_source"] = f"{pagename}.ipynb"
    context["script_source"] = f"{pagename}.py"


def add_script_button(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """``html-page-context``, after the theme: the ``.py`` entry, after the notebook's."""
    script = context.get("script_source")
    if not script:
        return
    groups = [b for b in context.get("header_buttons", []) if b.get("label") == "download-buttons"]
    if len(groups) != 1:
        raise ExtensionError(f"{pagename}: the theme's download button was not found")
    buttons = groups[0]["buttons"]
    after = next(
        (i + 1 for i, b in enumerate(buttons) if b.get("label") == "download-notebook-button"),
        0,
    )
    buttons.insert(
        after,
        {
            "type": "link",
            "url": f"{context['pathto']('_sources', 1)}/{script}",
            "text": ".py",
            "tooltip": _(SCRIPT_TOOLTIP),
            "icon": "fab fa-python",
            "label": "download-script-button",
        },
    )


def reread_unpublishable(
    app: Sphinx, env: Any, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    """``env-get-outdated``: the notebook pages whose notebook myst-nb's output folder lacks.

    myst-nb writes a page's notebook there when it reads the page. A build into another
    output folder, with doctrees that are up to date, reads no page: read again (from the
    execution cache), the pages have their notebooks to publish.
    """
    folder = Path(env.mystnb_config.output_folder)
    return [
        docname
        for docname in env.metadata
        if is_notebook(env, docname) and not (folder / f"{docname}.ipynb").is_file()
    ]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("env-get-outdated", reread_unpublishable)
    app.connect("html-page-context", publish, priority=400)  # the theme's buttons: 501
    app.connect("html-page-context", add_script_button, priority=600)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


__all__ = ["published_notebook", "python_script", "setup"]
