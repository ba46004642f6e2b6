"""Freeze and unfreeze parameters by exact module-name prefix; keep BatchNorm frozen.

A prefix selects a module and everything inside it: ``"linear"`` matches the
modules ``linear`` and ``linear.x``, never ``linear2`` or ``nonlinear``
(substring tests such as ``'linear' in name`` get this wrong). No prefix at all
selects the whole model.

>>> from torch import nn
>>> model = nn.Sequential()
>>> model.add_module("linear", nn.Linear(2, 2))
>>> model.add_module("linear2", nn.Linear(2, 2))
>>> freeze(model, "linear")
['linear.weight', 'linear.bias']
>>> [name for name, p in model.named_parameters() if p.requires_grad]
['linear2.weight', 'linear2.bias']
>>> unfreeze(model)  # no prefix: the whole model
['linear.weight', 'linear.bias']
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

from gradmodes._checks import require_module

__all__ = [
    "BATCHNORM_TYPES",
    "freeze",
    "freeze_batchnorm",
    "trainable_parameters",
    "unfreeze",
    "unfreeze_batchnorm",
]

BATCHNORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.LazyBatchNorm1d,
    nn.LazyBatchNorm2d,
    nn.LazyBatchNorm3d,
)
"""The module types ``freeze_batchnorm`` acts on."""


def freeze(model: nn.Module, *prefixes: str) -> list[str]:
    """Set ``requires_grad=False`` on the parameters of the modules named by ``prefixes``.

    Returns the names of the parameters whose flag changed (already frozen ones are
    not listed). A prefix that matches no module raises ``ValueError``.

    >>> from gradmodes.models import SimpleModel
    >>> model = SimpleModel()
    >>> freeze(model, "bn")
    ['bn.weight', 'bn.bias']
    >>> freeze(model, "bn")
    []
    >>> freeze(model, "lin")
    Traceback (most recent call last):
    ...
    ValueError: freeze(): prefix 'lin' matches no module; valid module names: dropout, bn, linear
    """
    return _set_requires_grad(model, prefixes, False, "freeze")


def unfreeze(model: nn.Module, *prefixes: str) -> list[str]:
    """Set ``requires_grad=True`` on the parameters of the modules named by ``prefixes``.

    The counterpart of :func:`freeze`, with the same prefix rules and return value.

    >>> from gradmodes.models import SimpleModel
    >>> model = SimpleModel()
    >>> _ = freeze(model)
    >>> unfreeze(model, "linear")
    ['linear.weight', 'linear.bias']
    """
    return _set_requires_grad(model, prefixes, True, "unfreeze")


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters with ``requires_grad=True``, each once, in ``model.parameters()`` order.

    >>> import torch
    >>> from gradmodes.models import SimpleModel
    >>> model = SimpleModel()
    >>> _ = freeze(model, "bn")
    >>> optimizer = torch.optim.SGD(trainable_parameters(model), lr=0.1)
    >>> len(trainable_parameters(model))
    2
    """
    require_module(model, "trainable_parameters")
    return [param for param in model.parameters() if param.requires_grad]


def freeze_batchnorm(model: nn.Module, *prefixes: str) -> list[str]:
    """Freeze the BatchNorm layers under ``prefixes``: parameters and running statistics.

    Each selected BatchNorm gets ``requires_grad=False`` on its parameters and is
    pinned to eval mode: its own ``train()`` is replaced, on that module only, by
    one that always means ``train(False)``, so ``model.train()``, which recurses into
    every submodule, leaves it in eval mode and its running statistics unchanged.
    Returns the names of the BatchNorm modules pinned (an empty list if there are
    none). :func:`unfreeze_batchnorm` undoes it. A lazy BatchNorm can be frozen once a
    first forward has initialized it; before, ``ValueError`` is raised and nothing changes.

    >>> from gradmodes.models import SimpleModel
    >>> model = SimpleModel()
    >>> freeze_batchnorm(model)
    ['bn']
    >>> model.train().bn.training, model.bn.weight.requires_grad
    (False, False)
    >>> unfreeze_batchnorm(model)
    ['bn']
    >>> model.train().bn.training, model.bn.weight.requires_grad
    (True, True)
    """
    require_module(model, "freeze_batchnorm")
    pinned = _batchnorms(model, prefixes, "freeze_batchnorm")
    for name, module in pinned:  # check them all before changing any
        if isinstance(module, LazyModuleMixin) and module.has_uninitialized_params():
            raise ValueError(
                f"freeze_batchnorm(): {name or 'the model'} ({type(module).__name__}) has no "
                "parameters yet; run one forward to initialize it, then freeze it"
            )
    for _, module in pinned:
        module.requires_grad_(False)
        module.train = functools.partial(_stay_in_eval, module)  # type: ignore[method-assign]
        module.train(False)
    return [name for name, _ in pinned]


