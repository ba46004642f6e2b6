"""A LoRA-style adapter: a frozen ``nn.Linear`` plus a trainable low-rank update.

``LoRALinear(base, rank)`` computes ``base(x) + scale * (x @ A.T) @ B.T`` with ``A`` of
shape ``(rank, in_features)`` and ``B`` of shape ``(out_features, rank)``. ``B`` starts
at zero, so a fresh adapter computes exactly what ``base`` computes; only ``A`` and ``B``
train. :func:`add_lora` freezes a whole model and puts adapters on the ``Linear``
layers you name.

>>> import torch
>>> from gradmodes.models import mlp
>>> model = add_lora(mlp(64), "0", "2", rank=4)
>>> [name for name, p in model.named_parameters() if p.requires_grad]
['0.lora_a', '0.lora_b', '2.lora_a', '2.lora_b']
>>> sum(p.numel() for p in model.parameters() if p.requires_grad)
1024
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gradmodes._checks import require_module

__all__ = ["LoRALinear", "add_lora"]


class LoRALinear(nn.Module):
    """``base(x) + (alpha / rank) * x @ lora_a.T @ lora_b.T``, with ``base`` frozen.

    ``lora_a`` is initialised like a ``Linear`` weight (Kaiming-uniform), ``lora_b``
    with zeros. Creating the adapter sets ``requires_grad=False`` on ``base``'s
    parameters; it does not touch ``base``'s train/eval mode.

    >>> import torch
    >>> base = torch.nn.Linear(8, 3)
    >>> layer = LoRALinear(base, rank=2)
    >>> x = torch.randn(5, 8)
    >>> torch.equal(layer(x), base(x))  # lora_b starts at zero
    True
    >>> base.weight.requires_grad, layer.lora_a.shape, layer.lora_b.shape
    (False, torch.Size([2, 8]), torch.Size([3, 2]))
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float | None = None) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear() adapts an nn.Linear, got {type(base).__name__}")
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"rank must be a positive int, got {rank!r}")
        if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, (int, float))):
            raise TypeError(f"alpha must be a number or None, got {type(alpha).__name__}")
        self.base = base.requires_grad_(False)
        self.rank = rank
        self.scale = (rank if alpha is None else alpha) / rank
        weight = base.weight
        self.lora_a = nn.Parameter(
            torch.empty(rank, base.in_features, dtype=weight.dtype, device=weight.device)
        )
        self.lora_b = nn.Parameter(
            torch.zeros(base.out_features, rank, dtype=weight.dtype, device=weight.device)
        )
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale

    def extra_repr(self) -> str:
        return f"rank={self.rank}, scale={self.scale:g}"


def add_lora(model: nn.Module, *names: str, rank: int = 4, alpha: float | None = None) -> nn.Module:
    """Freeze every parameter of ``model``, then replace each named ``Linear`` by a
    :class:`LoRALinear` around it (in place); return ``model``.

    ``names`` are exact submodule names (``"0"``, ``"encoder.proj"``), as
    ``model.named_modules()`` gives them. Buffers and train/eval modes are left alone:
    each adapter takes the mode of the layer it wraps.

    >>> from gradmodes.models import mlp
    >>> add_lora(mlp(4), "1")
    Traceback (most recent call last):
    ...
    TypeError: add_lora() adapts nn.Linear layers; '1' is a ReLU
    """
    require_module(model, "add_lora")
    if not names:
        raise ValueError("add_lora() needs the names of the Linear layers to adapt")
    if len(set(names)) != len(names):
        raise ValueError(f"add_lora() got a layer name twice: {names!r}")
    modules = dict(model.named_modules())
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"add_lora() takes submodule names (str), got {name!r}")
        if name not in modules or name == "":
            valid = ", ".join(n for n, m in modules.items() if isinstance(m, nn.Linear))
            raise ValueError(f"no submodule named {name!r}; Linear layers: {valid or 'none'}")
        if not isinstance(modules[name], nn.Linear):
            raise TypeError(
                f"add_lora() adapts nn.Linear layers; {name!r} is a {type(modules[name]).__name__}"
            )
    model.requires_grad_(False)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        adapter = LoRALinear(modules[name], rank, alpha)  # type: ignore[arg-type]
        setattr(parent, child, adapter.train(modules[name].training))
    return model
