"""What the site tests share: the docs folder, the languages, the pages, the build script.

``pages`` and ``run_build`` take another docs folder too: the fault-injection tests run them
on a small fixture site built from a copy of the project's real configuration.

The site itself is built once for all the tests that read it, whichever process or nox
session asks first (``shared_site``): the unit and site tests, their pytest-xdist workers
and the browser tests all read the one build kept under ``docs/_build/test-site/<key>/``,
where the key (``site_key``) hashes everything the site is built from. A change to any of
it gives a new key, so a build of older sources is never reused.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import os
import platform
import runpy
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LANGUAGES: dict[str, str] = runpy.run_path(str(DOCS / "build.py"))["LANGUAGES"]
SOURCE_LANGUAGE = next(iter(LANGUAGES))
# Cells whose output is a measured timing carry this tag; myst-nb renders it as the class
# ``tag_measured`` on the cell. Two builds may differ in those outputs only.
MEASURED_TAG = "measured"
TRANSLATIONS = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]
# Where the tests' site is kept, one folder per key (the newest only).
SHARED_SITES = DOCS / "_build" / "test-site"
# What the site is built from, besides the versions in ``site_key``: the pages, catalogues,
# configuration and extensions, the package the notebooks import, and pyproject.toml, which
# pins the docs toolchain (its dependency group ``docs``).
SITE_SOURCES = ("docs", "src/gradmodes", "pyproject.toml")
# Environment variables that change the built pages (conf.py links to GitHub when built by
# GitHub Actions; PYTHONPATH may hold a sitecustomize that patches torch).
SITE_ENVIRONMENT = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_REF_NAME", "PYTHONPATH")
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

    def soup(self, lang: str, name: str) -> BeautifulSoup:
        """The page, parsed once per process (see :func:`parsed`)."""
        return parsed(self.page(lang, name))


@functools.cache
def parsed(path: Path) -> BeautifulSoup:
    """The HTML file at ``path``, parsed once per process and shared by every test that
    asks: a test must only read it (one that changes a page parses its own copy)."""
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def pages(docs: Path = DOCS) -> list[str]:
    """The site's pages (English sources: MyST notebooks, and reST for the API page)."""
    return sorted(
        p.relative_to(docs).with_suffix("").as_posix()
        for suffix in ("*.md", "*.rst")
        for p in docs.rglob(suffix)
        if not {"_build", "locale"} & set(p.relative_to(docs).parts) and p.name != "README.md"
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


def site_sources(root: Path = ROOT) -> dict[str, Path]:
    """The files under ``SITE_SOURCES``, by name, without build outputs: ``_build``,
    compiled catalogues (``.mo``, written by the build) and compiled Python.

    >>> sources = site_sources()
    >>> "docs/conf.py" in sources, "src/gradmodes/claims/_registry.py" in sources
    (True, True)
    >>> any("/_build/" in name or name.endswith(".mo") for name in sources)
    False
    """
    found = {}
    for top in SITE_SOURCES:
        path = root / top
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            name = file.relative_to(root)
            built = {"_build", "__pycache__"} & set(name.parts) or file.suffix in {".mo", ".pyc"}
            if file.is_file() and not built:
                found[name.as_posix()] = file
    return found


def site_key(root: Path = ROOT) -> str:
    """A sha256 over what the site is built from: the name and content of every file of
    ``site_sources``, torch's version, Python, the platform and ``SITE_ENVIRONMENT``.

    Installed files are not hashed: the tests and the browser tests run in different
    virtual environments, with the same pinned versions, and share one build.

    >>> len(site_key()), site_key() == site_key()
    (64, True)
    """
    setup_key = runpy.run_path(str(DOCS / "_ext" / "evidence_cache.py"))["setup_key"]
    facts = {
        "torch": importlib.metadata.version("torch"),
        "python": sys.version,
        "platform": platform.platform(),
        **{f"${name}": os.environ.get(name, "") for name in SITE_ENVIRONMENT},
    }
    return setup_key(site_sources(root), facts)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (POSIX; elsewhere, without locking)."""
    with path.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: one process at a time (no pytest-xdist) is safe
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_site(
    key: str, build: Callable[[Path], dict[str, str]], folder: Path = SHARED_SITES
) -> BuiltSite:
    """The site built under ``key``: ``build(html)`` builds it into ``html`` and returns each
    language's log, raising if a language fails.

    The first process to ask builds it, holding a lock; the others wait, then read the
    same build, and so does a later run with the same key. A failed build is not kept. Once
    a build is kept, the builds kept under other keys are removed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / key[:16]
    logs_file = target / "logs.json"
    with _locked(folder / ".lock"):
        if not logs_file.is_file():
            shutil.rmtree(target, ignore_errors=True)
            logs = build(target / "html")
            partial = target / "logs.json.partial"
            partial.write_text(json.dumps(logs, ensure_ascii=False), encoding="utf-8")
            partial.replace(logs_file)  # last: a folder without it is an unfinished build
            for other in folder.iterdir():
                if other.is_dir() and other != target:
                    shutil.rmtree(other, ignore_errors=True)
        logs = json.loads(logs_file.read_text(encoding="utf-8"))
    return BuiltSite(target / "html", logs)


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
