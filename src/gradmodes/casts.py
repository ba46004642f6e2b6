"""Watch the low-precision copies that ``torch.autocast`` makes of given tensors.

Inside an autocast region, an op such as ``nn.Linear`` casts its float32 weight to the
region's dtype before it runs. :func:`watch_casts` counts those copies (every dtype
conversion of the watched tensors, or of views of them, to ``dtype``) and keeps a weak
reference to each, so you can see how many exist and how many are still alive, that is,
held by something: autocast's weight cache, or the graph saved for backward.

>>> import torch
>>> layer = torch.nn.Linear(8, 8)
>>> with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
...     with watch_casts(layer.parameters()) as casts:
...         y = layer(torch.randn(2, 8))
...         y = layer(torch.randn(2, 8))
...     casts.made, casts.alive(), casts.alive_bytes()  # weight and bias, cast once, cached
(2, 2, 144)
>>> casts.alive()  # the region is over: its cache is cleared
0
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["Casts", "watch_casts"]

_CONVERSIONS = ("aten::_to_copy", "aten::to")


@dataclass
class Casts:
    """The copies of the watched tensors made inside a :func:`watch_casts` block."""

    made: int = 0
    """How many copies were made (each conversion counts once)."""
    _copies: list[weakref.ref[torch.Tensor]] = field(default_factory=list, repr=False)

    def alive(self) -> int:
        """How many of the copies still exist."""
        return sum(ref() is not None for ref in self._copies)

    def alive_bytes(self) -> int:
        """Bytes of the copies that still exist (``numel() * element_size()`` each)."""
        return sum(t.numel() * t.element_size() for ref in self._copies if (t := ref()) is not None)


class _Watch(TorchDispatchMode):
    def __init__(self, storages: set[int], dtype: torch.dtype, casts: Casts) -> None:
        super().__init__()
        self.storages, self.dtype, self.casts = storages, dtype, casts

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        source = args[0] if args else None
        if (
            func._schema.name in _CONVERSIONS
            and isinstance(source, torch.Tensor)
            and isinstance(out, torch.Tensor)
            and out.dtype == self.dtype
            and source.dtype != self.dtype
            and source.untyped_storage().data_ptr() in self.storages
        ):
            self.casts.made += 1
            self.casts._copies.append(weakref.ref(out))
        return out


@contextmanager
def watch_casts(
    tensors: Iterable[torch.Tensor], dtype: torch.dtype = torch.bfloat16
) -> Iterator[Casts]:
    """Count the copies of ``tensors`` converted to ``dtype`` inside the block.

    The returned :class:`Casts` keeps only weak references: :meth:`Casts.alive` says how
    many copies something else still holds, during the block or after it.
    """
    watched = list(tensors)
    for tensor in watched:
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"watch_casts() takes tensors, got {type(tensor).__name__}")
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"watch_casts(dtype=...) takes a torch.dtype, got {dtype!r}")
    casts = Casts()
    storages = {t.untyped_storage().data_ptr() for t in watched}
    with _Watch(storages, dtype, casts):
        yield casts
