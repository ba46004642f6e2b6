"""Faster equivalents of four slow spots in Sphinx and myst-parser: the output is unchanged.

Profiles of the builds found four costs that are pure overhead (``docs/bench.py`` times the
builds): three in the Japanese build (it executes nothing: every notebook comes from the
cache), one in every build:

- **The Japanese search index.** Sphinx splits every text node of a Japanese page, code and
  outputs included, with its pure-Python TinySegmenter (``sphinx.search.ja.DefaultSplitter``):
  about a fifth of that build. :class:`JapaneseSplitter` computes the same segmentation from
  the same tables, with the parts of each position's score that repeat (the window of six
  characters; the last three decisions with four character types) looked up once, and each
  distinct text split once. conf.py selects it (``html_search_options``); the JavaScript
  that splits the reader's query is Sphinx's own, unchanged, and finds the same words.
- **Translated paragraphs.** myst-parser builds the default docutils settings (an
  ``optparse`` parser of every option) for each fragment it renders, and Sphinx renders
  every translated message as a fragment: a thousand times per Japanese build, for a
  document that is then thrown away (``DocutilsRenderer.setup_render`` evaluates
  ``options.get("document", make_document())`` eagerly). :func:`setup` makes
  ``make_document`` copy settings built once.
- **Debug messages nobody reads.** Deciding which nodes to translate, Sphinx logs each node
  it skips at debug level with its XML (``sphinx.util.nodes.repr_domxml``), and makes that
  XML, of a whole section at times, whether or not debug messages are shown: about a tenth
  of the Japanese build in a profile. :func:`setup` makes the XML only when a message shows
  it (:class:`LazyDomXML`).
- **Templates compiled in every build.** Jinja compiles the theme's templates (about 40) in
  each build process, 0.45 s of a 4 s rebuild after a prose edit. :func:`template_cache`
  keeps the compiled templates in the doctree folder; Jinja reuses one only while its
  template's source is unchanged (it compares a checksum of the source).

``tests/test_speedups.py`` checks each against the original.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jinja2
from docutils import nodes
from docutils.frontend import Values, get_default_settings
from docutils.parsers.rst import Parser as RSTParser
from docutils.utils import new_document
from sphinx.application import Sphinx
from sphinx.search.ja import DefaultSplitter
from sphinx.util import nodes as sphinx_nodes


class JapaneseSplitter(DefaultSplitter):
    """Sphinx's TinySegmenter, with the same result, about four times faster.

    >>> JapaneseSplitter({}).split("勾配を記録しません")
    ['勾配', 'を', '記録', 'し', 'ませ', 'ん']
    >>> JapaneseSplitter({}).split("勾配を記録しません") == DefaultSplitter({}).split(
    ...     "勾配を記録しません"
    ... )
    True
    """

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        self._types: dict[str, str] = {}  # character -> its TinySegmenter type
        self._windows: dict[tuple[str, ...], int] = {}  # six characters -> their score
        self._decisions: dict[tuple[str, ...], int] = {}  # 3 decisions, 4 types -> score
        self._texts: dict[str, tuple[str, ...]] = {}  # text -> its words

    def ctype_(self, char: str) -> str:
        found = self._types.get(char)
        if found is None:
            found = self._types[char] = super().ctype_(char)
        return found

    def split(self, input: str) -> list[str]:
        found = self._texts.get(input)
        if found is None:
            found = self._texts[input] = tuple(self._segment(input))
        return list(found)

    def _window_score(self, w: tuple[str, ...], c: list[str]) -> int:
        """The score's terms that depend on the six characters around a position only."""
        w1, w2, w3, w4, w5, w6 = w
        c1, c2, c3, c4, c5, c6 = c
        return (
            self.UW1__.get(w1, 0)
            + self.UW2__.get(w2, 0)
            + self.UW3__.get(w3, 0)
            + self.UW4__.get(w4, 0)
            + self.UW5__.get(w5, 0)
            + self.UW6__.get(w6, 0)
            + self.BW1__.get(w2 + w3, 0)
            + self.BW2__.get(w3 + w4, 0)
            + self.BW3__.get(w4 + w5, 0)
            + self.TW1__.get(w1 + w2 + w3, 0)
            + self.TW2__.get(w2 + w3 + w4, 0)
            + self.TW3__.get(w3 + w4 + w5, 0)
            + self.TW4__.get(w4 + w5 + w6, 0)
            + self.UC1__.get(c1, 0)
            + self.UC2__.get(c2, 0)
            + self.UC3__.get(c3, 0)
            + self.UC4__.get(c4, 0)
            + self.UC5__.get(c5, 0)
            + self.UC6__.get(c6, 0)
            + self.BC1__.get(c2 + c3, 0)
            + self.BC2__.get(c3 + c4, 0)
            + self.BC3__.get(c4 + c5, 0)
            + self.TC1__.get(c1 + c2 + c3, 0)
            + self.TC2__.get(c2 + c3 + c4, 0)
            + self.TC3__.get(c3 + c4 + c5, 0)
            + self.TC4__.get(c4 + c5 + c6, 0)
        )

    def _decision_score(self, key: tuple[str, ...]) -> int:
        """The terms that depend on the last three decisions and four character types."""
        p1, p2, p3, c1, c2, c3, c4 = key
        return (
            self.UP1__.get(p1, 0)
            + self.UP2__.get(p2, 0)
            + self.UP3__.get(p3, 0)
            + self.BP1__.get(p1 + p2, 0)
            + self.BP2__.get(p2 + p3, 0)
            + self.UQ1__.get(p1 + c1, 0)
            + self.UQ2__.get(p2 + c2, 0)
            + self.UQ1__.get(p3 + c3, 0)  # sic: Sphinx's (and TinySegmenter's) UQ1, not UQ3
            + self.BQ1__.get(p2 + c2 + c3, 0)
            + self.BQ2__.get(p2 + c3 + c4, 0)
            + self.BQ3__.get(p3 + c2 + c3, 0)
            + self.BQ4__.get(p3 + c3 + c4, 0)
            + self.TQ1__.get(p2 + c1 + c2 + c3, 0)
            + self.TQ2__.get(p2 + c2 + c3 + c4, 0)
            + self.TQ3__.get(p3 + c1 + c2 + c3, 0)
            + self.TQ4__.get(p3 + c2 + c3 + c4, 0)
        )

    def _segment(self, input: str) -> list[str]:
        """``DefaultSplitter.split``'s loop, with its repeated lookups memoised."""
        if not input:
            return []
        windows, decisions = self._windows, self._decisions
        seg = ["B3", "B2", "B1", *input, "E1", "E2", "E3"]
        ctype = ["O", "O", "O", *map(self.ctype_, input), "O", "O", "O"]
        result = []
        word = seg[3]
        p1 = p2 = p3 = "U"
        for i in range(4, len(seg) - 3):
            window = tuple(seg[i - 3 : i + 3])
            base = windows.get(window)
            if base is None:
                base = windows[window] = self._window_score(window, ctype[i - 3 : i + 3])
            key = (p1, p2, p3, *ctype[i - 3 : i + 1])
            extra = decisions.get(key)
            if extra is None:
                extra = decisions[key] = self._decision_score(key)
            p = "O"
            if self.BIAS__ + base + extra > 0:
                result.append(word.strip())
                word = ""
                p = "B"
            p1, p2, p3 = p2, p3, p
            word += seg[i]
        result.append(word.strip())
        return result


