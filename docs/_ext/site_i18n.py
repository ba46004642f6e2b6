"""Per-language parts of the site: the language switcher and myst-nb's UI strings.

Each language is built on its own (``-D language=ja``) into ``_build/html/<lang>/``.
Every page gets links to the same page in the other languages, relative, so the site
works from any host path and from the file system.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

# myst-nb's prompts of hidden cells ("{type}" becomes source / outputs / content).
CODE_PROMPTS = {
    "en": ("Show code cell {type}", "Hide code cell {type}"),
    "ja": ("コードセルを表示", "コードセルを隠す"),
}
SWITCHER_LABEL = {"en": "Language", "ja": "言語"}


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


def per_language(app: Sphinx, config: Config) -> None:
    """Set the UI strings that depend on ``language`` (known only after -D overrides)."""
    if config.language not in config.site_languages:
        raise ValueError(
            f"language {config.language!r} is not one of the site's languages "
            f"{sorted(config.site_languages)} (docs/conf.py: LANGUAGES)"
        )
    show, hide = CODE_PROMPTS[config.language]
    config.nb_code_prompt_show = show
    config.nb_code_prompt_hide = hide


def page_context(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    language = app.config.language
    context["language_links"] = language_links(pagename, language, app.config.site_languages)
    context["language_switcher_label"] = SWITCHER_LABEL.get(language, SWITCHER_LABEL["en"])


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("site_languages", {"en": "English"}, "html", dict)
    app.connect("config-inited", per_language, priority=900)
    app.connect("html-page-context", page_context)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
