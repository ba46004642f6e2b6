"""Every recipe on the recipes page runs on its own: copied into a fresh Python, unchanged.

A recipe that uses ``gradmodes`` is followed by a variant in plain PyTorch, tagged
``torch-only`` like every other recipe that needs nothing but torch; those run where
``gradmodes`` cannot be imported (``without_gradmodes.py``, proven below).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from _site import DOCS, ROOT

PAGE = DOCS / "recipes.md"
TAG = "recipe"
TORCH_ONLY = "torch-only"  # the recipe needs nothing but torch
WITHOUT_GRADMODES = Path(__file__).with_name("without_gradmodes.py")
# A code cell: an opening fence of 3+ backticks with {code-cell}, and the same fence closing it.
CELL = re.compile(
    r"^(?P<fence>`{3,})\{code-cell\}[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S
)


class Cell(NamedTuple):
    line: int
    tags: list[str]
    code: str


def code_cells(text: str) -> list[Cell]:
    """Every ``{code-cell}`` of a MyST notebook's text: its line, tags and code.

    Options come as ``:key: value`` lines or as a ``---`` YAML block at the top of the cell.

    >>> code_cells("```{code-cell} python\\n:tags: [recipe, hide-input]\\n\\nprint(1)\\n```\\n")
    [Cell(line=1, tags=['recipe', 'hide-input'], code='print(1)\\n')]
    >>> code_cells("text\\n````{code-cell}\\n---\\ntags: [a]\\n---\\nx = 1\\n````\\n")
    [Cell(line=2, tags=['a'], code='x = 1\\n')]
    """
    cells = []
    for match in CELL.finditer(text):
        lines = match["body"].splitlines(keepends=True)
        options: dict[str, Any] = {}
        if lines and lines[0].strip() == "---":
            end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
            options = yaml.safe_load("".join(lines[1:end])) or {}
            lines = lines[end + 1 :]
        else:
            while lines and (option := re.match(r"^:([\w-]+):\s*(.*)$", lines[0])):
                options[option[1]] = yaml.safe_load(option[2])
                lines = lines[1:]
        if lines and not lines[0].strip():
            lines = lines[1:]  # the blank line that ends the options
        line = text.count("\n", 0, match.start()) + 1
        cells.append(Cell(line, list(options.get("tags") or []), "".join(lines)))
    return cells


def uses_gradmodes(code: str) -> bool:
    """Whether ``code`` imports ``gradmodes`` (or a module of it).

    >>> uses_gradmodes("import torch\\nfrom gradmodes.modes import evaluating")
    True
    >>> uses_gradmodes("import torch  # not gradmodes")
    False
    """
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        if any(name == "gradmodes" or name.startswith("gradmodes.") for name in names):
            return True
    return False


TEXT = PAGE.read_text(encoding="utf-8")
CELLS = code_cells(TEXT)
RECIPES = [cell for cell in CELLS if TAG in cell.tags]
CODE_LINES = {
    number
    for match in CELL.finditer(TEXT)
    for number in range(
        TEXT.count("\n", 0, match.start()) + 1, TEXT.count("\n", 0, match.end()) + 2
    )
}
HEADINGS = [
    number
    for number, line in enumerate(TEXT.splitlines(), 1)
    if re.match(r"#{1,6} ", line) and number not in CODE_LINES
]


def section(cell: Cell) -> int:
    """The line of the heading the cell is under."""
    return max(line for line in HEADINGS if line < cell.line)


def test_the_page_has_recipes_and_every_code_cell_is_one() -> None:
    """No cell on the page may be a setup cell that the recipes silently depend on."""
    assert len(RECIPES) >= 6
    assert [cell.line for cell in CELLS if TAG not in cell.tags] == []


def test_every_recipe_has_a_variant_in_plain_torch() -> None:
    """A recipe with ``gradmodes`` is followed, in its section, by one tagged ``torch-only``;
    the tag is on exactly the recipes that do not import ``gradmodes``."""
    assert any(uses_gradmodes(cell.code) for cell in RECIPES)
    for cell in RECIPES:
        assert (TORCH_ONLY in cell.tags) != uses_gradmodes(cell.code), f"line {cell.line}"
    for cell, after in zip(RECIPES, [*RECIPES[1:], None], strict=True):
        if uses_gradmodes(cell.code):
            assert after is not None and TORCH_ONLY in after.tags, f"line {cell.line}"
            assert section(after) == section(cell), f"line {cell.line}"


def run(command: list[str], where: Path, env: dict[str, str] | None = None) -> str:
    """Run ``command`` in ``where``; its stdout (it must succeed and write no stderr)."""
    result = subprocess.run(
        command, cwd=where, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""  # the site build fails on a cell writing to stderr, too
    return result.stdout


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda cell: f"recipes.md:{cell.line}")
def test_recipe_runs_alone_in_a_fresh_python(recipe: Cell, tmp_path: Path) -> None:
    """A ``torch-only`` recipe runs where ``gradmodes`` cannot be imported; the others find
    the package's source."""
    script = tmp_path / "recipe.py"
    script.write_text(recipe.code, encoding="utf-8")
    if TORCH_ONLY in recipe.tags:
        run([sys.executable, "-I", str(WITHOUT_GRADMODES), str(script)], tmp_path)
    else:
        run([sys.executable, str(script)], tmp_path, {**os.environ, "PYTHONPATH": str(SRC)})


SRC = ROOT / "src"
PROBE = f"""
import importlib
import sys

sys.path.insert(0, {str(SRC)!r})  # the package's source is on the path
for name in ("gradmodes", "gradmodes.claims"):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        print("refused:", error)
    else:
        print("imported:", name)
try:
    from gradmodes import evaluating
except ImportError as error:
    print("refused:", error)
else:
    print("imported: evaluating")
import torch

print("imported:", torch.__name__)
"""


def test_without_gradmodes_refuses_the_package_even_on_the_path(tmp_path: Path) -> None:
    """The same probe imports ``gradmodes`` in ``python -I``, and not under the hook."""
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    alone = run([sys.executable, "-I", str(probe)], tmp_path)
    assert alone.splitlines() == [
        "imported: gradmodes",
        "imported: gradmodes.claims",
        "imported: evaluating",
        "imported: torch",
    ]
    hooked = run([sys.executable, "-I", str(WITHOUT_GRADMODES), str(probe)], tmp_path)
    assert hooked.splitlines() == [
        "refused: No module named 'gradmodes'",
        "refused: No module named 'gradmodes'",  # its parent first
        "refused: No module named 'gradmodes'",
        "imported: torch",
    ]
