"""Per-language parts of the site: the language switcher, alternate links, descriptions.

Each language is built on its own (``-D language=ja``) into ``_build/html/<lang>/``.
Every page gets links to the same page in the other languages, relative, so the site
works from any host path and from the file system: in the switcher, and as
``<link rel="alternate" hreflang=...>`` (with ``x-default``, the source language) for
search engines. Every page gets a ``<meta name="description">`` in its language: the
beginning of its first paragraph. The interface text comes from the language's catalogue
(``ui_text.py``); a language without one is an error, not a site in English.
"""

from __future__ import annotations

import html
import re
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError

from ui_text import CONFIG_TEXT, _, catalogue_path

DESCRIPTION_LENGTH = 160  # characters: what search engines show of a description


def language_links(pagename: str, current: str, languages: dict[str, str]) -> list[dict[str, Any]]:
    """Links from ``pagename`` in ``current`` to the same page in every language.

    >>> [link["href"] for link in language_links("guide/x", "en", {"en": "E", "ja": "J"})]
    ['x.html', '../../ja/guide/x.html']
    """
    up = "../" * (pagename.count("/") + 1)
    leaf = pagename.rsplit("/", 1)[-1]
    return [
        {
            "code": code,
            "name": name,
            "current": code == current,
            "href": f"{leaf}.html" if code == current else f"{up}{code}/{pagename}.html",
        }
        for code, name in languages.items()
    ]


def alternate_links(links: list[dict[str, Any]]) -> str:
    """``<link rel="alternate">`` to every language of the page, and ``x-default`` (the first).

    >>> print(alternate_links(language_links("x", "ja", {"en": "E", "ja": "J"})))
    <link rel="alternate" hreflang="en" href="../en/x.html">
    <link rel="alternate" hreflang="ja" href="x.html">
    <link rel="alternate" hreflang="x-default" href="../en/x.html">
    """
    tags = [(link["code"], link["href"]) for link in links] + [("x-default", links[0]["href"])]
    return "\n".join(
        f'<link rel="alternate" hreflang="{code}" href="{html.escape(href)}">'
        for code, href in tags
    )


def shorten(text: str, limit: int = DESCRIPTION_LENGTH) -> str:
    """``text`` cut to at most ``limit`` characters, at a sentence end if there is one.

    >>> shorten("One. Two three.", 10), shorten("一文目です。二文目です。", 8), shorten("abc", 10)
    ('One.', '一文目です。', 'abc')
    >>> shorten("a long sentence without an end", 12)
    'a long…'
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)|[。！？]", head + " ")]
    if ends:
        return head[: ends[-1]].strip()
    cut = head[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def _readable_text(node: nodes.Node) -> str:
    """The text of ``node`` without its claim marks ("✓ verified" is not a description)."""
    if isinstance(node, nodes.Text):
        return node.astext()
    if isinstance(node, nodes.Element) and "claim-mark" in node.get("classes", []):
        return ""
    return "".join(_readable_text(child) for child in node.children)


def description(doctree: nodes.document) -> str:
    """The beginning of the page's first paragraph (directly in a section), or ``""``."""
    for paragraph in doctree.findall(nodes.paragraph):
        if isinstance(paragraph.parent, nodes.section):
            return shorten(_readable_text(paragraph))
    return ""


def per_language(app: Sphinx, config: Config) -> None:
    """Set what depends on ``language`` (known only after -D overrides)."""
    languages = config.site_languages
    if config.language not in languages:
        raise ConfigError(
            f"language {config.language!r} is not one of the site's languages "
            f"{sorted(languages)} (docs/conf.py: LANGUAGES)"
        )
    source = next(iter(languages))
    if config.language != source and not catalogue_path(
        app.srcdir, config.locale_dirs, config.language
    ):
        raise ConfigError(
            f"language {config.language!r} has no interface catalogue: add "
            f"{config.locale_dirs[0]}{config.language}/LC_MESSAGES/sphinx.po (docs/_ext/ui_text.py)"
        )
    # myst-nb's prompts of hidden cells ("{type}" becomes source / outputs / content).
    config.nb_code_prompt_show = _("Show code cell {type}")
    config.nb_code_prompt_hide = _("Hide code cell {type}")
    for name in CONFIG_TEXT:
        setattr(config, name, _(getattr(config, name)))
    config.html_theme_options = {**config.html_theme_options, "search_bar_text": _("Search...")}


def page_context(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    links = language_links(pagename, app.config.language, app.config.site_languages)
    context["language_links"] = links
    tags = [alternate_links(links)]
    if doctree is not None and (text := description(doctree)):
        tags.append(f'<meta name="description" content="{html.escape(text)}">')
    context["metatags"] = context.get("metatags", "") + "\n".join(tags) + "\n"


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("site_languages", {"en": "English"}, "html", dict)
    app.connect("config-inited", per_language, priority=900)
    app.connect("html-page-context", page_context)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
