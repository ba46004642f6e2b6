"""Counterfactual torches for the claims of ``gradmodes/claims/inference_mode.py``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.utils._contextlib as contextlib_
from torch import nn

from counterfactuals import counterfactual
from counterfactuals._undo import on_undo

Patch = pytest.MonkeyPatch


def _wrap_method(patch: Patch, owner: type, name: str, wrapper: Callable[..., Any]) -> None:
    """Replace ``owner.name`` by ``wrapper(original, *args, **kwargs)``."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def method(*args: Any, **kwargs: Any) -> Any:
        return wrapper(original, *args, **kwargs)

    patch.setattr(owner, name, method)


@counterfactual("im.faster", "inference_mode() is no_grad(): no inference tensors")
@counterfactual("im.inference-tensor", "inference_mode() is no_grad(): no inference tensors")
@counterfactual("im.no-autograd-later", "inference_mode() is no_grad(): no inference tensors")
@counterfactual("im.inplace-outside", "inference_mode() is no_grad(): no inference tensors")
@counterfactual("im.requires-grad", "inference_mode() is no_grad(): no inference tensors")
@counterfactual("im.teacher", "inference_mode() is no_grad(): no inference tensors")
@counterfactual("im.cached-features", "inference_mode() is no_grad(): no inference tensors")
@counterfactual("im.decorator", "inference_mode() is no_grad(): no inference tensors")
def _inference_mode_is_no_grad(patch: Patch) -> None:
    # What a backend without inference tensors might do: fall back to no_grad.
    patch.setattr(
        torch, "inference_mode", lambda mode=True: torch.no_grad() if mode else torch.enable_grad()
    )


@counterfactual("im.outputs", "inference_mode() ignores its mode and records, like mode=False")
def _inference_mode_records(patch: Patch) -> None:
    def enter(self: Any) -> None:
        self._inference_mode_context = torch._C._InferenceMode(False)
        self._inference_mode_context.__enter__()

    patch.setattr(torch.inference_mode, "__enter__", enter)


@counterfactual("im.inference-tensor", "a view of a normal tensor in inference mode is a copy")
@counterfactual("im.normal-bookkeeping", "a view of a normal tensor in inference mode is a copy")
def _views_copied(patch: Patch) -> None:
    # No view tracking for anything inside the mode: indexing gives a new (inference) tensor.
    def getitem(original: Callable[..., Any], self: torch.Tensor, index: Any) -> Any:
        out = original(self, index)
        return out.clone() if torch.is_inference_mode_enabled() else out

    _wrap_method(patch, torch.Tensor, "__getitem__", getitem)


