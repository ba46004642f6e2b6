"""Pages that show what the build observed: read again when that changed, and only then.

Sphinx reads a page again when its source or a file it depends on changed. Some pages show
more than that:

- a page citing a claim shows the outcome of the claim's check, which depends on what the
  evidence store's key covers (``claims.evidence_key``: the gradmodes source, the modules
  that register claims, these extensions, ``conf.py``, torch, Python, the platform and the
  CUDA devices): ``claims`` notes it with :func:`shows` ``("claims")``;
- the verification and evidence pages show, besides, the records in
  ``gradmodes_evidence_dir`` (a new record is no page's dependency yet), the interface and
  observation catalogues of the language (their labels) and the facts of this machine they
  name (``claims.environment_facts``): :func:`shows` ``("records")``.

A page is read again when the key of what it shows (:func:`inputs_key`) differs from the
key it was read with. The verification page, which used to be read in every build, took
most of a rebuild after a prose edit.

What a page shows of the other pages and of the interface is filled in when it is written,
and Sphinx writes again only the pages it read (and the parents of a retitled page):

- the pages citing each claim, and their titles (``claims.resolve``): the verification page
  is written again when they changed (writing it takes seconds);
- the navigation (the sidebar's titles, the previous and next links: the titles and the
  tables of contents of all pages, which also change when a page is added or removed, such
  as the evidence page every footer links to), and what every page's footer and claim marks
  show (the range of recorded releases, the interface catalogue and ``claims.LABELS``):
  every page is written again when one of them changed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

Inputs = Literal["claims", "records"]  # "records" covers "claims" too
INTERFACE = "sphinx"  # the interface's catalogue (ui_text.py)
CATALOGUES = (INTERFACE, "observations")  # and the observations' (observation_text.py)

_keys: dict[tuple[int, Inputs], str] = {}  # computed once per process and app


def inputs_key(app: Sphinx, inputs: Inputs) -> str:
    """A sha256 over what a page showing ``inputs`` shows besides its own source."""
    if (id(app), inputs) not in _keys:
        _keys[id(app), inputs] = _key(app, inputs)
    return _keys[id(app), inputs]


def _key(app: Sphinx, inputs: Inputs) -> str:
    import claims  # docs/_ext/claims.py and evidence.py import this module
    import evidence

    if inputs == "claims":
        return claims.evidence_key(app.config.gradmodes_require_cuda)
    digest = hashlib.sha256(inputs_key(app, "claims").encode())
    for name, value in sorted(claims.environment_facts().items()):
        digest.update(f"\0{name}={value}".encode())
    files = sorted(evidence.evidence_dir(app).glob("*.json")) + catalogues(app, CATALOGUES)
    for path in files:
        digest.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def catalogues(app: Sphinx, names: tuple[str, ...]) -> list[Path]:
    """The language's catalogues ``<name>.po`` that exist, in every folder of ``locale_dirs``."""
    found = []
    for folder in app.config.locale_dirs if app.config.language else ():
        where = Path(app.srcdir) / folder / app.config.language / "LC_MESSAGES"
        found += [where / f"{name}.po" for name in names if (where / f"{name}.po").is_file()]
    return found


def shows(env: BuildEnvironment, inputs: Inputs) -> None:
    """Note that the page being read shows ``inputs`` (a page showing records keeps that)."""
    shown = _shown(env)
    if shown.get(env.docname, ("", ""))[0] != "records":
        shown[env.docname] = (inputs, inputs_key(env.app, inputs))


def _shown(env: BuildEnvironment) -> dict[str, tuple[str, str]]:
    if not hasattr(env, "gradmodes_inputs"):
        env.gradmodes_inputs = {}  # type: ignore[attr-defined]
    return env.gradmodes_inputs  # type: ignore[attr-defined]


def outdated(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    """``env-get-outdated``: the pages read with other inputs than this build's (and, before
    any page is read again, what pages show of the others)."""
    env.gradmodes_cited_before = citations(env)  # type: ignore[attr-defined]
    env.gradmodes_navigation_before = navigation(env)  # type: ignore[attr-defined]
    return [
        page
        for page, (inputs, key) in _shown(env).items()
        if page in env.found_docs and key != inputs_key(app, inputs)  # type: ignore[arg-type]
    ]


def citations(env: BuildEnvironment) -> dict[str, list[tuple[str, str]]]:
    """Each cited claim's citing pages, with their titles: ``{claim: [(page, title)]}``."""
    cites = getattr(env, "gradmodes_citations", {})
    title = titles(env)
    return {
        claim: sorted((page, title.get(page, page)) for page in pages)
        for claim, pages in cites.items()
        if pages
    }


def titles(env: BuildEnvironment) -> dict[str, str]:
    """Every page's title, as text."""
    return {page: node.astext() for page, node in env.titles.items()}


def navigation(env: BuildEnvironment) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Every page's title, and the pages each page's tables of contents list."""
    return titles(env), {page: list(listed) for page, listed in env.toctree_includes.items()}


def written_with(env: BuildEnvironment) -> tuple[object, ...]:
    """What every page's footer and claim marks show besides the page itself."""
    import claims
    import evidence

    interface = hashlib.sha256()
    for po in catalogues(env.app, (INTERFACE,)):
        interface.update(po.read_bytes())
    return (
        evidence.recorded_range(env),
        interface.hexdigest(),
        sorted(claims.LABELS.items()),
    )


def purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _shown(env).pop(docname, None)


def merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: Any) -> None:
    theirs = getattr(other, "gradmodes_inputs", {})
    _shown(env).update({page: theirs[page] for page in docnames if page in theirs})


def to_write(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """``env-updated``: every page when the navigation, or what footers and claim marks show,
    changed; else the verification page when the pages citing a claim, or their titles, did."""
    import claims

    shown = written_with(env)
    before = getattr(env, "gradmodes_written_with", shown)
    env.gradmodes_written_with = shown  # type: ignore[attr-defined]
    navigated = getattr(env, "gradmodes_navigation_before", None)
    if before != shown or (navigated is not None and navigated != navigation(env)):
        return sorted(env.found_docs)
    cited = getattr(env, "gradmodes_cited_before", None)
    if claims.VERIFICATION_PAGE in env.found_docs and cited != citations(env):
        return [claims.VERIFICATION_PAGE]
    return []


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("env-get-outdated", outdated)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-updated", to_write)
    return {
        "version": "1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
        "env_version": 1,
    }


__all__ = ["inputs_key", "setup", "shows"]
