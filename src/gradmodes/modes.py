"""The three gradient modes by name, and an evaluation block that restores every flag.

>>> import torch
>>> [name for name in GRAD_MODES]
['grad', 'no_grad', 'inference_mode']
>>> with grad_context("inference_mode"):
...     torch.is_inference_mode_enabled()
True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Literal, TypeVar

import torch
from torch import nn

from gradmodes._checks import require_choice, require_module

__all__ = ["GRAD_MODES", "GradMode", "evaluating", "grad_context"]

GradMode = Literal["grad", "no_grad", "inference_mode"]
"""A grad mode's name: gradients enabled (``"grad"``), ``"no_grad"`` or ``"inference_mode"``."""
GRAD_MODES: tuple[GradMode, ...] = ("grad", "no_grad", "inference_mode")
"""Every grad mode's name, in the order :func:`~gradmodes.behaviour_matrix` measures them."""

M = TypeVar("M", bound=nn.Module)


def grad_context(name: GradMode) -> AbstractContextManager[object]:
    """The context manager named by ``name``: ``enable_grad``, ``no_grad`` or ``inference_mode``.

    >>> with grad_context("no_grad"):
    ...     torch.is_grad_enabled()
    False
    >>> grad_context("eval")
    Traceback (most recent call last):
    ...
    ValueError: unknown grad_mode 'eval'; valid values: grad, no_grad, inference_mode
    """
    require_choice(name, GRAD_MODES, "grad_mode")
    if name == "grad":
        return torch.enable_grad()
    if name == "no_grad":
        return torch.no_grad()
    return torch.inference_mode()


@contextmanager
def evaluating(
    model: M, grad_mode: Literal["inference_mode", "no_grad"] = "inference_mode"
) -> Iterator[M]:
    """Run a block with ``model.eval()`` and gradients off; then restore every module's flag.

    On exit, also on an exception, each submodule gets back the ``training`` flag it
    had before, so a submodule deliberately kept in eval mode stays there (a plain
    ``model.train()`` would switch it to train mode). Use ``grad_mode="no_grad"``
    when the outputs must later be saved for backward, which inference tensors
    cannot be.

    >>> from gradmodes.models import SimpleModel
    >>> model = SimpleModel()
    >>> _ = model.bn.eval()  # one submodule kept in eval mode on purpose
    >>> with evaluating(model) as m:
    ...     y = m(torch.randn(4, 10))
    ...     print(m is model, model.dropout.training, torch.is_inference_mode_enabled())
    True False True
    >>> model.training, model.dropout.training, model.bn.training  # each as before
    (True, True, False)
    """
    require_module(model, "evaluating")
    require_choice(grad_mode, ("inference_mode", "no_grad"), "grad_mode")
    before = [(module, module.training) for module in model.modules()]
    try:
        model.eval()
        with grad_context(grad_mode):
            yield model
    finally:
        for module, training in before:
            module.training = training
