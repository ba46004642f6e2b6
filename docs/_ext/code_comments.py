"""Comments in code cells are translated like prose; the code itself is executed once.

Each comment of a notebook cell's code is a message of the page's catalogue: the gettext
build extracts it into the page's ``.pot`` (a run of whole-line comments at one indentation
is one message, its lines joined by newlines; a comment after code is a message of its own),
and a translated page shows the cell with its comments translated. Only the page's display
changes: myst-nb executes the English source once, for every language (the execution cache
is keyed by that source), and the copy button copies what the page shows. The rest of the
code, every token but comments, is exactly the executed code (``tests/test_code_comments.py``).

>>> code = "x = 1  # one\\n# two\\n#   three\\nprint(x)\\n"
>>> [block.message for block in comment_blocks(code)]
['one', 'two\\n  three']
>>> print(translate_comments(code, {"one": "一", "two\\n  three": "二\\n三"}.get), end="")
x = 1  # 一
# 二
# 三
print(x)
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.locale import get_translator
from sphinx.transforms import SphinxTransform
from sphinx.util.i18n import docname_to_domain

# Comments that are instructions to tools, not to readers: never translated.
PRAGMA = re.compile(r"#\s*(noqa\b|type:|fmt:|pragma\b|ruff:)")


@dataclass(frozen=True)
class CommentBlock:
    """One translatable comment: lines ``first``..``last`` (1-based) of a cell's code.

    ``column`` is where its ``#`` stands; ``trailing`` is true for a comment after code.
    """

    first: int
    last: int
    column: int
    trailing: bool
    message: str


def _text(comment: str) -> str:
    """A comment without its ``#`` and the one space after it."""
    body = comment[1:]
    return body[1:] if body.startswith(" ") else body


def comment_blocks(code: str) -> list[CommentBlock]:
    """The translatable comments of ``code`` (none if it is not valid Python to tokenize).

    >>> [(b.first, b.last, b.trailing) for b in comment_blocks("# a\\n# b\\n\\n# c\\ny = 2  # d")]
    [(1, 2, False), (4, 4, False), (5, 5, True)]
    >>> comment_blocks("x = 1  # noqa: E501")
    []
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, not {type(code).__name__}")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    lines = code.splitlines()
    blocks: list[CommentBlock] = []
    for token in tokens:
        if token.type != tokenize.COMMENT or PRAGMA.match(token.string):
            continue
        row, column = token.start
        trailing = bool(lines[row - 1][:column].strip())
        text = _text(token.string)
        previous = blocks[-1] if blocks else None
        if (
            previous is not None
            and not trailing
            and not previous.trailing
            and previous.last == row - 1
            and previous.column == column
        ):
            blocks[-1] = CommentBlock(
                previous.first, row, column, False, f"{previous.message}\n{text}"
            )
        else:
            blocks.append(CommentBlock(row, row, column, trailing, text))
    return blocks


def translate_comments(code: str, translate: Callable[[str], str | None]) -> str:
    """``code`` with each comment replaced by ``translate(message)`` where that is not empty.

    A translated run of whole-line comments may have more or fewer lines than the original;
    a comment after code stays on its line.
    """
    lines = code.splitlines(keepends=True)
    for block in reversed(comment_blocks(code)):
        translated = translate(block.message)
        if not translated or translated == block.message:
            continue
        first = lines[block.first - 1]
        ending = "\n" if first.endswith("\n") else ""
        if block.trailing:
            line = first.rstrip("\r\n")
            text = " ".join(translated.split("\n"))
            lines[block.first - 1] = f"{line[: block.column]}# {text}{ending}"
            continue
        indent = first[: block.column]
        last_ending = "\n" if lines[block.last - 1].endswith("\n") else ""
        new = [f"{indent}# {text}".rstrip() + "\n" for text in translated.split("\n")]
        new[-1] = new[-1].removesuffix("\n") + last_ending
        lines[block.first - 1 : block.last] = new
    return "".join(lines)


class commented_code(nodes.literal_block, addnodes.translatable):
    """A code cell's input, whose comments are its translatable messages."""

    def preserve_original_messages(self) -> None:
        self.setdefault("original_code", self.astext())

    def extract_original_messages(self) -> Sequence[str]:
        return [block.message for block in comment_blocks(self.get("original_code", ""))]

    def apply_translated_message(self, original_message: str, translated_message: str) -> None:
        """Nothing: ``TranslateComments`` translates every comment once ``Locale`` is done.

        (``Locale`` stops giving a node its translations as soon as one of its messages is
        translated as itself, ``p.grad == 2 * p`` say: a cell's other comments would stay.)
        """


def cell_inputs(document: nodes.document) -> list[nodes.literal_block]:
    """The code of every notebook cell shown on the page."""
    return [
        block
        for block in document.findall(nodes.literal_block)
        if isinstance(block.parent, nodes.container) and "cell_input" in block.parent["classes"]
    ]


class MarkCommentsTranslatable(SphinxTransform):
    """Before the translation: every cell's code becomes a ``commented_code`` node."""

    default_priority = 5  # before PreserveTranslatableMessages (10) and Locale (20)

    def apply(self, **kwargs: Any) -> None:
        for block in cell_inputs(self.document):
            if not comment_blocks(block.astext()):
                continue
            node = commented_code(block.rawsource, "", *block.children, **block.attributes)
            node.source, node.line = block.source, block.line
            block.replace_self(node)


class TranslateComments(SphinxTransform):
    """After ``Locale``: each cell's comments from the page's catalogue, in a plain literal
    block again (for the writers and the highlighting).

    The gettext builder keeps the ``commented_code`` nodes: it extracts their messages.
    """

    default_priority = 21  # after Locale (20)

    def apply(self, **kwargs: Any) -> None:
        from sphinx.builders.gettext import MessageCatalogBuilder

        if issubclass(self.env._builder_cls, MessageCatalogBuilder):
            return
        domain = docname_to_domain(self.env.current_document.docname, self.config.gettext_compact)
        gettext = get_translator(domain).gettext
        for node in list(self.document.findall(commented_code)):
            attributes = {
                key: value
                for key, value in node.attributes.items()
                if key not in {"original_code", "translated"}
            }
            code = translate_comments(node.get("original_code", node.astext()), gettext)
            block = nodes.literal_block(code, code, **attributes)
            block.source, block.line = node.source, node.line
            node.replace_self(block)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_node(commented_code)
    app.add_transform(MarkCommentsTranslatable)
    app.add_transform(TranslateComments)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
