"""The build's speed-ups (docs/_ext/speedups.py, parallel_read.py) keep what the build gives."""

from __future__ import annotations

import re
import sys
from types import SimpleNamespace

from _site import DOCS
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser as RSTParser
from sphinx.search.ja import DefaultSplitter

sys.path.insert(0, str(DOCS / "_ext"))
from speedups import JapaneseSplitter, make_document


def site_texts() -> list[str]:
    """Every Japanese message of the site's catalogues and every line of its pages' sources."""
    texts = []
    for catalogue in sorted((DOCS / "locale" / "ja" / "LC_MESSAGES").glob("*.po")):
        texts += re.findall(r'^msgstr "(.*)"$', catalogue.read_text(encoding="utf-8"), re.M)
    for page in sorted(DOCS.glob("*.md")):
        texts += page.read_text(encoding="utf-8").splitlines()
    return texts


def test_the_japanese_splitter_splits_the_site_as_sphinx_does() -> None:
    texts = site_texts()
    assert len(texts) > 1000
    fast, sphinx = JapaneseSplitter({}), DefaultSplitter({})
    assert [fast.split(t) for t in texts] == [sphinx.split(t) for t in texts]
    assert [fast.split(t) for t in texts[:50]] == [sphinx.split(t) for t in texts[:50]]  # memo


def test_the_japanese_splitter_handles_empty_mixed_and_padding_like_text() -> None:
    fast, sphinx = JapaneseSplitter({}), DefaultSplitter({})
    for text in ["", " ", "B1", "E3 B3", "x", "no_grad() の中では", "１２３ａｂｃ！？", "\n\t"]:
        assert fast.split(text) == sphinx.split(text), text


def test_make_document_gives_fresh_default_settings_each_time() -> None:
    first, second = make_document("a"), make_document("b")
    fresh = {**vars(get_default_settings(RSTParser)), "record_dependencies": None}
    assert {**vars(first.settings), "record_dependencies": None} == fresh
    assert first.settings.record_dependencies is not second.settings.record_dependencies
    assert first.settings is not second.settings
    first.settings.tab_width = 99
    assert make_document().settings.tab_width == 8


def test_a_build_with_few_pages_to_read_reads_and_writes_them_in_one_process() -> None:
    """``parallel_min_pages``: an edit of one page reads two, with no forked readers."""
    from parallel_read import reorder

    def app() -> SimpleNamespace:
        config = SimpleNamespace(measured_pages=["performance"], parallel_min_pages=4)
        return SimpleNamespace(parallel=2, config=config)

    few, many = app(), app()
    reorder(few, None, ["index", "verification"])  # type: ignore[arg-type]
    names = ["performance", "index", "matrix", "no-grad", "verification"]
    reorder(many, None, names)  # type: ignore[arg-type]
    assert few.parallel == 1 and many.parallel == 2
    assert names[-1] == "performance"
