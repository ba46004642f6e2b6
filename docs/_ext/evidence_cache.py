"""Claim evidence kept on disk, so that a second build of the same setup reuses it.

Each language is built by its own Sphinx process, and each process used to run every
claim check again (about 3 s, a third of the Japanese build). The evidence is
stored under a key that hashes everything a check's outcome depends on: the source
of gradmodes and of these extensions, torch (its version and its installed files,
:func:`torch_fingerprint`), what the interpreter runs at startup (sitecustomize,
usercustomize, ``.pth`` files, ``PYTHONPATH``: :func:`startup_files`), Python, the
platform, the CUDA devices torch sees, and whether CUDA claims are required. A build with
the same key reuses the stored evidence; any change to one of these gives a new key, and
every claim is checked again. So a patched torch, whether its files were edited or a
``sitecustomize`` patches it, never reuses the evidence of the real one. Only passing
checks are stored: a false claim is checked, and fails, in every build.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     cache = EvidenceCache(Path(folder), key="k" * 64)
...     cache.store("eval.flag", {"status": "verified", "observations": [["x", "1"]]})
...     cache.load("eval.flag"), cache.load("eval.other")
({'status': 'verified', 'observations': [['x', '1']]}, None)
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import site
import tempfile
from pathlib import Path
from typing import Any


def setup_key(sources: dict[str, Path], facts: dict[str, str]) -> str:
    """A sha256 over the source files (each file's name in ``sources`` and content) and ``facts``.

    >>> here = {"_ext/evidence_cache.py": Path(__file__)}
    >>> a = setup_key(here, {"torch": "2.13.0+cpu"})
    >>> b = setup_key(here, {"torch": "2.14.0+cpu"})
    >>> len(a), a == b
    (64, False)
    """
    digest = hashlib.sha256()
    for name, path in sorted(sources.items()):
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    for name, value in sorted(facts.items()):
        digest.update(f"{name}={value}\0".encode())
    return digest.hexdigest()


def runtime_facts() -> dict[str, str]:
    """Python and the platform: with the sources and torch, what the key covers."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{platform.system()} {platform.machine()}",
    }


@functools.cache
def package_sources() -> dict[str, Path]:
    """The installed gradmodes sources by relative name, found without importing gradmodes.

    Walked once per process: the role that cites a claim asks for them at every citation.

    >>> "claims/_registry.py" in package_sources()
    True
    """
    spec = importlib.util.find_spec("gradmodes")
    if spec is None or spec.origin is None:
        return {}
    package = Path(spec.origin).parent
    return {path.relative_to(package).as_posix(): path for path in sorted(package.rglob("*.py"))}


def tree_fingerprint(root: Path) -> str:
    """A sha256 over the files under ``root``: each one's relative name and size, the content
    of its Python sources, the modification time of the others (``__pycache__`` left out).

    Sources are read in full, so an edit that keeps a file's size and time still shows;
    binaries (hundreds of MB for torch) are only stat-ed.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     source = Path(folder, "nn.py")
    ...     _ = source.write_text("eval = True")
    ...     before = tree_fingerprint(Path(folder))
    ...     _ = source.write_text("eval = Fals")  # the same size
    ...     before == tree_fingerprint(Path(folder))
    False
    """
    digest = hashlib.sha256()
    skip = len(str(root)) + 1  # plain strings: a Path per file costs more than the hashing
    pending = [str(root)]
    while pending:
        with os.scandir(pending.pop()) as found:
            entries = sorted(found, key=lambda entry: entry.name)
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    pending.append(entry.path)
                continue
            stat = entry.stat(follow_symlinks=False)
            digest.update(f"{entry.path[skip:]}\0{stat.st_size}\0".encode())
            if entry.name.endswith(".py"):
                with open(entry.path, "rb") as source:
                    digest.update(source.read())
            else:
                digest.update(b"%d" % stat.st_mtime_ns)
    return digest.hexdigest()


@functools.cache
def torch_fingerprint() -> str:
    """:func:`tree_fingerprint` of the torch package this interpreter imports (not imported).

    About 0.3 s for torch 2.13 (12,000 files, 46 MB of Python sources); once per process.
    """
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return "no torch"
    return tree_fingerprint(Path(next(iter(spec.submodule_search_locations))))


_PTH_IMPORT = re.compile(r"(?:^|;)\s*import\s+([\w.]+)|__import__\(['\"]([\w.]+)['\"]\)")


def startup_files() -> dict[str, Path]:
    """What the interpreter runs before any build code, by name: the ``sitecustomize`` and
    ``usercustomize`` modules it finds, every ``.pth`` file of the site directories, and the
    modules those ``.pth`` files import.

    >>> all(name.startswith(("module/", "pth/")) for name in startup_files())
    True
    """
    found: dict[str, Path] = {}
    modules = ["sitecustomize", "usercustomize"]
    folders = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    for index, folder in enumerate(folders):
        for pth in sorted(Path(folder).glob("*.pth")):
            found[f"pth/{index}/{pth.name}"] = pth
            for line in pth.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith(("import ", "import\t")):
                    modules += [a or b for a, b in _PTH_IMPORT.findall(line)]
    for module in modules:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin and Path(spec.origin).is_file():
            found[f"module/{module}"] = Path(spec.origin)
    return found


@functools.cache
def torch_facts() -> dict[str, str]:
    """What torch is in this process: its version and files, and what ran before it.

    Both keys (the evidence's and the execution cache's) cover these, so that a patched
    torch, whether its files were edited or a ``sitecustomize`` or ``.pth`` file patches it
    at startup, gets a key of its own.
    """
    return {
        "torch": importlib.metadata.version("torch"),
        "torch files": torch_fingerprint(),
        "startup": setup_key(startup_files(), {}),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }


def package_key() -> str:
    """A short key over the installed gradmodes sources and torch (:func:`torch_facts`).

    jupyter-cache keys a notebook on its code alone; an execution cache kept under this key is
    not reused once the package the notebooks import, or torch, has changed.

    >>> len(package_key())
    16
    """
    return setup_key(package_sources(), torch_facts())[:16]


class EvidenceCache:
    """One JSON file per claim id in ``folder/<key>``; writes are atomic (several
    processes of a parallel build may write at once)."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = folder
        self.key = key
        self.path = folder / key[:32]

    def load(self, claim_id: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / f"{claim_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def store(self, claim_id: str, evidence: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(evidence, out, ensure_ascii=False, indent=1)
        os.replace(temporary, self.path / f"{claim_id}.json")

    def forget_other_keys(self) -> None:
        """Remove the evidence stored under every other key (older setups)."""
        if self.folder.is_dir():
            for other in self.folder.iterdir():
                if other.is_dir() and other != self.path:
                    shutil.rmtree(other, ignore_errors=True)
