"""Counterfactual torches for the claims of ``gradmodes/claims/performance.py``.

Each patch changes what a forward saves for backward the way a torch release plausibly
could: a ``Linear`` that saves a copy of its weight or both of its operands, a ``ReLU``
whose backward needs its input, an autocast that casts nothing, modules that record under
``no_grad``, a BatchNorm that uses batch statistics in eval mode.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from counterfactuals import counterfactual
from counterfactuals._patching import wrap
from counterfactuals.eval_mode import batch_norm_wrapper, batch_statistics_in_eval

Patch = pytest.MonkeyPatch


@counterfactual("perf.eval-same-bytes", "BatchNorm normalises with batch statistics in eval")
def _bn_batch_statistics_in_eval(patch: Patch) -> None:
    wrap(patch, F, "batch_norm", batch_norm_wrapper(batch_statistics_in_eval))


@counterfactual("perf.nothing-saved", "modules record their forward even under no_grad")
def _modules_record(patch: Patch) -> None:
    def call(original: Any, self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        with torch.enable_grad():
            return original(self, *args, **kwargs)

    wrap(patch, nn.Module, "__call__", call)


class _SavesBoth(torch.autograd.Function):
    """``x @ w.t() + b`` whose backward keeps both operands, whatever needs a gradient."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        out = x @ weight.t()
        return out + bias if bias is not None else out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        flat = grad.reshape(-1, grad.shape[-1])
        grad_bias = flat.sum(0) if ctx.has_bias else None
        return grad @ weight, flat.t() @ x.reshape(-1, x.shape[-1]), grad_bias


@counterfactual("perf.head-only", "a Linear saves its input and its weight, whatever needs grad")
def _linear_saves_both(patch: Patch) -> None:
    patch.setattr(
        F, "linear", lambda input, weight, bias=None: _SavesBoth.apply(input, weight, bias)
    )


@counterfactual("perf.new-memory", "ReLU is clamp(min=0), whose backward keeps its input")
def _relu_keeps_its_input(patch: Patch) -> None:
    patch.setattr(F, "relu", lambda input, inplace=False: input.clamp(min=0))


@counterfactual("perf.linear-saves", "a Linear saves a contiguous copy of its weight")
def _linear_copies_its_weight(patch: Patch) -> None:
    def linear(original: Any, input: torch.Tensor, weight: torch.Tensor, bias: Any = None) -> Any:
        return original(input, weight.clone(), bias)

    wrap(patch, F, "linear", linear)


@counterfactual("perf.linear-saves", "ReLU is clamp(min=0), whose backward keeps its input")
def _relu_saves_its_input(patch: Patch) -> None:
    patch.setattr(F, "relu", lambda input, inplace=False: input.clamp(min=0))


class _NoCast(contextlib.nullcontext):  # type: ignore[type-arg]
    """An autocast that takes autocast's arguments and casts nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()


@counterfactual("perf.autocast", "autocast casts nothing")
def _autocast_does_nothing(patch: Patch) -> None:
    patch.setattr(torch, "autocast", _NoCast)


@counterfactual("perf.autocast", "autocast entered under no_grad or inference_mode casts nothing")
def _autocast_off_without_grad(patch: Patch) -> None:
    real = torch.autocast

    def autocast(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **kwargs) if torch.is_grad_enabled() else _NoCast()

    patch.setattr(torch, "autocast", autocast)


class _EnablesGrad:
    """An autocast that turns grad mode on when entered inside inference mode."""

    def __init__(self, real: Any, *args: Any, **kwargs: Any) -> None:
        self.inner = real(*args, **kwargs)

    def __enter__(self) -> Any:
        self.before = torch.is_grad_enabled()
        entered = self.inner.__enter__()
        if torch.is_inference_mode_enabled():
            torch._C._set_grad_enabled(True)
        return entered

    def __exit__(self, *exc: Any) -> Any:
        torch._C._set_grad_enabled(self.before)
        return self.inner.__exit__(*exc)


@counterfactual("perf.autocast", "autocast inside inference_mode turns grad mode on")
def _(patch: Patch) -> None:
    real = torch.autocast
    patch.setattr(torch, "autocast", lambda *args, **kwargs: _EnablesGrad(real, *args, **kwargs))


@counterfactual("perf.cuda-saved", "a CUDA Linear saves a copy of its weight")
def _cuda_linear_copies_its_weight(patch: Patch) -> None:
    def linear(original: Any, input: torch.Tensor, weight: torch.Tensor, bias: Any = None) -> Any:
        return original(input, weight.clone() if weight.is_cuda else weight, bias)

    wrap(patch, F, "linear", linear)
