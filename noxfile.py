"""Sessions to build, translate and test the site: ``nox -l`` lists them."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
# The torch requirement, installed before anything else so that no other requirement pulls
# a (multi-GB) CUDA build. Point pip at a CPU-only index to get a CPU build (README.md).
TORCH = os.environ.get("GRADMODES_TORCH", "torch==2.13.0")


def install(session: nox.Session, *groups: str) -> None:
    """Install torch, the package (editable) and the given dependency groups."""
    session.install(TORCH)
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, *groups))


@nox.session
def lint(session: nox.Session) -> None:
    """Lint and check formatting with ruff."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the unit tests and the site tests (they build both languages once)."""
    install(session, "test", "docs")
    session.run("pytest", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site in every language into docs/_build/html (args go to docs/build.py)."""
    install(session, "docs")
    session.run("python", "docs/build.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Time clean and incremental builds of the site (args go to docs/bench.py)."""
    install(session, "docs")
    session.run("python", "docs/bench.py", *session.posargs)


@nox.session(name="docs-live")
def docs_live(session: nox.Session) -> None:
    """Serve one language with live reload: nox -s docs-live -- [LANG] (default en)."""
    install(session, "docs", "live")
    lang = session.posargs[0] if session.posargs else "en"
    session.run(
        "sphinx-autobuild",
        "-D",
        f"language={lang}",
        "--watch",
        "src",
        "-d",
        f"docs/_build/doctrees/live-{lang}",
        "docs",
        f"docs/_build/live/{lang}",
    )


@nox.session
def i18n(session: nox.Session) -> None:
    """Regenerate the .pot files and update the catalogues of every translated language."""
    install(session, "docs")
    session.run("python", "docs/build.py", "--gettext")
    languages = session.run(
        "python",
        "-c",
        "import runpy; print(','.join(list(runpy.run_path('docs/conf.py')['LANGUAGES'])[1:]))",
        silent=True,
    ).strip()
    session.run(
        "sphinx-intl",
        "update",
        "-p",
        "docs/_build/gettext",
        "-d",
        "docs/locale",
        "-l",
        languages,
        "--no-obsolete",
    )
