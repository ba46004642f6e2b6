"""docs/bench.py: what it counts in build logs, the edits it makes, the problems it reports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _site import DOCS, SOURCE_LANGUAGE, TRANSLATIONS

sys.path.insert(0, str(DOCS))
import bench

LOG = """\
/tmp/x/docs/comparison.md: Using cached notebook: ID=1 [mystnb]
/tmp/x/docs/index.md: Executing notebook using local CWD [mystnb]
/tmp/x/docs/index.md: Executed notebook in 4.10 seconds [mystnb]
/tmp/x/docs/performance.md: Executing notebook using local CWD [mystnb]
claims: 3 checked, 51 reused from the evidence store
"""


def test_counts_from_a_build_log() -> None:
    assert bench.executed_notebooks(LOG) == ("index.md", "performance.md")
    assert bench.claim_counts(LOG) == (3, 51)
    assert bench.executed_notebooks("") == () and bench.claim_counts("") == (0, 0)


def test_prose_edit_keeps_the_code_and_code_edit_changes_one_cell(tmp_path: Path) -> None:
    page = tmp_path / "index.md"
    page.write_text((DOCS / "index.md").read_text(encoding="utf-8"), encoding="utf-8")

    def cells(text: str) -> list[str]:
        return [part.split("\n```", 1)[0] for part in text.split("```{code-cell}")[1:]]

    before = page.read_text(encoding="utf-8")
    bench.edit_prose(page)
    prose = page.read_text(encoding="utf-8")
    assert prose != before and cells(prose) == cells(before)
    bench.edit_code(page)
    code = page.read_text(encoding="utf-8")
    changed = [i for i, (a, b) in enumerate(zip(cells(prose), cells(code), strict=True)) if a != b]
    assert changed == [0] and bench.CODE_EDIT.strip() in cells(code)[0]


def step(name: str, lang: str, executed: tuple[str, ...]) -> bench.Step:
    return bench.Step(name, lang, 1.0, 1.0, executed, 0, 0)


@pytest.mark.parametrize(
    ("steps", "count"),
    [
        ([step("clean build", SOURCE_LANGUAGE, ("a.md", "index.md"))], 0),
        ([step("clean build", lang, ("a.md",)) for lang in TRANSLATIONS], len(TRANSLATIONS)),
        ([step("prose-only edit", SOURCE_LANGUAGE, ("index.md",))], 1),
        ([step("code-cell edit", SOURCE_LANGUAGE, ("index.md",))], 0),
        ([step("code-cell edit", SOURCE_LANGUAGE, ("index.md", "a.md"))], 1),
        ([step("code-cell edit", SOURCE_LANGUAGE, ())], 1),
    ],
)
def test_problems_are_about_counts_never_times(steps: list[bench.Step], count: int) -> None:
    assert len(bench.problems(steps)) == count
