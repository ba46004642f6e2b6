"""Every recipe on the recipes page runs on its own: copied into a fresh Python, unchanged."""

from __future__ import annotations

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


CELLS = code_cells(PAGE.read_text(encoding="utf-8"))
RECIPES = [cell for cell in CELLS if TAG in cell.tags]


def test_the_page_has_recipes_and_every_code_cell_is_one() -> None:
    """No cell on the page may be a setup cell that the recipes silently depend on."""
    assert len(RECIPES) >= 6
    assert [cell.line for cell in CELLS if TAG not in cell.tags] == []


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda cell: f"recipes.md:{cell.line}")
def test_recipe_runs_alone_in_a_fresh_python(recipe: Cell, tmp_path: Path) -> None:
    script = tmp_path / "recipe.py"
    script.write_text(recipe.code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""  # the site build fails on a cell writing to stderr, too
