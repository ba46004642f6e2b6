"""Run a clean-up when a counterfactual's ``MonkeyPatch`` is undone.

Some counterfactual torches change thread state that no ``setattr`` undoes (an inference
mode guard left entered, a grad mode left off). :func:`on_undo` registers the clean-up on
the patch itself: ``MonkeyPatch`` undoes its changes last-in first-out, so call it before
the patch's other changes and it runs after all of them are undone.

>>> import pytest
>>> done = []
>>> with pytest.MonkeyPatch.context() as patch:
...     on_undo(patch, lambda: done.append("cleaned"))
...     done.append("patched")
>>> done
['patched', 'cleaned']
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

__all__ = ["on_undo"]


class _Trigger:
    """An object whose only attribute, when deleted, runs ``action``."""

    def __init__(self, action: Callable[[], object]) -> None:
        object.__setattr__(self, "_action", action)

    def __delattr__(self, name: str) -> None:
        self._action()


def on_undo(patch: pytest.MonkeyPatch, action: Callable[[], object]) -> None:
    """Run ``action()`` when ``patch`` undoes this change (after the later ones)."""
    # An attribute that did not exist: undoing it deletes it, which runs the action.
    patch.setattr(_Trigger(action), "armed", True, raising=False)
