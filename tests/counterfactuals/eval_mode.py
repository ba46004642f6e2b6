"""Counterfactual torches for the claims of ``gradmodes/claims/eval_mode.py``.

Each patch makes one stated fact false the way a torch release plausibly could: a Dropout
that keeps dropping in eval mode, a BatchNorm that updates or uses batch statistics in eval
mode, an ``eval()`` that does not recurse or that also turns gradients off, ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import batchnorm
from torch.utils.data import sampler

from counterfactuals import counterfactual
from counterfactuals._patching import wrap

Patch = pytest.MonkeyPatch


# --- train() / eval() and the training flag ------------------------------------------------


@counterfactual("eval.flag", "train(mode) sets the flag on the module itself only")
def _train_does_not_recurse(patch: Patch) -> None:
    def train(self: nn.Module, mode: bool = True) -> nn.Module:
        self.training = mode
        return self

    patch.setattr(nn.Module, "train", train)


@counterfactual("eval.per-module", "assigning a submodule gives it its parent's mode")
def _assigned_module_inherits_the_mode(patch: Patch) -> None:
    def setattr_(original: Any, self: nn.Module, name: str, value: object) -> None:
        original(self, name, value)
        if isinstance(value, nn.Module) and name in self._modules:
            value.train(self.training)

    wrap(patch, nn.Module, "__setattr__", setattr_)


@counterfactual("eval.per-module", "a new module starts in evaluation mode")
def _modules_start_in_eval_mode(patch: Patch) -> None:
    def init(original: Any, self: nn.Module, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.training = False

    wrap(patch, nn.Module, "__init__", init)


class _SwitchingEval:
    """``model.eval`` as an attribute that switches the mode when it is looked up."""

    def __get__(self, module: nn.Module | None, owner: type | None = None) -> Any:
        if module is None:
            return self
        module.train(False)
        return lambda: module


@counterfactual("eval.no-parentheses", "looking up model.eval already switches the mode")
def _eval_switches_on_lookup(patch: Patch) -> None:
    patch.setattr(nn.Module, "eval", _SwitchingEval())


@counterfactual("eval.keeps-autograd", "eval() also freezes every parameter")
def _eval_freezes(patch: Patch) -> None:
    def eval_(original: Any, self: nn.Module) -> nn.Module:
        original(self)
        return self.requires_grad_(False)

    wrap(patch, nn.Module, "eval", eval_)


@counterfactual("eval.orthogonal", "eval() also turns gradient recording off")
def _eval_turns_grad_off(patch: Patch) -> None:
    # The check restores the grad mode it found (it runs inside enable_grad()).
    def eval_(original: Any, self: nn.Module) -> nn.Module:
        torch.set_grad_enabled(False)
        return original(self)

    wrap(patch, nn.Module, "eval", eval_)


# --- Dropout ---------------------------------------------------------------------------------


def _always_training(
    original: Any,
    input: torch.Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
) -> torch.Tensor:
    return original(input, p, True, inplace)


@counterfactual("eval.dropout", "Dropout keeps dropping in eval mode")
def _dropout_keeps_dropping(patch: Patch) -> None:
    wrap(patch, F, "dropout", _always_training)


@counterfactual("eval.dropout-memory", "Dropout keeps dropping in eval mode")
def _dropout_keeps_dropping_and_saving(patch: Patch) -> None:
    wrap(patch, F, "dropout", _always_training)


@counterfactual("eval.dropout", "Dropout zeroes elements without scaling the others")
def _dropout_does_not_scale(patch: Patch) -> None:
    def dropout(
        original: Any,
        input: torch.Tensor,
        p: float = 0.5,
        training: bool = True,
        inplace: bool = False,
    ) -> torch.Tensor:
        kept = original(input, p, training, inplace)
        return kept * (1 - p) if training else kept

    wrap(patch, F, "dropout", dropout)


@counterfactual("eval.dropout-saved", "Dropout in eval mode returns a copy of its input")
def _dropout_copies_in_eval(patch: Patch) -> None:
    def dropout(
        original: Any,
        input: torch.Tensor,
        p: float = 0.5,
        training: bool = True,
        inplace: bool = False,
    ) -> torch.Tensor:
        return original(input, p, training, inplace) if training else input.clone()

    wrap(patch, F, "dropout", dropout)


@counterfactual("eval.dropout-saved", "Dropout saves its mask even when its input needs no grad")
def _dropout_always_records(patch: Patch) -> None:
    def dropout(
        original: Any,
        input: torch.Tensor,
        p: float = 0.5,
        training: bool = True,
        inplace: bool = False,
    ) -> torch.Tensor:
        if not training or input.requires_grad:
            return original(input, p, training, inplace)
        with torch.enable_grad():
            anchor = torch.zeros((), device=input.device, requires_grad=True)
            return original(input + anchor, p, training, inplace)

    wrap(patch, F, "dropout", dropout)


@counterfactual("eval.dropout-saved", "Dropout(p=0) multiplies by a mask of ones in train mode")
def _dropout_zero_p_masks(patch: Patch) -> None:
    def dropout(
        original: Any,
        input: torch.Tensor,
        p: float = 0.5,
        training: bool = True,
        inplace: bool = False,
    ) -> torch.Tensor:
        if training and p == 0:
            return input * torch.ones_like(input)  # no shortcut for p = 0: a mask is saved
        return original(input, p, training, inplace)

    wrap(patch, F, "dropout", dropout)


@counterfactual("eval.dropout-random", "Dropout draws the same mask on every call")
def _dropout_reuses_its_mask(patch: Patch) -> None:
    def dropout(original: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return original(*args, **kwargs)

    wrap(patch, F, "dropout", dropout)


@counterfactual("eval.custom", "F.dropout's training argument defaults to False")
def _functional_dropout_defaults_to_eval(patch: Patch) -> None:
    original = F.dropout

    def dropout(
        input: torch.Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
    ) -> torch.Tensor:
        return original(input, p, training, inplace)

    patch.setattr(F, "dropout", dropout)


# --- BatchNorm -------------------------------------------------------------------------------


def batch_norm_wrapper(wrapper: Any) -> Any:
    """A replacement for ``F.batch_norm`` with its signature spelled out for ``wrapper``."""

    def replacement(
        original: Any,
        input: torch.Tensor,
        running_mean: torch.Tensor | None,
        running_var: torch.Tensor | None,
        weight: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
        training: bool = False,
        momentum: float = 0.1,
        eps: float = 1e-5,
    ) -> torch.Tensor:
        return wrapper(
            original, input, running_mean, running_var, weight, bias, training, momentum, eps
        )

    return replacement


def _updates_in_eval(
    original: Any,
    input: Any,
    mean: Any,
    var: Any,
    w: Any,
    b: Any,
    training: bool,
    momentum: float,
    eps: float,
) -> Any:
    if not training and mean is not None:
        with torch.no_grad():
            original(input.detach(), mean, var, None, None, True, momentum or 0.1, eps)
    return original(input, mean, var, w, b, training, momentum, eps)


def batch_statistics_in_eval(
    original: Any,
    input: Any,
    mean: Any,
    var: Any,
    w: Any,
    b: Any,
    training: bool,
    momentum: float,
    eps: float,
) -> Any:
    """A BatchNorm that normalises with the batch's statistics in eval mode too."""
    if not training:
        return original(input, None, None, w, b, True, momentum, eps)
    return original(input, mean, var, w, b, training, momentum, eps)


