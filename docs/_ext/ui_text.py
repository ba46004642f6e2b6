"""The site's interface text, in every language, from one gettext catalogue per language.

Everything the site shows besides the pages' own text (the claim marks and the verification
table, the language switcher, the code-cell toggles, the footer, the 404 page, the theme's
buttons, the search page's messages) is written in English in the code, marked with ``_``
(translated where it is used) or ``N_`` (only marked: translated later), and translated in
``locale/<lang>/LC_MESSAGES/sphinx.po``. Sphinx reads that catalogue before its own and the
theme's, for its templates and its JavaScript, so one file translates the site's templates,
its extensions, the texts of ``conf.py`` the pages show (``CONFIG_TEXT``), and the texts of
Sphinx and the theme that their own catalogues leave untranslated or translate badly
(``FOREIGN``). ``docs/build.py --gettext`` writes its template, ``sphinx.pot`` (``write_pot``).

Adding a language is adding it to ``LANGUAGES`` in ``conf.py`` and a folder
``locale/<lang>/LC_MESSAGES/`` with this catalogue and one per page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po
from sphinx import package_dir
from sphinx.application import Sphinx
from sphinx.locale import get_translation

CATALOGUE = "sphinx"  # the domain Sphinx's templates and JavaScript are translated from
# How extensions mark their text (babel's keyword specs: which arguments are messages).
KEYWORDS: dict[str, Any] = {"_": None, "N_": None, "NP_": (1, 2)}
# conf.py values the pages show, translated like the rest (msgid: the value in conf.py).
CONFIG_TEXT = ("author", "copyright")

_translate = get_translation(CATALOGUE)


def _(message: str) -> str:
    """``message`` in the language being built (the English itself while building English)."""
    return str(_translate(message))


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue, untranslated: ``_`` translates it where it is used."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a message with a plural form (used by Sphinx's JavaScript) for the catalogue."""
    return singular, plural


# Shown by Sphinx or the theme: listed so that the site's catalogue can translate them, where
# their own catalogues have no translation (or a poor one) for some of the site's languages.
FOREIGN = (
    N_("Link to this heading"),
    N_("Link to this definition"),
    N_("Link to this table"),
    N_("Keyword-only parameters separator (PEP 3102)"),
    N_("Color mode"),
    N_("System Settings"),
    N_("On this page"),
    N_("© Copyright %(copyright)s."),
    N_("Search..."),  # the theme's search_bar_text (site_i18n.py)
    # searchtools.js: an object hit is "<object type>, in <page title>".
    N_(", in "),
    NP_(
        "Search finished, found one page matching the search query.",
        "Search finished, found ${resultCount} pages matching the search query.",
    ),
)


def catalogue_path(srcdir: Path, locale_dirs: Iterable[str], lang: str) -> Path | None:
    """The interface catalogue of ``lang`` in the first of ``locale_dirs`` that has one."""
    for folder in locale_dirs:
        path = Path(srcdir) / folder / lang / "LC_MESSAGES" / f"{CATALOGUE}.po"
        if path.is_file():
            return path
    return None


def read_catalogue(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def translator(path: Path | None) -> Callable[[str], str]:
    """``gettext`` for one catalogue file, outside Sphinx (the 404 page of ``docs/build.py``).

    Untranslated and fuzzy entries, and a missing file, give the English.

    >>> translator(None)("Page not found")
    'Page not found'
    """
    if path is None:
        return lambda message: message
    if not isinstance(path, Path):
        raise TypeError(f"path must be a pathlib.Path or None, not {type(path).__name__}")
    catalogue = read_catalogue(path)

    def gettext(message: str) -> str:
        entry = catalogue.get(message)
        if entry is None or entry.fuzzy or not isinstance(entry.string, str) or not entry.string:
            return message
        return entry.string

    return gettext


def write_pot(pot: Path, sources: Iterable[Path], config: Mapping[str, Any]) -> Catalog:
    """Complete ``pot`` (the template strings the gettext build found, if any) with the
    messages marked in ``sources`` (Python files) and the ``CONFIG_TEXT`` of ``config``."""
    catalogue = read_catalogue(pot) if pot.is_file() else Catalog(project=str(config["project"]))
    for source in sorted(sources):
        for _line, message, comments, _context in extract_from_file(
            "python", str(source), keywords=KEYWORDS, comment_tags=("Translators:",)
        ):
            catalogue.add(message, auto_comments=comments)
    for name in CONFIG_TEXT:
        catalogue.add(str(config[name]), auto_comments=[f"conf.py: {name}"])
    with pot.open("wb") as handle:
        write_po(handle, catalogue, width=100, no_location=True, sort_output=True)
    return catalogue


def javascript_messages(path: Path, lang: str) -> dict[str, Any]:
    """The messages of Sphinx's ``translations.js`` for ``lang``, completed from ``path``."""
    messages: dict[str, Any] = {}
    plural_expr = "(n != 1)"
    bundled = Path(package_dir) / "locale" / lang / "LC_MESSAGES" / "sphinx.js"
    if bundled.is_file():
        text = bundled.read_text(encoding="utf-8")
        data = json.loads(text[text.index("(") + 1 : text.rindex(")")])
        messages, plural_expr = data["messages"], data["plural_expr"]
    catalogue = read_catalogue(path)
    plural_expr = catalogue.plural_expr or plural_expr
    for entry in catalogue:
        if not entry.id or entry.fuzzy:
            continue
        if isinstance(entry.id, tuple):
            if all(entry.string):
                messages[entry.id[0]] = list(entry.string)
        elif entry.string:
            messages[entry.id] = entry.string
    return {"locale": lang, "messages": messages, "plural_expr": plural_expr}


def write_translations_js(app: Sphinx, exception: Exception | None) -> None:
    """Sphinx's JavaScript (search page, highlighting) gets the site's translations too."""
    if exception or app.builder.format != "html" or not app.config.language:
        return
    path = catalogue_path(app.srcdir, app.config.locale_dirs, app.config.language)
    if path is None:
        return
    data = javascript_messages(path, app.config.language)
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True)
    target = Path(app.outdir) / "_static" / "translations.js"
    target.write_text(f"Documentation.addTranslations({text});\n", encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("build-finished", write_translations_js)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
