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
nox.options.sessions = ["lint", "tests"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
# The torch release the site is built with.
TORCH_VERSION = "2.13.0"


def _numpy_1(version: str) -> bool:
    """Whether torch ``version`` was built against numpy 1 (torch before 2.3)."""
    return tuple(int(part) for part in version.split(".")[:2]) < (2, 3)


def torch_requirements(version: str, local: str) -> list[str]:
    """Requirements for torch ``version`` with local tag ``local`` ("" or "+cpu"), and a
    numpy it works with."""
    return [f"torch=={version}{local}", "numpy<2" if _numpy_1(version) else "numpy"]


# The local version of torch's CPU builds on Linux and Windows: PyPI hosts none, so pip fails
# at once where no CPU index is configured, instead of fetching a CUDA build of several GB.
# macOS wheels are CPU-only and carry no tag.
CPU_LOCAL = "" if sys.platform == "darwin" else "+cpu"


def cpu_torch(version: str) -> list[str]:
    """Requirements for a CPU-only build of torch ``version``, and a numpy it works with."""
    return torch_requirements(version, CPU_LOCAL)


# The torch requirement, installed before anything else so that no other requirement pulls
# a (multi-GB) CUDA build: a CPU build (cpu_torch), unless GRADMODES_TORCH names another.
TORCH = os.environ.get("GRADMODES_TORCH") or cpu_torch(TORCH_VERSION)[0]
# pytest-xdist workers for the tests and the browser tests: one per CPU; the groups that
# tests/conftest.py marks (the site's tests, the fault tests) each stay on one worker.
WORKERS = ["-n", "auto", "--dist", "loadgroup"]
# uv, unlike pip, writes no bytecode unless told to: then every Python process compiles what
# it imports (Sphinx, docutils, IPython, ...) anew wherever PYTHONDONTWRITEBYTECODE is set, and
# a test run starts hundreds (Sphinx builds, their kernels). A fixture site's build took 8.6 s
# without, 4.6 s with; compiling the tests' venv takes about 14 s once. Torch and what it
# pulls in (sympy, jinja2, networkx, ...) too: `import torch` took 3.6 s without, 1.7 s with,
# in every kernel and build process; compiling them takes about 9 s once.
COMPILE = ["--compile-bytecode"]
# pip's options that say where to find packages (pip_sources).
PIP_SOURCES = ("index-url", "extra-index-url", "find-links")
# Test modules about the site and its extensions: they need the docs toolchain (Sphinx,
# myst-nb, Chromium), not another torch; the tests session runs them.
SITE_TESTS = [
    *(
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
            "test_evidence_cache",
            "test_evidence_page",
            "test_generated_pages",
            "test_gpu_build",
            "test_code_width",
        )
    ),
    "tests/browser",
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
    installer, compiled to bytecode (``COMPILE``); stop, saying what to do, where they cannot
    be found."""
    sources = [*COMPILE, *pip_sources()] if session.venv_backend == "uv" else []
    try:
        session.install(*requirements, *sources)
    except nox.command.CommandFailed:
        session.error(
            f"pip finds no CPU build {' '.join(requirements)}: point pip at PyTorch's CPU index "
            "(README.md, 'PyTorch: a CPU build'), or choose another requirement with "
            "GRADMODES_TORCH"
        )


def install(session: nox.Session, *groups: str) -> None:
    """Install torch (a CPU build), the package (editable) and the given dependency groups,
    compiled to bytecode (``COMPILE``)."""
    install_torch(session, TORCH)
    compile_ = COMPILE if session.venv_backend == "uv" else []
    session.install(*compile_, "-e", ".", *nox.project.dependency_groups(PYPROJECT, *groups))


@nox.session
def lint(session: nox.Session) -> None:
    """Lint and check formatting with ruff."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


def prepare_browser(session: nox.Session) -> None:
    """Chromium (the system's, else Playwright's own) and axe-core (npm) for the browser tests."""
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


def installs_only(session: nox.Session) -> bool:
    """Whether nox was told to install only (``--install-only``), where ``session.run``
    runs nothing and returns None: a command started otherwise must not run either."""
    return session.run("python", "-c", "", silent=True, log=False) is None


@nox.session
def tests(session: nox.Session) -> None:
    """Run every test: the unit and site tests, and the browser tests at the same time in a
    second pytest (args go to both; without args the second collects tests/browser only).

    Two pytest runs, not one: a claim that runs asyncio fails in a process where Playwright's
    event loop runs. The browser tests wait for the site the site tests build (``shared_site``),
    then share the CPUs with the rest; their output is printed once both runs are done.
    """
    install(session, "test", "docs", "browser")
    prepare_browser(session)
    if installs_only(session):
        return
    log = Path(session.create_tmp()) / "browser-tests.log"
    bin_dir = str(session.bin)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    browser_args = session.posargs or ["tests/browser"]
    command = [str(Path(bin_dir) / "python"), "-m", "pytest", "-m", "browser", *WORKERS]
    # With args, either run may find nothing they select (pytest's exit code 5), not both.
    selected = [0, 5] if session.posargs else [0]
    session.log(f"browser tests, in the background: {' '.join(command + browser_args)}")
    with log.open("w", encoding="utf-8") as out:
        browser_run = subprocess.Popen(
            [*command, *browser_args], stdout=out, stderr=subprocess.STDOUT, env=env
        )
        try:
            session.run(
                "pytest", "-m", "not browser", *WORKERS, *session.posargs, success_codes=selected
            )
        except BaseException:
            browser_run.terminate()
            raise
        finally:
            code = browser_run.wait()
    print(log.read_text(encoding="utf-8"), flush=True)
    if code not in selected:
        session.error(f"the browser tests failed (pytest exit {code}): their output is above")


@nox.session
def browser(session: nox.Session) -> None:
    """The browser tests alone, in Chromium: the system's, else Playwright's own (args go to
    pytest). The site is the one the tests session built, when the sources have not changed."""
    install(session, "test", "docs", "browser")
    prepare_browser(session)
    session.run("pytest", "-m", "browser", *WORKERS, "tests/browser", *session.posargs)


EVIDENCE = ROOT / "docs" / "_data" / "evidence"
OLDEST_TORCH = (2, 1)  # the oldest release the package supports (pyproject: torch>=2.1)
# Free disk space one release needs: its venv (PyPI's Linux build with its CUDA libraries is
# about 4.7 GB installed), the downloads kept in pip's cache, and a margin.
NEEDS_GB = {"cpu": 3, "default": 12}


def release_versions(listed: str) -> list[str]:
    """The newest patch of every minor release from the oldest supported one, in ``listed``
    (the output of ``pip index versions torch``, which the constraints pip is configured
    with do not limit: see :func:`pip_torch_specifier`).
    """
    from packaging.version import InvalidVersion, Version

    line = next((ln for ln in listed.splitlines() if "versions:" in ln), "")
    newest: dict[tuple[int, int], Version] = {}
    for text in line.partition(":")[2].split(","):
        try:
            version = Version(text.strip())
        except InvalidVersion:
            continue
        public = Version(version.public)
        minor = (public.major, public.minor)
        if minor >= OLDEST_TORCH and not public.is_prerelease:
            newest[minor] = max(newest.get(minor, public), public)
    return [str(newest[minor]) for minor in sorted(newest)]


def pip_torch_specifier(session: nox.Session) -> str:
    """The torch requirement of the constraint files pip is configured with ("" if none):
    ``pip index`` lists releases those constraints would refuse."""
    from packaging.requirements import InvalidRequirement, Requirement

    listed = session.run("python", "-m", "pip", "config", "list", silent=True, log=False)
    files = [
        value.strip().strip("'\"")
        for key, _, value in (line.partition("=") for line in (listed or "").splitlines())
        if key.strip().endswith(".constraint")
    ]
    files += os.environ.get("PIP_CONSTRAINT", "").split()
    found = []
    for name in files:
        for item in name.split():
            path = Path(item.removeprefix("file://"))
            if not path.is_file():
                continue
            for text in path.read_text(encoding="utf-8").splitlines():
                try:
                    requirement = Requirement(text.split("#")[0].strip())
                except InvalidRequirement:
                    continue
                if requirement.name == "torch":
                    found.append(str(requirement.specifier))
    return ",".join(spec for spec in found if spec)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def check_disk(session: nox.Session, folder: Path, build: str) -> None:
    """Stop before a release whose venv and downloads would fill the disk."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free / 1e9
    need = NEEDS_GB[build]
    session.log(f"disk: {free:.1f} GB free under {folder}, {need} GB needed for this release")
    if free < need:
        session.error(
            f"only {free:.1f} GB free, {need} GB needed: free some space (pip's download "
            "cache is `python -m pip cache dir`; `python -m pip cache purge` empties it)"
        )


VERSIONS_FLAGS = ("--record", "--default-build", "--resume", "--oldest", "--claims-only")


def parse_versions_args(args: list[str]) -> tuple[set[str], list[str], list[str]]:
    """``[FLAG ...] [VERSION ...] [-- PYTEST ARGS]``: the flags given, the releases, the
    pytest arguments (``VERSIONS_FLAGS`` lists the flags)."""
    flags: set[str] = set()
    versions: list[str] = []
    pytest_args: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            pytest_args = args[index + 1 :]
            break
        if arg in VERSIONS_FLAGS:
            flags.add(arg)
        elif arg[:1].isdigit():
            versions.append(arg)
        else:
            pytest_args = args[index:]
            break
    return flags, versions, pytest_args


@nox.session
def torch_versions(session: nox.Session) -> None:
    """Check every claim and run the unit tests on other torch releases, one venv each.

    nox -s torch_versions -- [FLAG ...] [VERSION ...] [-- ARGS]

    VERSION: the releases (default: GRADMODES_TORCH_VERSIONS, else the newest patch of every
    minor release from 2.1 to the newest pip can install here, from `pip index versions`).
    --record: write each release's record into docs/_data/evidence/. --default-build: where
    no CPU build is found, install PyPI's default build (on Linux a CUDA build, several GB
    per release). --resume: skip releases whose record is newer than every package source.
    --oldest: only the first of the default releases (what CI checks). --claims-only: check
    the claims, not the unit tests. ARGS go to pytest. Each venv is deleted after its run;
    pip's download cache is kept.
    """
    import time

    session.install("packaging", "pip")  # a uv venv has no pip: the session runs it
    flags, versions, pytest_args = parse_versions_args(session.posargs)
    record, default_build = "--record" in flags, "--default-build" in flags
    resume, claims_only = "--resume" in flags, "--claims-only" in flags
    listed = session.run(
        "python", "-m", "pip", "index", "versions", "torch", silent=True, success_codes=[0, 1]
    )
    listed = listed if isinstance(listed, str) else ""
    if not versions:
        versions = os.environ.get("GRADMODES_TORCH_VERSIONS", "").replace(",", " ").split()
    if not versions:
        from packaging.specifiers import SpecifierSet

        allowed = SpecifierSet(pip_torch_specifier(session))
        versions = [v for v in release_versions(listed) if allowed.contains(v)]
        if not versions:
            session.error("pip lists no torch release: name them (nox -s torch_versions -- 2.1.2)")
        if "--oldest" in flags:
            versions = versions[:1]
        session.log(f"releases (newest patch of each minor): {' '.join(versions)}")
    available = set(listed.partition("versions:")[2].replace(" ", "").split(","))
    newest_source = max(path.stat().st_mtime for path in (ROOT / "src").rglob("*.py"))
    folder = ROOT / ".nox" / "torch_versions-venvs"
    done: list[str] = []
    failed: list[str] = []
    for version in versions:
        local = CPU_LOCAL
        build = "cpu"
        if local and f"{version}{local}" not in available:
            if not default_build:
                session.warn(
                    f"torch {version}: pip finds no CPU build ({version}+cpu; see README.md, "
                    "'CPU build'); --default-build installs PyPI's default build instead "
                    "(on Linux a CUDA build: about 2.5 GB to download, 4.7 GB installed)"
                )
                failed.append(version)
                continue
            local, build = "", "default"
        if resume and record and _record_is_newer(version, newest_source):
            session.log(f"torch {version}: its record is newer than the sources: skipped")
            done.append(version)
            continue
        venv = folder / f"torch-{version}"
        shutil.rmtree(venv, ignore_errors=True)
        check_disk(session, folder, build)
        started = time.monotonic()
        try:
            if build == "default":
                session.log(
                    f"torch {version}: PyPI's default build. On Linux it is a CUDA build: "
                    "about 2.5 GB to download (once: pip keeps it in its cache) and 4.7 GB "
                    "installed; pip shows its progress"
                )
            session.run("python", "-m", "venv", str(venv))
            python = str(venv_python(venv))
            pip = [python, "-m", "pip", "install", "--progress-bar", "on"]
            session.run(*pip, *torch_requirements(version, local), external=True)
            # The export group's onnx and onnxruntime need numpy 2, which torch before 2.3
            # cannot use (torch_requirements); the claims that use them need torch 2.13.
            groups = ("test",) if _numpy_1(version) else ("test", "export")
            test_group = nox.project.dependency_groups(PYPROJECT, *groups)
            session.run(*pip, "-e", ".", *test_group, external=True)
            check = [python, "-m", "gradmodes", "check"]
            if record:
                check += ["--record", str(EVIDENCE)]
            # A false claim is reported (and recorded); the tests below say whether it counts.
            began = time.time()
            session.run(*check, external=True, success_codes=[0, 1] if record else [0])
            if record and not _record_is_newer(version, began):  # exit 1: a crash, no record
                session.warn(f"torch {version}: `gradmodes check` wrote no record")
                raise nox.command.CommandFailed("no record")
            if claims_only:
                done.append(version)
                continue
            ignore = [f"--ignore={module}" for module in SITE_TESTS]
            session.run(
                python,
                "-m",
                "pytest",
                "tests",
                "src/gradmodes",
                "-m",
                "not site and not faults and not fixture",
                "-p",
                "no:cacheprovider",
                *ignore,
                *pytest_args,
                external=True,
            )
            done.append(version)
        except nox.command.CommandFailed:
            failed.append(version)
        finally:
            shutil.rmtree(venv, ignore_errors=True)
            session.log(f"torch {version}: {time.monotonic() - started:.0f} s, venv removed")
    session.log(f"passed: {' '.join(done) or '-'}; failed: {' '.join(failed) or '-'}")
    if failed:
        again = " ".join([*sorted(flags - {"--oldest", "--resume"}), *failed])
        session.error(f"to run the failed releases again: nox -s torch_versions -- {again}")


def _record_is_newer(version: str, since: float) -> bool:
    """Whether a record of torch ``version`` in docs/_data/evidence/ was written after ``since``
    (a time: the newest package source's, or when the check started)."""
    return any(path.stat().st_mtime > since for path in EVIDENCE.glob(f"torch-{version}*.json"))


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
