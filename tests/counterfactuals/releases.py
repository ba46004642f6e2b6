"""Counterfactuals of ``claims/releases.py``: torches that changed at another release, or
changed differently (one more optimizer, the other error text, the other default)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch

from counterfactuals import counterfactual
from gradmodes.claims import releases


def _add_optimizer(patch: pytest.MonkeyPatch) -> None:
    class Lion(torch.optim.Optimizer):
        pass

    patch.setattr(torch.optim, "Lion", Lion, raising=False)


for _claim_id in ("rel.optimizers-2-1", "rel.optimizers-adafactor", "rel.optimizers-muon"):
    counterfactual(_claim_id, "torch.optim exports one optimizer class more (Lion)")(_add_optimizer)


@counterfactual("rel.optimizers-adafactor", "Adafactor is not there (it came later)")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.delattr(torch.optim, "Adafactor")


@counterfactual("rel.optimizers-muon", "Muon is not there (it came later)")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.delattr(torch.optim, "Muon")


def _mul_raising(message: str) -> Callable[..., Any]:
    original = torch.Tensor.__mul__

    def mul(self: torch.Tensor, other: Any) -> Any:
        try:
            return original(self, other)
        except RuntimeError:
            raise RuntimeError(message) from None

    return mul


@counterfactual("rel.inference-error-short", "the release already has the longer message")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch.Tensor, "__mul__", _mul_raising(releases.INFERENCE_ERROR_HINT))


@counterfactual("rel.inference-error-hint", "the release still has the short message")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch.Tensor, "__mul__", _mul_raising(releases.INFERENCE_ERROR_SHORT))


def _load_defaulting_to(weights_only: bool) -> Callable[..., Any]:
    original = torch.load

    @functools.wraps(original)
    def load(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("weights_only", weights_only)
        return original(*args, **kwargs)

    return load


@counterfactual("rel.load-full", "torch.load defaults to weights_only=True already")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch, "load", _load_defaulting_to(True))


@counterfactual("rel.load-weights-only", "torch.load still defaults to weights_only=False")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch, "load", _load_defaulting_to(False))


@counterfactual("rel.cpu-autocast-silent", "torch.cpu.amp.autocast is deprecated already")
def _(patch: pytest.MonkeyPatch) -> None:
    original = torch.cpu.amp.autocast

    def autocast(*args: Any, **kwargs: Any) -> Any:
        warnings.warn("`torch.cpu.amp.autocast(args...)` is deprecated.", FutureWarning, 2)
        return original(*args, **kwargs)

    patch.setattr(torch.cpu.amp, "autocast", autocast)


@counterfactual("rel.cpu-autocast-deprecated", "torch.cpu.amp.autocast is not deprecated")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch.cpu.amp, "autocast", lambda *a, **k: torch.amp.autocast("cpu", *a, **k))


@counterfactual("rel.class-decoration", "decorating a class returns it unchanged, silently")
def _(patch: pytest.MonkeyPatch) -> None:
    original = torch.no_grad.__call__

    def call(self: Any, function: Any) -> Any:
        return function if isinstance(function, type) else original(self, function)

    patch.setattr(torch.no_grad, "__call__", call)


@counterfactual("rel.zero-grad-none", "zero_grad() fills gradients with zeros by default")
def _(patch: pytest.MonkeyPatch) -> None:
    original = torch.optim.Optimizer.zero_grad

    def zero_grad(self: torch.optim.Optimizer, set_to_none: bool = False) -> None:
        original(self, set_to_none=set_to_none)

    patch.setattr(torch.optim.Optimizer, "zero_grad", zero_grad)


def _class_warning_as(patch: pytest.MonkeyPatch, category: type[Warning]) -> None:
    original = torch.no_grad.__call__

    def call(self: Any, function: Any) -> Any:
        if not isinstance(function, type):
            return original(self, function)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            decorated = original(self, function)
        warnings.warn(releases.CLASS_WARNING, category, 2)
        return decorated

    patch.setattr(torch.no_grad, "__call__", call)


@counterfactual("rel.class-decoration-userwarning", "the warning is a FutureWarning already")
def _(patch: pytest.MonkeyPatch) -> None:
    _class_warning_as(patch, FutureWarning)


@counterfactual("rel.class-decoration-futurewarning", "the warning is still a UserWarning")
def _(patch: pytest.MonkeyPatch) -> None:
    _class_warning_as(patch, UserWarning)


@counterfactual("rel.sge-decorator", "set_grad_enabled as a decorator keeps the mode it set")
def _(patch: pytest.MonkeyPatch) -> None:
    plain = torch.utils._contextlib._DecoratorContextManager.__call__
    patch.setattr(torch.set_grad_enabled, "__call__", plain)


@counterfactual("rel.sge-decorator-leaks", "set_grad_enabled as a decorator restores the mode")
def _(patch: pytest.MonkeyPatch) -> None:
    plain = torch.utils._contextlib._DecoratorContextManager.__call__

    def call(self: Any, function: Any) -> Any:
        torch._C._set_grad_enabled(self.prev)
        return plain(self, function)

    patch.setattr(torch.set_grad_enabled, "__call__", call)