def _keras_momentum(
    original: Any,
    input: Any,
    mean: Any,
    var: Any,
    w: Any,
    b: Any,
    training: bool,
    momentum: float,
    eps: float,
) -> Any:
    return original(input, mean, var, w, b, training, 1 - momentum, eps)


@counterfactual("eval.bn-no-update", "BatchNorm updates its running statistics in eval mode")
def _bn_updates_in_eval(patch: Patch) -> None:
    wrap(patch, F, "batch_norm", batch_norm_wrapper(_updates_in_eval))


@counterfactual("eval.submodule", "BatchNorm updates its running statistics in eval mode")
def _bn_updates_in_eval_too(patch: Patch) -> None:
    wrap(patch, F, "batch_norm", batch_norm_wrapper(_updates_in_eval))


@counterfactual("eval.forget-train", "BatchNorm updates its running statistics in eval mode")
def _bn_updates_after_validation(patch: Patch) -> None:
    wrap(patch, F, "batch_norm", batch_norm_wrapper(_updates_in_eval))


@counterfactual("eval.bn-uses-running", "BatchNorm normalises with batch statistics in eval")
def _bn_batch_statistics_in_eval(patch: Patch) -> None:
    wrap(patch, F, "batch_norm", batch_norm_wrapper(batch_statistics_in_eval))


