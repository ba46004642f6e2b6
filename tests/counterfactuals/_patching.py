"""Replace a method or function through a counterfactual's ``MonkeyPatch``, keeping the original.

>>> import math
>>> import pytest
>>> with pytest.MonkeyPatch.context() as patch:
...     wrap(patch, math, "sqrt", lambda original, x: original(x) + 1)
...     math.sqrt(4.0)
3.0
>>> math.sqrt(4.0)
2.0
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["wrap"]


def wrap(patch: pytest.MonkeyPatch, owner: object, name: str, wrapper: Callable[..., Any]) -> None:
    """Replace ``owner.name`` by a function calling ``wrapper(original, *args, **kwargs)``.

    ``owner`` is a class (the wrapper then gets ``self`` first) or a module.
    """
    original = getattr(owner, name)

    @functools.wraps(original)
    def replaced(*args: Any, **kwargs: Any) -> Any:
        return wrapper(original, *args, **kwargs)

    patch.setattr(owner, name, replaced)