@functools.cache
def _default_settings(parser_cls: type) -> Values:
    return get_default_settings(parser_cls)


def make_document(source_path: str = "notset", parser_cls: type = RSTParser) -> nodes.document:
    """myst-parser's ``make_document``, on a copy of settings built once per parser class.

    >>> make_document().settings is not make_document().settings
    True
    """
    return new_document(source_path, settings=copy.deepcopy(_default_settings(parser_cls)))


class LazyDomXML:
    """``sphinx.util.nodes.repr_domxml(node, length)``, made when shown (``str``, ``%s``).

    >>> node = nodes.paragraph("", "x")
    >>> str(LazyDomXML(node)) == sphinx_nodes.repr_domxml(node) == "<paragraph>x</paragraph>"
    True
    """

    __slots__ = ("length", "node")

    def __init__(self, node: nodes.Node, length: int = 80) -> None:
        self.node, self.length = node, length

    def __str__(self) -> str:
        return _repr_domxml(self.node, self.length)

    __repr__ = __str__


_repr_domxml = sphinx_nodes.repr_domxml  # Sphinx's own


def template_cache(app: Sphinx) -> None:
    """Give the builder's Jinja environment a bytecode cache in the doctree folder, one
    folder per Jinja release (``builder-inited``; builders without templates are left as
    they are)."""
    environment = getattr(getattr(app.builder, "templates", None), "environment", None)
    if not isinstance(environment, jinja2.Environment):
        return
    folder = Path(app.doctreedir) / f"jinja-{jinja2.__version__}"
    folder.mkdir(parents=True, exist_ok=True)
    environment.bytecode_cache = jinja2.FileSystemBytecodeCache(str(folder))


def setup(app: Sphinx) -> dict[str, Any]:
    from myst_parser.mdit_to_docutils import base

    base.make_document = make_document
    app.connect("builder-inited", template_cache)
    # Sphinx's module passes it only to logger.debug (tests/test_speedups.py checks).
    sphinx_nodes.repr_domxml = LazyDomXML  # type: ignore[assignment]
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
