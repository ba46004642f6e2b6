"""Sphinx configuration: the one place for languages, execution and theme."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

DOCS = Path(__file__).parent
sys.path.insert(0, str(DOCS / "_ext"))

from evidence_cache import package_key  # noqa: E402  (docs/_ext is on the path now)

# torch.compile keeps its caches in TORCHINDUCTOR_CACHE_DIR (default: a folder in the system's
# temporary directory), and dynamo creates it when it is first imported: keep it in the build
# folder, for the claim checks here and the notebooks' kernels, which inherit the variable.
os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(DOCS / "_build" / ".torch-compile-cache")

# The site's languages (code -> name in that language): English is the source, the others
# come from locale/. The build script and the tests read this; add a language here only.
LANGUAGES = {"en": "English", "ja": "日本語"}
site_languages = LANGUAGES

project = "gradmodes"
# Shown in every page's footer, translated by each language's interface catalogue (ui_text.py).
author = "the gradmodes authors"
copyright = "2026, the gradmodes authors"
language = "en"  # each build overrides it with -D language=...

extensions = [
    "myst_nb",
    "sphinx_design",
    "sphinx_copybutton",
    "sphinx.ext.autodoc",  # the API page documents gradmodes from its docstrings
    "claims",  # docs/_ext/claims.py: the {claim} role and the verification page's entries
    "evidence",  # docs/_ext/evidence.py: the recorded environments (_data/evidence/*.json)
    "build_inputs",  # docs/_ext/build_inputs.py: pages read again when what they show changed
    "matrix_table",  # docs/_ext/matrix_table.py: the {behaviour-matrix} table
    "site_i18n",  # docs/_ext/site_i18n.py: language switcher, alternate links, descriptions
    "ui_text",  # docs/_ext/ui_text.py: the interface text, from locale/<lang>/.../sphinx.po
    "code_comments",  # docs/_ext/code_comments.py: code cells' comments are translated
    "translation_check",  # docs/_ext/translation_check.py: no translation dropped silently
    "query_splitter",  # docs/_ext/query_splitter.py: Japanese queries split like the index
    "error_cells",  # docs/_ext/error_cells.py: a raises-exception cell declares its error
    "devices",  # docs/_ext/devices.py: the `cuda` tag; a GPU build's own execution cache
    "parallel_read",  # docs/_ext/parallel_read.py: -j reading with one execution cache
    "speedups",  # docs/_ext/speedups.py: faster Japanese search, messages and templates
    "table_fit",  # docs/_ext/table_fit.py: tables that fit a desktop and a phone
    "downloads",  # docs/_ext/downloads.py: each notebook page offers its .ipynb and .py
]
# Read last: with -j, this page's timings run after the other notebooks of the build.
measured_pages = ["performance"]
# With -j, fewer pages than this to read are read and written in one process (no forks).
parallel_min_pages = 4

# A claim that no page cites is a warning (docs/_ext/claims.py), so -W fails the build.

root_doc = "index"
exclude_patterns = ["_build", "README.md", "locale", "_data"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["gradmodes.css"]

# --- translations --------------------------------------------------------------------------
locale_dirs = ["locale/"]
gettext_compact = False  # one catalogue per page
gettext_uuid = False
gettext_location = False  # keep the .pot files stable across edits that only move lines
gettext_last_translator = "gradmodes authors"

# --- API page (autodoc) -------------------------------------------------------------------
autodoc_member_order = "bysource"
# Types from torch and the standard library in the signatures have no page on this site, and
# the build fetches no inventory (no network): nitpicky mode must not report them.
nitpick_ignore = [
    ("py:class", name)
    for name in (
        "torch.Tensor",
        "torch.device",
        "torch.nn.modules.module.Module",
        "torch.nn.modules.container.Sequential",
        "torch.nn.parameter.Parameter",
        "torch.optim.optimizer.Optimizer",
        "collections.abc.Callable",
        "collections.abc.Iterable",
        "collections.abc.Iterator",
        "collections.abc.Mapping",
        "collections.abc.Sequence",
        "contextlib.AbstractContextManager",
        "gradmodes.modes.M",  # the TypeVar of evaluating(): "the type of the model passed in"
        "gradmodes.ddp.T",  # the TypeVar of ddp.run(): "what the worker returns"
        "collections.abc.Iterable",
        "torch.dtype",
        "torch.nn.modules.linear.Linear",
    )
]

# --- MyST / myst-nb ------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "cache"
# One cache for all languages, outside the HTML output: the Japanese build re-executes nothing.
# jupyter-cache keys a notebook on its code alone, so the folder is keyed by the gradmodes
# sources and torch (its version, its files and what Python runs at startup: a sitecustomize
# or .pth that patches it): a change to any executes the notebooks again.
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache" / package_key())
nb_execution_timeout = 120
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True  # ... and the log shows its traceback
nb_output_stderr = "warn"  # a cell writing to stderr is a warning, so -W fails the build
nb_merge_streams = True

# --- HTML ----------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "gradmodes"
html_last_updated_fmt = None  # no build dates: two builds give the same HTML
html_copy_source = True  # each page's .md, for the download button (the theme names it as is)
html_favicon = "_static/favicon.svg"  # also spares browsers a request for /favicon.ico
# Sphinx's Japanese word splitter, about four times faster, same words (docs/_ext/speedups.py).
html_search_options = {"type": "speedups.JapaneseSplitter"}
# A page whose title holds the whole query first (docs/_ext/search_scorer.js).
html_search_scorer = str(DOCS / "_ext" / "search_scorer.js")
html_context = {"default_mode": "auto"}  # else the theme logs an error on a first visit


def source_links(environ: Mapping[str, str]) -> dict[str, object]:
    """Theme options linking every page to its source on GitHub, when built by GitHub Actions.

    The runner sets these variables (.github/workflows/pages.yml); a local build gets no
    links, so its HTML does not depend on where it was built, and offers the .md download.
    """
    server, repo = environ.get("GITHUB_SERVER_URL"), environ.get("GITHUB_REPOSITORY")
    if not (server and repo):
        return {}
    return {
        "repository_url": f"{server}/{repo}",
        "repository_branch": environ.get("GITHUB_REF_NAME") or "main",
        "path_to_docs": "docs",
        "use_repository_button": True,
        "use_source_button": True,
    }


html_theme_options = {
    "article_header_end": ["lang-switcher.html", "article-header-buttons.html"],
    "use_download_button": True,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "show_toc_level": 2,
    # The theme's footer, plus the torch the claims were checked with (_templates/).
    "footer_content_items": ["author.html", "copyright.html", "checked-with.html"],
    # pydata-sphinx-theme 0.20 adds a search field in a top bar unless this is set: the book
    # theme has its own in the sidebar, and the top bar would be a second, mostly empty header.
    "navbar_persistent": [],
    **source_links(os.environ),
}

# Copy buttons on code inputs only; outputs and prompts are never copied.
copybutton_selector = "div.cell_input div.highlight pre, div.highlight-python div.highlight pre"
copybutton_exclude = ".linenos, .gp, .go"
