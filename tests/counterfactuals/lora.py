"""Counterfactuals of ``gradmodes.claims.lora``: torches under which the adapter facts fail."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import torch
from torch import nn

from counterfactuals import counterfactual

REAL_CHECKPOINT = torch.utils.checkpoint.checkpoint


def _requires_grad_ignored(patch: pytest.MonkeyPatch) -> None:
    """``Module.requires_grad_`` that changes nothing."""
    patch.setattr(nn.Module, "requires_grad_", lambda self, requires_grad=True: self)


@counterfactual("lora.frozen", "Module.requires_grad_(False) freezes nothing")
def _(patch: pytest.MonkeyPatch) -> None:
    _requires_grad_ignored(patch)


@counterfactual("lora.grads", "Module.requires_grad_(False) freezes nothing")
def _(patch: pytest.MonkeyPatch) -> None:
    _requires_grad_ignored(patch)


@counterfactual("lora.adam", "Adam keeps amsgrad's max_exp_avg_sq by default")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(
        torch.optim.Adam,
        "__init__",
        functools.partialmethod(torch.optim.Adam.__init__, amsgrad=True),
    )


@counterfactual("lora.activations", "ReLU saves its input (a clamp) instead of its output")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(nn.functional, "relu", lambda input, inplace=False: input.clamp(min=0))


@counterfactual("lora.checkpoint", "the reentrant variant handles inputs without grad")
def _(patch: pytest.MonkeyPatch) -> None:
    def checkpoint(function: Any, *args: Any, **kwargs: Any) -> Any:
        return REAL_CHECKPOINT(function, *args, **{**kwargs, "use_reentrant": False})

    patch.setattr(torch.utils.checkpoint, "checkpoint", checkpoint)
