"""The site the tests read is built once, and only ever reused for the sources it was built from."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from _site import SITE_ENVIRONMENT, shared_site, site_key


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A project with one page, one catalogue, one module of the package and its pins."""
    (tmp_path / "docs" / "locale" / "ja" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "docs" / "index.md").write_text("# Index\n\nA sentence.\n")
    (tmp_path / "docs" / "locale" / "ja" / "LC_MESSAGES" / "index.po").write_text('msgstr ""\n')
    (tmp_path / "src" / "gradmodes").mkdir(parents=True)
    (tmp_path / "src" / "gradmodes" / "models.py").write_text("WIDTH = 4\n")
    (tmp_path / "pyproject.toml").write_text('docs = ["sphinx==9.0.4"]\n')
    return tmp_path


@pytest.mark.parametrize(
    ("edited", "text"),
    [
        ("docs/index.md", "# Index\n\nAnother sentence.\n"),
        ("docs/locale/ja/LC_MESSAGES/index.po", 'msgstr "索引"\n'),
        ("docs/new-page.md", "# New\n"),
        ("src/gradmodes/models.py", "WIDTH = 5\n"),
        ("pyproject.toml", 'docs = ["sphinx==9.0.5"]\n'),
    ],
)
def test_a_change_to_any_source_gives_a_new_key(sources: Path, edited: str, text: str) -> None:
    before = site_key(sources)
    (sources / edited).write_text(text)
    assert site_key(sources) != before


def test_build_outputs_do_not_change_the_key(sources: Path) -> None:
    before = site_key(sources)
    (sources / "docs" / "_build" / "html").mkdir(parents=True)
    (sources / "docs" / "_build" / "html" / "index.html").write_text("<html></html>")
    (sources / "docs" / "locale" / "ja" / "LC_MESSAGES" / "index.mo").write_bytes(b"\0")
    (sources / "src" / "gradmodes" / "__pycache__").mkdir()
    (sources / "src" / "gradmodes" / "__pycache__" / "models.cpython-311.pyc").write_bytes(b"")
    assert site_key(sources) == before


@pytest.mark.parametrize("variable", SITE_ENVIRONMENT)
def test_the_variables_that_change_the_pages_change_the_key(
    sources: Path, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(variable, raising=False)
    before = site_key(sources)
    monkeypatch.setenv(variable, "something")
    assert site_key(sources) != before


class Builds:
    """A stand-in for the site build: counts its calls, writes a page, may fail or dawdle."""

    def __init__(self, fail: bool = False, seconds: float = 0.0) -> None:
        self.calls = 0
        self.fail, self.seconds = fail, seconds

    def __call__(self, html: Path) -> dict[str, str]:
        self.calls += 1
        time.sleep(self.seconds)
        if self.fail:
            raise AssertionError("the build failed")
        html.mkdir(parents=True)
        (html / "index.html").write_text(f"build {self.calls}")
        return {"en": f"log of build {self.calls}"}


def test_a_site_is_built_once_per_key_and_the_older_one_removed(tmp_path: Path) -> None:
    builds = Builds()
    first = shared_site("a" * 64, builds, tmp_path)
    again = shared_site("a" * 64, builds, tmp_path)
    assert builds.calls == 1 and again == first
    assert again.logs == {"en": "log of build 1"}
    assert (again.html / "index.html").read_text() == "build 1"

    other = shared_site("b" * 64, builds, tmp_path)
    assert builds.calls == 2 and (other.html / "index.html").read_text() == "build 2"
    assert not first.html.exists()  # the build of the older sources is gone


def test_a_failed_build_is_not_kept(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="the build failed"):
        shared_site("a" * 64, Builds(fail=True), tmp_path)
    builds = Builds()
    shared_site("a" * 64, builds, tmp_path)
    assert builds.calls == 1


def test_processes_asking_at_once_share_one_build(tmp_path: Path) -> None:
    builds = Builds(seconds=0.5)
    found = []
    askers = [
        threading.Thread(target=lambda: found.append(shared_site("a" * 64, builds, tmp_path)))
        for _ in range(3)
    ]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    assert builds.calls == 1
    assert len(found) == 3 and all(site == found[0] for site in found)