@counterfactual("eval.bn-saved", "BatchNorm normalises with batch statistics in eval")
def _bn_saves_batch_statistics_in_eval(patch: Patch) -> None:
    wrap(patch, F, "batch_norm", batch_norm_wrapper(batch_statistics_in_eval))


@counterfactual("eval.bn-momentum", "momentum weighs the old statistics (Keras' convention)")
def _bn_keras_momentum(patch: Patch) -> None:
    wrap(patch, F, "batch_norm", batch_norm_wrapper(_keras_momentum))


@counterfactual("eval.bn-cumulative", "momentum=None falls back to the default 0.1")
def _bn_ignores_momentum_none(patch: Patch) -> None:
    def init(
        original: Any,
        self: nn.Module,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        original(self, num_features, eps, 0.1 if momentum is None else momentum, *args, **kwargs)

    wrap(patch, batchnorm._BatchNorm, "__init__", init)


@counterfactual("eval.bn-defaults", "BatchNorm's default momentum is 0.01")
def _bn_default_momentum(patch: Patch) -> None:
    original = batchnorm._BatchNorm.__init__

    def init(
        self: nn.Module,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.01,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        original(self, num_features, eps, momentum, affine, track_running_stats, device, dtype)

    patch.setattr(batchnorm._BatchNorm, "__init__", init)


@counterfactual("eval.bn-defaults", "a new BatchNorm starts with running_var zeros")
def _bn_starts_with_zero_variance(patch: Patch) -> None:
    def reset(original: Any, self: Any) -> None:
        original(self)
        if self.track_running_stats:
            self.running_var.zero_()

    wrap(patch, batchnorm._NormBase, "reset_running_stats", reset)


@counterfactual("eval.bn-no-track", "track_running_stats=False still keeps running statistics")
def _bn_keeps_statistics_anyway(patch: Patch) -> None:
    def init(
        original: Any,
        self: nn.Module,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        original(self, num_features, eps, momentum, affine, True, *args, **kwargs)
        self.track_running_stats = track_running_stats

    wrap(patch, batchnorm._NormBase, "__init__", init)


@counterfactual("eval.bn-buffers", "the running statistics are parameters without grad")
def _bn_statistics_as_parameters(patch: Patch) -> None:
    def init(original: Any, self: nn.Module, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        for name in ("running_mean", "running_var"):
            buffer = self._buffers.pop(name)
            if buffer is not None:
                self.register_parameter(name, nn.Parameter(buffer, requires_grad=False))

    wrap(patch, batchnorm._NormBase, "__init__", init)


@counterfactual("eval.bn-batch1", "BatchNorm accepts one value per channel in train mode")
def _bn_accepts_one_value(patch: Patch) -> None:
    patch.setattr(F, "_verify_batch_size", lambda size: None)


@counterfactual("eval.bn2d-one-image", "BatchNorm counts samples, not values per channel")
def _bn_counts_samples(patch: Patch) -> None:
    def verify(size: Any) -> None:
        if size[0] == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got {size}")

    patch.setattr(F, "_verify_batch_size", verify)


# --- DataLoader ------------------------------------------------------------------------------


@counterfactual("eval.drop-last", "the batch sampler ignores drop_last")
def _drop_last_ignored(patch: Patch) -> None:
    def iterate(original: Any, self: sampler.BatchSampler) -> Iterator[list[int]]:
        keep, self.drop_last = self.drop_last, False
        try:
            yield from original(self)
        finally:
            self.drop_last = keep

    wrap(patch, sampler.BatchSampler, "__iter__", iterate)
