"""The search page splits a Japanese query into words exactly as the search index was split.

Sphinx indexes a Japanese page with its Python port of TinySegmenter
(``sphinx.search.ja.DefaultSplitter``), but the search page splits what the reader types only
at spaces and punctuation: 評価モード stays one word, the index holds 評価 and モード, and
nothing is found. Here the search page gets the same segmenter in JavaScript
(``query_splitter.js``), with the model (the splitter's character classes, bias and weight
tables) read from Sphinx's Python splitter while the site is built, so that index and query
are split by one model, whatever Sphinx release builds the site. The index also drops the
words that ``SearchJapanese.word_filter`` refuses (one character); the query drops them too.

>>> code = splitter_code()
>>> code.startswith("/*") and "var splitQuery" in code and '"BIAS":' in code
True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.search.ja import DefaultSplitter, SearchJapanese

SCRIPT = Path(__file__).with_name("query_splitter.js")
MODEL_MARK = "/* MODEL */"  # where the script takes its model
LENGTH_MARK = "/* MIN_LENGTH */"
MIN_LENGTH = 2  # SearchJapanese.word_filter: a word is indexed if it is longer than one character


def model(splitter: type[DefaultSplitter] = DefaultSplitter) -> dict[str, Any]:
    """The segmenter's model, as Sphinx's Python splitter holds it.

    ``types``: (character class, type) in the order the splitter tries them; ``BIAS``; and
    every weight table (``UW1``, ``BC2``, ``TQ4``, ...), named without the trailing ``__``.

    >>> found = model()
    >>> found["types"][0][1], isinstance(found["BIAS"], int), sorted(found)[:3]
    ('M', True, ['BC1', 'BC2', 'BC3'])
    """
    tables = {
        name.removesuffix("__"): value
        for name in dir(splitter)
        if name.endswith("__") and not name.startswith("_")
        for value in [getattr(splitter, name)]
    }
    types = [[pattern.pattern, kind] for pattern, kind in splitter.patterns_.items()]
    return {"types": types, **tables}


def splitter_code() -> str:
    """``query_splitter.js`` with the model of the installed Sphinx filled in."""
    script = SCRIPT.read_text(encoding="utf-8")
    data = json.dumps(model(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    for mark, value in ((MODEL_MARK, data), (LENGTH_MARK, str(MIN_LENGTH))):
        if script.count(mark) != 1:
            raise ExtensionError(f"{SCRIPT.name} must contain {mark} exactly once")
        script = script.replace(mark, value)
    return script


class SegmentedJapaneseSearch(SearchJapanese):
    """Sphinx's Japanese search, plus the query splitter that matches its index."""

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        splitter = type(self.splitter)
        if not issubclass(splitter, DefaultSplitter) or model(splitter) != model():
            raise ExtensionError(  # a subclass with the same model splits the same way
                f"html_search_options['type'] = {options.get('type')!r}: the search page can "
                "split queries only as sphinx.search.ja.DefaultSplitter does (query_splitter.py)"
            )
        if self.word_filter("ab") is not True or self.word_filter("a") is not False:
            raise ExtensionError("SearchJapanese.word_filter changed: update MIN_LENGTH")
        self.js_splitter_code = splitter_code()


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_search_language(SegmentedJapaneseSearch)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
