"""Claim evidence kept on disk, so that a second build of the same setup reuses it.

Each language is built by its own Sphinx process, and each process used to run every
claim check again (about 3 s, a third of the Japanese build). The evidence is
stored under a key that hashes everything a check's outcome depends on: the source
of gradmodes and of these extensions, torch's version, Python, the platform, the CUDA
devices torch sees, and whether CUDA claims are required. A build with the same key
reuses the stored evidence; any change to one of these gives a new key, and every
claim is checked again. Only passing checks are stored: a false claim is checked,
and fails, in every build.

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
import shutil
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


def package_key() -> str:
    """A short key over the installed gradmodes sources and torch's version (no import of either).

    jupyter-cache keys a notebook on its code alone; an execution cache kept under this key is
    not reused once the package the notebooks import, or torch, has changed.

    >>> len(package_key())
    16
    """
    return setup_key(package_sources(), {"torch": importlib.metadata.version("torch")})[:16]


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
