"""Taking the code away: every notebook page offers its executed notebook and its code.

The files are fetched from the links each page's download button shows. Every notebook is
valid, holds the page's code cells exactly, each with the outputs of its run; the script is
that code as a script. One page's notebook then runs end to end in a fresh kernel whose
Python has nothing but torch, the package and ipykernel (``_fresh_env.py``), and prints what
the site shows; its script runs there too.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest
from _browser import Watch
from _fresh_env import closure, fresh_env
from _site import DOCS, LANGUAGES, MEASURED_TAG, ROOT, SOURCE_LANGUAGE, notebooks
from myst_nb.core.read import read_myst_markdown_notebook
from packaging.utils import canonicalize_name

sys.path.insert(0, str(DOCS / "_ext"))
from downloads import python_script  # (docs/_ext is on the path now)

if TYPE_CHECKING:
    from playwright.sync_api import Page

OpenPage = Callable[..., tuple["Page", Watch]]
BUTTONS = {
    ".ipynb": "a.btn-download-notebook-button",
    ".py": "a.btn-download-script-button",
}
RUN_PAGE = "eval-mode"  # run end to end: a hidden setup cell, an IPython command, an error
KERNEL = ["torch", "ipykernel"]  # and the package: all the fresh kernel can import
# What a notebook imports beyond the standard library: torch and the package, and for the
# performance page matplotlib (its figure) and IPython and myst-nb (glue: its measured tables).
IMPORTS = {"torch", "gradmodes"}
MORE_IMPORTS = {"performance": {"IPython", "matplotlib", "myst_nb"}}
# torch does not require numpy, and warns where it is missing (on stderr, in a kernel): the
# only thing a fresh kernel may print that the build's kernel, which has numpy, did not.
TORCH_WITHOUT_NUMPY = "UserWarning: Failed to initialize NumPy: No module named 'numpy'"


def only_torch_without_numpy(stderr: str) -> bool:
    """Whether ``stderr`` holds nothing but torch's warning that numpy is missing.

    >>> only_torch_without_numpy(""), only_torch_without_numpy("Traceback ...")
    (True, False)
    >>> only_torch_without_numpy(f"x.py:3: {TORCH_WITHOUT_NUMPY} (...)\\n  cpu = f()\\n")
    True
    """
    lines = stderr.splitlines()
    return all(TORCH_WITHOUT_NUMPY in line or line.startswith("  ") for line in lines) and (
        not lines or TORCH_WITHOUT_NUMPY in lines[0]
    )


def download_links(page: Page) -> dict[str, str]:
    """The page's download button: {".ipynb": url, ".py": url} for the entries it has."""
    found = page.evaluate(
        """buttons => Object.fromEntries(Object.entries(buttons)
            .map(([suffix, selector]) => [suffix, document.querySelector(selector)?.href])
            .filter(([, href]) => href))""",
        BUTTONS,
    )
    return dict(found)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url) as response:
        return response.read().decode("utf-8")


def source_cells(docname: str) -> list[nbformat.NotebookNode]:
    text = (DOCS / f"{docname}.md").read_text(encoding="utf-8")
    return [c for c in read_myst_markdown_notebook(text).cells if c.cell_type == "code"]


def imported(notebook: nbformat.NotebookNode) -> set[str]:
    """The modules a notebook's code imports that are not in the standard library.

    >>> cell = nbformat.v4.new_code_cell("%xmode Minimal\\nimport os, torch.nn\\nfrom a.b import c")
    >>> sorted(imported(nbformat.v4.new_notebook(cells=[cell])))
    ['a', 'torch']
    """
    found = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        code = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names)


def check_notebook(docname: str, notebook: nbformat.NotebookNode) -> list[str]:
    """What is wrong with a downloaded notebook of ``docname`` (nothing: ``[]``)."""
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    problems = []
    if [c.source for c in code] != [c.source for c in source_cells(docname)]:
        problems.append("its code cells are not the page's")
    if [c.execution_count for c in code] != list(range(1, len(code) + 1)):
        problems.append("not every code cell ran, in order")
    for number, cell in enumerate(code, start=1):
        errors = [o.ename for o in cell.outputs if o.output_type == "error"]
        declared = cell.metadata.get("raises")
        if errors != ([declared] if declared else []):
            problems.append(f"cell {number}: errors {errors}, declared {declared}")
    if not any(cell.outputs for cell in code):
        problems.append("no outputs")
    if extra := imported(notebook) - IMPORTS - MORE_IMPORTS.get(docname, set()):
        problems.append(f"it needs more than torch and the package: {sorted(extra)}")
    if [cell.id for cell in notebook.cells] != [f"cell-{i}" for i in range(len(notebook.cells))]:
        problems.append("cell ids are not stable")
    return problems