def unfreeze_batchnorm(model: nn.Module, *prefixes: str) -> list[str]:
    """Undo :func:`freeze_batchnorm` for the BatchNorm layers under ``prefixes``.

    Each pinned BatchNorm gets its own ``train()`` back, ``requires_grad=True`` on its
    parameters, and the ``training`` flag of ``model`` itself. Returns the names of
    the modules unpinned (BatchNorm layers that were not pinned are left alone).

    >>> from torch import nn
    >>> model = nn.Sequential(nn.BatchNorm1d(2), nn.BatchNorm1d(2))
    >>> freeze_batchnorm(model, "1")
    ['1']
    >>> unfreeze_batchnorm(model)
    ['1']
    """
    require_module(model, "unfreeze_batchnorm")
    unpinned = [
        (name, module)
        for name, module in _batchnorms(model, prefixes, "unfreeze_batchnorm")
        if _is_pinned(module)
    ]
    for _, module in unpinned:
        del module.train
        module.requires_grad_(True)
        module.train(model.training)
    return [name for name, _ in unpinned]


def _stay_in_eval(module: nn.Module, mode: bool = True) -> nn.Module:
    """``train()`` of a pinned BatchNorm: whatever ``mode`` asks, eval mode."""
    return type(module).train(module, False)


def _is_pinned(module: nn.Module) -> bool:
    train = vars(module).get("train")
    return isinstance(train, functools.partial) and train.func is _stay_in_eval


def _matches(module_name: str, prefixes: Sequence[str]) -> bool:
    """Whether ``module_name`` is a prefix or lies inside one (no prefixes: everything)."""
    return not prefixes or any(
        module_name == prefix or module_name.startswith(prefix + ".") for prefix in prefixes
    )


def _check_prefixes(model: nn.Module, prefixes: Sequence[str], function: str) -> None:
    names = [name for name, _ in model.named_modules() if name]
    for prefix in prefixes:
        if not isinstance(prefix, str):
            raise TypeError(f"{function}(): prefixes are module names (str), got {prefix!r}")
        if not any(_matches(name, (prefix,)) for name in names):
            valid = ", ".join(names[:30]) + (
                f" and {len(names) - 30} more" if len(names) > 30 else ""
            )
            raise ValueError(
                f"{function}(): prefix {prefix!r} matches no module; valid module names: "
                + (valid or "none (the model has no submodules)")
            )


def _set_requires_grad(
    model: nn.Module, prefixes: Sequence[str], flag: bool, function: str
) -> list[str]:
    require_module(model, function)
    _check_prefixes(model, prefixes, function)
    changed = []
    for name, param in model.named_parameters(remove_duplicate=False):
        if _matches(name.rpartition(".")[0], prefixes) and param.requires_grad != flag:
            param.requires_grad_(flag)
            changed.append(name)
    return changed


def _batchnorms(
    model: nn.Module, prefixes: Sequence[str], function: str
) -> list[tuple[str, nn.Module]]:
    _check_prefixes(model, prefixes, function)
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, BATCHNORM_TYPES) and _matches(name, prefixes)
    ]
