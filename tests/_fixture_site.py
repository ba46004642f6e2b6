"""A small site built by the project's real build code, to put faults into.

``make_site(where)`` writes ``where/docs``: copies of the project's ``docs/conf.py``,
``docs/build.py``, ``docs/_ext/``, ``docs/_templates/``, ``docs/_static/`` and the interface
catalogue of every language (``locale/<lang>/LC_MESSAGES/sphinx.po``), plus the pages,
Japanese catalogues and claims of ``tests/fixture_site/``. The fixture's
``conf_overrides.py`` is appended to the copied ``conf.py``: it loads the fixture's claims
and limits ``claims_scope`` to them. ``inject`` puts one fault in; ``build`` runs the copied
``build.py`` with the network switched off (``tests/offline/``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from _catalogues import INTERFACE
from _site import DOCS, run_build

FIXTURE = Path(__file__).resolve().parent / "fixture_site"
OFFLINE = Path(__file__).resolve().parent / "offline"
COPIED = ("conf.py", "build.py", "_ext", "_templates", "_static")
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in tracebacks printed by the kernel

# A page showing the recorded evidence (docs/_ext/evidence.py), for a site given records.
EVIDENCE_PAGE = """---
orphan: true
---

# Where the claims were checked

```{evidence-matrix}
```

```{evidence-environments}
```
"""
_RECORD = f"""
import json, sys
sys.path.insert(0, {str(FIXTURE / "_ext")!r})
import fixture_claims
from gradmodes.claims import get_claim
from gradmodes.records import make_record
made = make_record([get_claim("fixture.sum"), get_claim("fixture.order")])
print(json.dumps(made.to_json()))
"""


def fixture_record() -> dict[str, object]:
    """A genuine record (``gradmodes.records``) of the fixture's claims, as JSON data."""
    made = subprocess.run(
        [sys.executable, "-c", _RECORD], capture_output=True, text=True, check=True
    )
    return json.loads(made.stdout)


def make_site(where: Path) -> Path:
    """Write the fixture site into ``where/docs`` and return that folder."""
    docs = where / "docs"
    docs.mkdir(parents=True)
    for name in COPIED:
        source = DOCS / name
        if source.is_dir():
            shutil.copytree(source, docs / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, docs / name)
    for page in FIXTURE.glob("*.md"):
        shutil.copy2(page, docs / page.name)
    shutil.copytree(FIXTURE / "locale", docs / "locale")
    for interface in (DOCS / "locale").glob(f"*/LC_MESSAGES/{INTERFACE}.po"):
        target = docs / interface.relative_to(DOCS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(interface, target)
    shutil.copytree(FIXTURE / "_ext", docs / "_ext", dirs_exist_ok=True)
    overrides = (FIXTURE / "conf_overrides.py").read_text(encoding="utf-8")
    with (docs / "conf.py").open("a", encoding="utf-8") as conf:
        conf.write("\n" + overrides)
    return docs


def inject(path: Path, old: str, new: str) -> None:
    """Put a fault in: replace the one occurrence of ``old`` in ``path`` with ``new``.

    Fails unless ``old`` occurs exactly once, so a fault can never silently miss its target.
    """
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@dataclass(frozen=True)
class Build:
    """One fixture build: exit code, build log (colours removed), the network guard's log."""

    returncode: int
    log: str
    netlog: str


def build(docs: Path, *args: str, first_on_path: Path | None = None) -> Build:
    """Run the fixture's ``build.py`` with ``args``, its Python processes offline.

    ``first_on_path`` goes before the network guard on ``PYTHONPATH``: a ``sitecustomize``
    there replaces the guard's, and must load it (see ``test_faults.py``).
    """
    netlog = docs.parent / f"netlog-{len(list(docs.parent.glob('netlog-*')))}.txt"
    netlog.touch()
    first = [str(first_on_path)] if first_on_path else []
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [*first, str(OFFLINE), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        "GRADMODES_NETLOG": str(netlog),
    }
    result: subprocess.CompletedProcess[str] = run_build(*args, docs=docs, env=env)
    log = ANSI.sub("", result.stdout + result.stderr)
    return Build(result.returncode, log, netlog.read_text("utf-8"))
