"""A fresh virtual environment holding only the distributions asked for and what they require.

``fresh_env(where, ["torch", "ipykernel"])`` makes a venv (no pip, no system site-packages)
whose site-packages links the installed files of those distributions and of everything they
require, found from their metadata, and the package's source (``src/gradmodes``): nothing is
downloaded, and nothing else (Sphinx, myst-nb, numpy, ...) can be imported there. Run its
Python with ``-I``, so that ``PYTHONPATH`` and the user's site-packages stay out as well.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import sysconfig
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "gradmodes"


def closure(names: list[str]) -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions ``names`` and all they require here, by canonical name.

    >>> sorted(closure(["packaging"]))
    ['packaging']
    """
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        found[name] = dist = importlib.metadata.distribution(name)
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def top_level(dist: importlib.metadata.Distribution) -> set[Path]:
    """The files and folders a distribution installed at the top of its site-packages."""
    root = Path(str(dist.locate_file("")))
    tops = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first in ("..", "__pycache__") or first.endswith(".pth"):
            continue  # scripts, caches; .pth files (an editable install's) are not linked
        tops.add(root / first)
    return {path for path in tops if path.exists()}


def fresh_env(where: Path, names: list[str]) -> Path:
    """Make the venv ``where`` with ``names``, their requirements and the package; its Python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    scripts = "Scripts" if sys.platform == "win32" else "bin"
    python = where / scripts / Path(sys.executable).name
    purelib = sysconfig.get_path("purelib", vars={"base": str(where), "platbase": str(where)})
    site = Path(purelib)
    for name, dist in closure([*names, PACKAGE]).items():
        links = top_level(dist)
        if name == PACKAGE:  # installed editable: its source instead of a .pth
            links = {path for path in links if path.name.endswith(".dist-info")}
            links.add(SRC / PACKAGE)
        for path in links:
            (site / path.name).symlink_to(path, target_is_directory=path.is_dir())
    return python
