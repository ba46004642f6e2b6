"""What the site tests share: the docs folder, the languages, the pages, the build script."""

from __future__ import annotations

import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LANGUAGES: dict[str, str] = runpy.run_path(str(DOCS / "conf.py"))["LANGUAGES"]
SOURCE_LANGUAGE = next(iter(LANGUAGES))
TRANSLATIONS = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]


@dataclass(frozen=True)
class BuiltSite:
    """The HTML output folder and each language's build log."""

    html: Path
    logs: dict[str, str]

    def page(self, lang: str, name: str) -> Path:
        return self.html / lang / f"{name}.html"


def pages() -> list[str]:
    """The site's pages (English sources: MyST notebooks, and reST for the API page)."""
    return sorted(
        p.relative_to(DOCS).with_suffix("").as_posix()
        for suffix in ("*.md", "*.rst")
        for p in DOCS.rglob(suffix)
        if "_build" not in p.parts and p.name != "README.md"
    )


def run_build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DOCS / "build.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