def test_every_notebook_page_offers_its_notebook_and_its_code(
    pages: list[str], open_page: OpenPage, server: str
) -> None:
    page, seen = open_page()
    with_code = set(notebooks())
    offered: dict[str, dict[str, str]] = {}  # docname -> suffix -> text, in the source language
    problems: dict[str, list[str]] = {}
    for path in pages:
        lang, _, name = path.partition("/")
        if lang not in LANGUAGES:
            continue  # the root and 404 pages have no download button
        docname = name.removesuffix(".html")
        page.goto(f"{server}/{path}", wait_until="domcontentloaded")
        links = download_links(page)
        if docname not in with_code:
            if links:
                problems[path] = [f"a page without a notebook offers {sorted(links)}"]
            continue
        if sorted(links) != sorted(BUTTONS):
            problems[path] = [f"the download button offers {sorted(links)}"]
            continue
        files = {suffix: fetch(url) for suffix, url in links.items()}
        notebook = nbformat.reads(files[".ipynb"], as_version=4)
        found = check_notebook(docname, notebook)
        if files[".py"] != python_script(notebook, docname):
            found.append("the .py is not the notebook's code")
        if any(str(ROOT) in text for text in files.values()):
            found.append("a path of the machine that built the site")
        source = offered.setdefault(docname, files) if lang == SOURCE_LANGUAGE else None
        if source is None and files != offered.get(docname):
            found.append(f"not the files the {SOURCE_LANGUAGE} page offers")
        if found:
            problems[path] = found
    assert not problems, problems
    assert sorted(offered) == sorted(with_code)
    assert seen.take() == []


@pytest.fixture(scope="session")
def fresh_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv's Python that has torch, the package and ipykernel, and nothing else."""
    return fresh_env(tmp_path_factory.mktemp("fresh") / "venv", KERNEL)


def test_the_fresh_python_has_only_torch_the_package_and_ipykernel(fresh_python: Path) -> None:
    def run(code: str) -> subprocess.CompletedProcess[str]:
        command = [str(fresh_python), "-I", "-c", code]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    assert "No module named 'sphinx'" in run("import sphinx").stderr  # the docs' toolchain
    listed = run(
        "import importlib.metadata as m, gradmodes, torch\n"
        "print(*sorted(d.metadata['Name'] for d in m.distributions()))"
    )
    assert listed.returncode == 0, listed.stderr
    expected = closure([*KERNEL, "gradmodes"])
    assert {canonicalize_name(name) for name in listed.stdout.split()} == set(expected)
    assert not {"sphinx", "myst-nb", "matplotlib", "numpy", "nbclient"} & set(expected)


def test_a_downloaded_notebook_runs_in_a_fresh_kernel(
    open_page: OpenPage,
    server: str,
    fresh_python: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nbclient import NotebookClient

    page, _ = open_page()
    page.goto(f"{server}/{SOURCE_LANGUAGE}/{RUN_PAGE}.html")
    links = download_links(page)
    downloaded = nbformat.reads(fetch(links[".ipynb"]), as_version=4)
    script = tmp_path / f"{RUN_PAGE}.py"
    script.write_text(fetch(links[".py"]), encoding="utf-8")

    # The kernel "fresh" runs the fresh Python; nbclient starts it, and shuts it down.
    spec = tmp_path / "kernels" / "fresh" / "kernel.json"
    spec.parent.mkdir(parents=True)
    argv = [str(fresh_python), "-I", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.write_text(json.dumps({"argv": argv, "language": "python"}), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    ran = nbformat.from_dict(downloaded)
    for cell in ran.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    resources = {"metadata": {"path": str(tmp_path)}}
    NotebookClient(ran, kernel_name="fresh", timeout=120, resources=resources).execute()

    def shown(notebook: nbformat.NotebookNode) -> list[tuple[str, list[str]]]:
        """Each code cell's printed text and errors (not those of measured cells)."""
        return [
            (
                "".join(o.text for o in cell.outputs if o.get("name") == "stdout"),
                [o.ename for o in cell.outputs if o.output_type == "error"],
            )
            for cell in notebook.cells
            if cell.cell_type == "code" and MEASURED_TAG not in cell.metadata.get("tags", [])
        ]

    assert shown(ran) == shown(downloaded)
    assert any(text for text, _ in shown(ran)) and any(errors for _, errors in shown(ran))
    warned = [o.text for c in ran.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    assert all(only_torch_without_numpy(text) for text in warned), warned

    result = subprocess.run(
        [str(fresh_python), "-I", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert only_torch_without_numpy(result.stderr), result.stderr