@counterfactual("im.normal-bookkeeping", "in-place ops in inference mode skip every version bump")
def _no_version_bump(patch: Patch) -> None:
    def add_(original: Callable[..., Any], self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if not torch.is_inference_mode_enabled() or torch.is_inference(self):
            return original(self, *args, **kwargs)
        version = self._version
        out = original(self, *args, **kwargs)
        torch._C._autograd._unsafe_set_version_counter((self,), (version,))
        return out

    _wrap_method(patch, torch.Tensor, "add_", add_)


@counterfactual("im.inference-tensor", "factories make normal tensors in inference mode")
def _factories_normal(patch: Patch) -> None:
    zeros = torch.zeros

    def patched(*args: Any, **kwargs: Any) -> torch.Tensor:
        with torch.inference_mode(False):
            out = zeros(*args, **kwargs)
        return out

    patch.setattr(torch, "zeros", patched)


@counterfactual("im.no-autograd-later", "autograd saves a normal copy of an inference tensor")
def _mul_copies_inference(patch: Patch) -> None:
    def mul(original: Callable[..., Any], self: torch.Tensor, other: Any) -> Any:
        if torch.is_inference(self) and not torch.is_inference_mode_enabled():
            self = self.clone()
        return original(self, other)

    _wrap_method(patch, torch.Tensor, "__mul__", mul)


@counterfactual("im.inplace-outside", "`total /= n` makes a new tensor, like `total / n`")
def _itruediv_out_of_place(patch: Patch) -> None:
    patch.setattr(torch.Tensor, "__itruediv__", lambda self, other: self / other)


@counterfactual("im.no-eval", "Dropout is the identity in inference mode")
def _dropout_off_in_inference_mode(patch: Patch) -> None:
    dropout = torch.nn.functional.dropout

    def patched(input: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return input if torch.is_inference_mode_enabled() else dropout(input, *args, **kwargs)

    patch.setattr(torch.nn.functional, "dropout", patched)


@counterfactual("im.no-eval", "BatchNorm keeps its statistics in inference mode")
def _batch_norm_frozen_in_inference_mode(patch: Patch) -> None:
    def forward(original: Callable[..., Any], self: nn.Module, input: torch.Tensor) -> Any:
        if not torch.is_inference_mode_enabled():
            return original(self, input)
        training = self.training
        self.training = False
        try:
            return original(self, input)
        finally:
            self.training = training

    _wrap_method(patch, nn.modules.batchnorm._BatchNorm, "forward", forward)


@counterfactual("im.no-eval", "Dropout2d is the identity in inference mode")
def _dropout_2d_off_in_inference_mode(patch: Patch) -> None:
    # nn.Dropout (SimpleModel's) unchanged: only a check over every dropout class sees it.
    dropout2d = torch.nn.functional.dropout2d

    def patched(input: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return input if torch.is_inference_mode_enabled() else dropout2d(input, *args, **kwargs)

    patch.setattr(torch.nn.functional, "dropout2d", patched)


@counterfactual("im.bare-call", "a bare inference_mode() switches the mode on until undone")
def _bare_call_switches(patch: Patch) -> None:
    guards: list[Any] = []
    on_undo(patch, lambda: [guard.__exit__(None, None, None) for guard in reversed(guards)])
    init = torch.inference_mode.__init__

    def patched(self: Any, mode: bool = True) -> None:
        init(self, mode)
        guard = torch._C._InferenceMode(mode)
        guard.__enter__()
        guards.append(guard)

    patch.setattr(torch.inference_mode, "__init__", patched)


@counterfactual("im.requires-grad", "requires_grad_() on an inference tensor is allowed")
def _requires_grad_on_inference(patch: Patch) -> None:
    def requires_grad_(original: Callable[..., Any], self: torch.Tensor, *args: Any) -> Any:
        if not torch.is_inference(self):
            return original(self, *args)
        with torch.inference_mode():
            return original(self, *args)

    _wrap_method(patch, torch.Tensor, "requires_grad_", requires_grad_)


@counterfactual("im.mode-false", "inference_mode(False) changes nothing")
def _mode_false_inert(patch: Patch) -> None:
    enter, exit_ = torch.inference_mode.__enter__, torch.inference_mode.__exit__

    def patched_enter(self: Any) -> None:
        self.inert = not self.mode
        if not self.inert:
            enter(self)

    def patched_exit(self: Any, *exc: Any) -> None:
        if not self.inert:
            exit_(self, *exc)

    patch.setattr(torch.inference_mode, "__enter__", patched_enter)
    patch.setattr(torch.inference_mode, "__exit__", patched_exit)


@counterfactual("im.mode-false", "enable_grad() inside inference_mode records the graph")
def _enable_grad_leaves_inference(patch: Patch) -> None:
    def enter(self: Any) -> None:
        self.guard = torch._C._InferenceMode(False)
        self.guard.__enter__()
        self.prev = torch.is_grad_enabled()
        torch._C._set_grad_enabled(True)

    def exit_(self: Any, *exc: Any) -> None:
        torch._C._set_grad_enabled(self.prev)
        self.guard.__exit__(None, None, None)

    patch.setattr(torch.enable_grad, "__enter__", enter)
    patch.setattr(torch.enable_grad, "__exit__", exit_)


@counterfactual("im.decorator", "the decorator form returns the function unchanged")
def _decorator_ignored(patch: Patch) -> None:
    patch.setattr(contextlib_, "context_decorator", lambda ctx, func: func)


@counterfactual("im.teacher", "mse_loss saves the difference, not its target")
def _mse_saves_difference(patch: Patch) -> None:
    def mse_loss(input: torch.Tensor, target: torch.Tensor, *args: Any, **kw: Any) -> Any:
        return (input - target).square().mean()

    patch.setattr(torch.nn.functional, "mse_loss", mse_loss)


@counterfactual("im.cached-features", "a Linear saves a normal copy of its input")
def _linear_saves_copy(patch: Patch) -> None:
    linear = torch.nn.functional.linear

    def patched(input: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return linear(input.clone(), *args, **kwargs)

    patch.setattr(torch.nn.functional, "linear", patched)
