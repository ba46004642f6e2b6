"""What the site tests share: the docs folder, the languages, the pages, the build script.

``pages`` and ``run_build`` take another docs folder too: the fault-injection tests run them
on a small fixture site built from a copy of the project's real configuration.
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LANGUAGES: dict[str, str] = runpy.run_path(str(DOCS / "conf.py"))["LANGUAGES"]
SOURCE_LANGUAGE = next(iter(LANGUAGES))
# Cells whose output is a measured timing carry this tag; myst-nb renders it as the class
# ``tag_measured`` on the cell. Two builds may differ in those outputs only.
MEASURED_TAG = "measured"
TRANSLATIONS = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]
# The longest line of code a cell may have: at 13 px (docs/_static/gradmodes.css) it fits the
# content column of a 1280 px desktop (tests/browser/test_fit.py measures it); PEP 8's limit.
CODE_WIDTH = 79


@dataclass(frozen=True)
class BuiltSite:
    """The HTML output folder and each language's build log."""

    html: Path
    logs: dict[str, str]

    def page(self, lang: str, name: str) -> Path:
        return self.html / lang / f"{name}.html"


def pages(docs: Path = DOCS) -> list[str]:
    """The site's pages (English sources: MyST notebooks, and reST for the API page)."""
    return sorted(
        p.relative_to(docs).with_suffix("").as_posix()
        for suffix in ("*.md", "*.rst")
        for p in docs.rglob(suffix)
        if "_build" not in p.parts and p.name != "README.md"
    )


def notebooks(docs: Path = DOCS) -> list[str]:
    """The pages that are notebooks (their front matter names a kernel), as docnames."""
    found = []
    for page in pages(docs):
        source = docs / f"{page}.md"
        if source.exists():
            front_matter = source.read_text(encoding="utf-8").split("\n---", 1)[0]
            if "\nkernelspec:" in front_matter:
                found.append(page)
    return found


def run_build(
    *args: str, docs: Path = DOCS, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``docs/build.py`` with ``args`` (from the folder above ``docs``); never raises."""
    return subprocess.run(
        [sys.executable, str(docs / "build.py"), *args],
        capture_output=True,
        text=True,
        cwd=docs.parent,
        check=False,
        env=env,
    )


def without_measured_outputs(page: str) -> str:
    """``page`` (HTML) with the outputs of cells tagged ``measured`` emptied.

    >>> page = '<div class="cell tag_measured"><div class="cell_output">3 ms</div></div>'
    >>> without_measured_outputs(page)
    '<div class="cell tag_measured"><div class="cell_output"></div></div>'
    """
    soup = BeautifulSoup(page, "html.parser")
    for output in soup.select(f"div.cell.tag_{MEASURED_TAG} div.cell_output"):
        output.clear()
    return str(soup)


def notebook_without_measured_outputs(text: str) -> dict[str, object]:
    """A notebook (its JSON ``text``) with the outputs of cells tagged ``measured`` emptied.

    >>> cell = {"cell_type": "code", "metadata": {"tags": ["measured"]}, "outputs": [1]}
    >>> notebook_without_measured_outputs(json.dumps({"cells": [cell]}))["cells"][0]["outputs"]
    []
    """
    notebook = json.loads(text)
    for cell in notebook["cells"]:
        if MEASURED_TAG in cell.get("metadata", {}).get("tags", []):
            cell["outputs"] = []
    return notebook
