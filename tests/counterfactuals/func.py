"""Counterfactual torches for ``gradmodes.claims.func``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import torch

from counterfactuals import counterfactual


@counterfactual("fn.grad-no-grad", "torch.func.grad is torch.autograd.grad: no_grad stops it")
def _(patch: pytest.MonkeyPatch) -> None:
    def grad(f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        def gradient(x: torch.Tensor) -> torch.Tensor:
            x = x.detach().requires_grad_()
            (g,) = torch.autograd.grad(f(x), x)
            return g

        return gradient

    patch.setattr(torch.func, "grad", grad)


@counterfactual("fn.inner-no-grad", "torch.no_grad() records, like torch.enable_grad()")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch, "no_grad", torch.enable_grad)


@counterfactual("fn.frozen", "functional_call uses the module's own (frozen) parameters")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(
        torch.func, "functional_call", lambda module, params, args, *a, **k: module(*args)
    )


@counterfactual("fn.functional-call-mode", "functional_call always runs in train mode")
def _(patch: pytest.MonkeyPatch) -> None:
    call = torch.func.functional_call

    def in_train_mode(module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        return call(module.train(), *args, **kwargs)

    patch.setattr(torch.func, "functional_call", in_train_mode)


@counterfactual("fn.vmap-dropout", "vmap's default randomness is 'different'")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch.func, "vmap", functools.partial(torch.func.vmap, randomness="different"))


@counterfactual("fn.vmap-batchnorm", "BatchNorm in train mode does not update running statistics")
def _(patch: pytest.MonkeyPatch) -> None:
    batch_norm = torch.nn.functional.batch_norm

    def untracked(
        x: torch.Tensor, running_mean: Any, running_var: Any, *args: Any, **kwargs: Any
    ) -> Any:
        training = kwargs.get("training", args[2] if len(args) > 2 else False)
        if training:
            running_mean = running_var = None
        return batch_norm(x, running_mean, running_var, *args, **kwargs)

    patch.setattr(torch.nn.functional, "batch_norm", untracked)
