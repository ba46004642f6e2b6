"""Run a script where ``gradmodes`` cannot be imported: ``python -I without_gradmodes.py SCRIPT``.

An import hook, first on ``sys.meta_path``, refuses ``gradmodes`` and its submodules with
the error an interpreter without the package raises (``ModuleNotFoundError: No module named
'gradmodes'``), even where the package is installed or on ``sys.path``. ``python -I`` keeps
``PYTHONPATH``, the user's site-packages and the script's folder off ``sys.path``. The
recipes tagged ``torch-only`` run this way (``test_recipes.py``, which also proves the hook).

>>> Refuse().find_spec("torch") is None
True
>>> Refuse().find_spec("gradmodes.claims")
Traceback (most recent call last):
...
ModuleNotFoundError: No module named 'gradmodes.claims'
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import runpy
import sys
from collections.abc import Sequence

BLOCKED = "gradmodes"


class Refuse(importlib.abc.MetaPathFinder):
    """Finds nothing for ``BLOCKED`` and its submodules: importing them fails."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == BLOCKED or fullname.startswith(BLOCKED + "."):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -I without_gradmodes.py SCRIPT")
    for name in [n for n in sys.modules if n == BLOCKED or n.startswith(BLOCKED + ".")]:
        del sys.modules[name]  # imported at startup (a .pth file): forgotten
    sys.meta_path.insert(0, Refuse())
    sys.argv = list(argv)
    runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
