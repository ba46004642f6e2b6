"""Sessions to build, translate and test the site: ``nox -l`` lists them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests", "browser"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
# The torch requirement, installed before anything else so that no other requirement pulls
# a (multi-GB) CUDA build. Point pip at a CPU-only index to get a CPU build (README.md).
TORCH = os.environ.get("GRADMODES_TORCH", "torch==2.13.0")
# The torch releases `nox -s torch_versions` checks: the oldest the package supports and the
# one the site is built with, unless GRADMODES_TORCH_VERSIONS lists others ("2.1.2 2.4.1").
TORCH_VERSIONS = os.environ.get("GRADMODES_TORCH_VERSIONS", "2.1.2 2.13.0").replace(",", " ")
# Test modules about the site: they need the docs toolchain, not another torch.
SITE_TESTS = [
    f"tests/{name}.py"
    for name in (
        *("test_site", "test_translations", "test_faults", "_catalogues", "_fixture_site"),
        *("test_site_i18n", "test_code_comments", "test_languages", "test_glossary", "_glossary"),
    )
]


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
    """Run the unit and site tests (they build both languages once); not the browser tests."""
    install(session, "test", "docs")
    session.run("pytest", "-m", "not browser", *session.posargs)


@nox.session
def browser(session: nox.Session) -> None:
    """Build the site and test it in Chromium (the system's: see README.md); args go to pytest."""
    install(session, "test", "docs", "browser")
    session.run(
        "npm",
        "ci",
        "--prefix",
        "tests/browser",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        external=True,
    )
    session.run("pytest", "-m", "browser", "tests/browser", *session.posargs)


def cpu_torch(version: str) -> list[str]:
    """Requirements for a CPU-only build of torch ``version``, and a numpy it works with.

    On Linux and Windows the CPU builds carry the local version ``+cpu``: PyPI hosts none,
    so pip fails at once where no CPU index is configured, instead of fetching a CUDA build
    of several GB. macOS wheels are CPU-only and carry no tag. torch before 2.3 was built
    against numpy 1.
    """
    local = "" if sys.platform == "darwin" else "+cpu"
    old = tuple(int(part) for part in version.split(".")[:2]) < (2, 3)
    return [f"torch=={version}{local}", "numpy<2" if old else "numpy"]


@nox.session
@nox.parametrize("torch", TORCH_VERSIONS.split())
def torch_versions(session: nox.Session, torch: str) -> None:
    """Check every claim and run the unit tests against other torch releases (CPU builds).

    Only CPU builds are installed (see ``cpu_torch``): a release for which pip finds none
    stops the session at once rather than download a CUDA build of several GB. Choose the
    releases with GRADMODES_TORCH_VERSIONS; the site tests need the docs toolchain and run
    in ``tests`` only.
    """
    try:
        session.install(*cpu_torch(torch))
    except nox.command.CommandFailed:
        session.error(f"pip finds no CPU build of torch {torch}: see README.md, 'CPU build'")
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "test", "export"))
    session.run("python", "-m", "gradmodes", "check")
    ignore = [f"--ignore={module}" for module in SITE_TESTS]
    session.run("pytest", "-m", "not site and not faults", *ignore, *session.posargs)


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
