"""Sessions to build, translate and test the site: ``nox -l`` lists them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
# uv creates the environments and installs into them where it is installed (nox[uv]), many
# times faster than venv and pip; without it, venv and pip.
nox.options.default_venv_backend = "uv|venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests", "browser"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
# The torch release the site is built with.
TORCH_VERSION = "2.13.0"


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


# The torch requirement, installed before anything else so that no other requirement pulls
# a (multi-GB) CUDA build: a CPU build (cpu_torch), unless GRADMODES_TORCH names another.
TORCH = os.environ.get("GRADMODES_TORCH") or cpu_torch(TORCH_VERSION)[0]
# pytest-xdist workers for the tests and the browser tests: one per CPU; the groups that
# tests/conftest.py marks (the site's tests, the fault tests) each stay on one worker.
WORKERS = ["-n", "auto", "--dist", "loadgroup"]
# pip's options that say where to find packages (pip_sources).
PIP_SOURCES = ("index-url", "extra-index-url", "find-links")
# The torch releases `nox -s torch_versions` checks: the oldest the package supports and the
# one the site is built with, unless GRADMODES_TORCH_VERSIONS lists others ("2.1.2 2.4.1").
TORCH_VERSIONS = os.environ.get("GRADMODES_TORCH_VERSIONS", "2.1.2 2.13.0").replace(",", " ")
# Test modules about the site: they need the docs toolchain, not another torch.
SITE_TESTS = [
    f"tests/{name}.py"
    for name in (
        "test_site",
        "test_translations",
        "test_faults",
        "test_speedups",
        "_catalogues",
        "_fixture_site",
        "test_site_i18n",
        "test_code_comments",
        "test_languages",
        "test_glossary",
        "_glossary",
    )
]


def pip_sources() -> list[str]:
    """Where pip is told to find packages, as options for ``uv pip install``: the
    ``PIP_INDEX_URL``, ``PIP_EXTRA_INDEX_URL`` and ``PIP_FIND_LINKS`` variables and what
    ``pip config list`` shows (pip's configuration files).

    uv reads neither pip's configuration nor its variables, and torch's CPU build is found
    only where they point: a CPU index or a local folder.
    """
    found: dict[str, list[str]] = {name: [] for name in PIP_SOURCES}
    for name in PIP_SOURCES:
        found[name] += os.environ.get("PIP_" + name.upper().replace("-", "_"), "").split()
    try:
        listed = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):  # no pip where nox runs: variables only
        listed = ""
    for line in listed.splitlines():  # e.g. global.find-links='/srv/wheels'
        key, _, value = line.partition("=")
        if (name := key.rpartition(".")[2]) in found:
            found[name] += value.strip("'\"").split()
    return [
        option
        for name, values in found.items()
        for value in dict.fromkeys(values)
        for option in (f"--{name}", value)
    ]


def install_torch(session: nox.Session, *requirements: str) -> None:
    """Install torch's ``requirements`` from where pip would look, with the session's
    installer; stop, saying what to do, where they cannot be found."""
    sources = pip_sources() if session.venv_backend == "uv" else []
    try:
        session.install(*requirements, *sources)
    except nox.command.CommandFailed:
        session.error(
            f"pip finds no CPU build {' '.join(requirements)}: point pip at PyTorch's CPU index "
            "(README.md, 'PyTorch: a CPU build'), or choose another requirement with "
            "GRADMODES_TORCH"
        )


def install(session: nox.Session, *groups: str) -> None:
    """Install torch (a CPU build), the package (editable) and the given dependency groups."""
    install_torch(session, TORCH)
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
    session.run("pytest", "-m", "not browser", *WORKERS, *session.posargs)


@nox.session
def browser(session: nox.Session) -> None:
    """Test the built site in Chromium: the system's, else Playwright's own (args go to pytest).

    The site is the one the tests session built, when the sources have not changed since.
    """
    install(session, "test", "docs", "browser")
    session.run("python", "tests/browser/chromium.py")
    if shutil.which("npm") is None:
        session.error(
            "npm installs axe-core for the accessibility checks: install Node.js with npm "
            "(Debian/Ubuntu: sudo apt-get install npm)"
        )
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
    session.run("pytest", "-m", "browser", *WORKERS, "tests/browser", *session.posargs)


@nox.session
@nox.parametrize("torch", TORCH_VERSIONS.split())
def torch_versions(session: nox.Session, torch: str) -> None:
    """Check every claim and run the unit tests against other torch releases (CPU builds).

    Only CPU builds are installed (see ``cpu_torch``): a release for which pip finds none
    stops the session at once rather than download a CUDA build of several GB. Choose the
    releases with GRADMODES_TORCH_VERSIONS; the site tests need the docs toolchain and run
    in ``tests`` only.
    """
    install_torch(session, *cpu_torch(torch))
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
