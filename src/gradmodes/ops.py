"""See which ATen operators a block of code runs: the code path, observed rather than assumed.

>>> import torch
>>> with recorded_ops() as ops:
...     y = torch.ones(2).exp().sum()
>>> ops
['ones', 'exp', 'sum']
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["recorded_ops"]


class _Recorder(TorchDispatchMode):
    """Appends the name of every ATen operator dispatched to it, then runs the operator."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch wraps a mode's __torch_dispatch__ in torch._dynamo.disable unless this says
        # False; that wrapper imports torch._dynamo on the first call (seconds), and this
        # mode never runs under torch.compile.
        return False

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        self.names.append(func.overloadpacket.__name__)
        # Inside inference_mode an operator with a composite kernel (such as
        # scaled_dot_product_attention) reaches this mode before it is decomposed:
        # decompose it here, with the mode on, so that the kernels it picks are seen too.
        if torch._C._dispatch_has_kernel_for_dispatch_key(func.name(), "CompositeImplicitAutograd"):
            with self:
                result = func.decompose(*args, **kwargs)
            if result is not NotImplemented:
                return result
        return func(*args, **kwargs)


@contextmanager
def recorded_ops() -> Iterator[list[str]]:
    """Record the names of the ATen operators that the block dispatches, in order.

    Names are the operators' short names (``"_native_multi_head_attention"`` for
    ``torch.ops.aten._native_multi_head_attention.default``). Only operators that reach
    the dispatcher are seen: a fused kernel appears as one name, whatever it does
    inside. A composite operator appears with the operators it decomposes into. The
    recorder is a ``TorchDispatchMode``: it is not a ``__torch_function__`` override, so
    the fast paths of ``nn.MultiheadAttention`` and ``nn.TransformerEncoderLayer`` (which
    a ``__torch_function__`` override turns off) still run under it.

    >>> from torch import nn
    >>> mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    >>> x = torch.randn(2, 5, 8)
    >>> with recorded_ops() as ops, torch.no_grad():
    ...     out, _ = mha(x, x, x)
    >>> "_native_multi_head_attention" in ops
    True
    >>> with recorded_ops(1):
    ...     pass
    Traceback (most recent call last):
    ...
    TypeError: recorded_ops() takes 0 positional arguments but 1 was given
    """
    names: list[str] = []
    with _Recorder(names):
        yield names
