"""Counterfactual torches for the claims of ``gradmodes/claims/cross.py``."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import torch
from torch import nn

from counterfactuals import counterfactual


def _dropout_in_eval_too(patch: pytest.MonkeyPatch) -> None:
    """``F.dropout`` (which ``nn.Dropout`` calls) drops whatever ``training`` says."""
    real = torch.nn.functional.dropout

    def dropping(
        input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
    ) -> torch.Tensor:
        return real(input, p, True, inplace)

    patch.setattr(torch.nn.functional, "dropout", dropping)


def _batch_norm_updates_in_eval(patch: pytest.MonkeyPatch) -> None:
    """``F.batch_norm`` (which BatchNorm calls) normalises and updates as in train mode."""
    real = torch.nn.functional.batch_norm

    def updating(
        input: torch.Tensor,
        running_mean: torch.Tensor | None,
        running_var: torch.Tensor | None,
        weight: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
        training: bool = False,
        momentum: float = 0.1,
        eps: float = 1e-5,
    ) -> torch.Tensor:
        return real(input, running_mean, running_var, weight, bias, True, momentum, eps)

    patch.setattr(torch.nn.functional, "batch_norm", updating)


# --- x.standard --------------------------------------------------------------------------


@counterfactual("x.standard", "inference_mode() is no_grad(): its outputs are normal tensors")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch, "inference_mode", lambda mode=True: torch.no_grad())


@counterfactual("x.standard", "Dropout keeps dropping in eval mode")
def _(patch: pytest.MonkeyPatch) -> None:
    _dropout_in_eval_too(patch)


# --- x.freeze-finetune, x.freeze-bn, x.matrix ---------------------------------------------


@counterfactual("x.freeze-finetune", "BatchNorm updates its running statistics in eval mode")
def _(patch: pytest.MonkeyPatch) -> None:
    _batch_norm_updates_in_eval(patch)


@counterfactual("x.freeze-bn", "BatchNorm updates its running statistics in eval mode")
def _(patch: pytest.MonkeyPatch) -> None:
    _batch_norm_updates_in_eval(patch)


@counterfactual("x.freeze-bn", "BatchNorm2d updates its running statistics in eval mode")
def _(patch: pytest.MonkeyPatch) -> None:
    # BatchNorm1d (SimpleModel's) unchanged: only a check over every BatchNorm class sees it.
    real = nn.BatchNorm2d.forward

    def updating(self: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
        training, self.training = self.training, True
        try:
            return real(self, x)
        finally:
            self.training = training

    patch.setattr(nn.BatchNorm2d, "forward", updating)


@counterfactual("x.matrix", "Dropout keeps dropping in eval mode")
def _(patch: pytest.MonkeyPatch) -> None:
    _dropout_in_eval_too(patch)


# --- x.detach -------------------------------------------------------------------------


@counterfactual("x.detach", "detach() returns a copy with storage of its own")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.detach
    patch.setattr(torch.Tensor, "detach", lambda self: real(self).clone())


# --- x.freeze-prefix, x.evaluating, x.seed-train-mode, x.eval-no-call -----------------------


@counterfactual("x.freeze-prefix", "requires_grad_(False) leaves the flag as it was")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.requires_grad_

    def ignore_false(self: torch.Tensor, requires_grad: bool = True) -> torch.Tensor:
        return self if not requires_grad else real(self, requires_grad)

    patch.setattr(torch.Tensor, "requires_grad_", ignore_false)


@counterfactual("x.evaluating", "eval() sets only the module's own flag, not its submodules'")
def _(patch: pytest.MonkeyPatch) -> None:
    def shallow_eval(self: nn.Module) -> nn.Module:
        self.training = False
        return self

    patch.setattr(nn.Module, "eval", shallow_eval)


@counterfactual("x.seed-train-mode", "a newly built module starts in eval mode")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.Module.__init__

    def start_in_eval(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        self.training = False

    patch.setattr(nn.Module, "__init__", start_in_eval)


@counterfactual("x.seed-train-mode", "BatchNorm in train mode does not count its batches")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.BatchNorm1d.forward

    def uncounted(self: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
        count = None if self.num_batches_tracked is None else self.num_batches_tracked.clone()
        out = real(self, x)
        if count is not None:
            self.num_batches_tracked.copy_(count)
        return out

    patch.setattr(nn.BatchNorm1d, "forward", uncounted)


# --- x.optimizer-given-only, x.sgd-by-hand, x.mse-saves-target -------------


@counterfactual("x.linear-saves-input", "Linear saves a copy of its input, not the input")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.nn.functional.linear

    def copying(input: torch.Tensor, weight: torch.Tensor, bias: Any = None) -> torch.Tensor:
        return real(input.clone(), weight, bias)

    patch.setattr(torch.nn.functional, "linear", copying)


# --- x.ema-graph, x.shared-mode, x.input-gradient -----------------------------------------


@counterfactual("x.ema-graph", "an in-place lerp_ into a tensor that needs no grad is not recorded")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.lerp_

    def unrecorded(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if self.requires_grad:
            return real(self, *args, **kwargs)
        with torch.no_grad():
            return real(self, *args, **kwargs)

    patch.setattr(torch.Tensor, "lerp_", unrecorded)


@counterfactual(
    "x.ema-graph", "an in-place lerp_ into a frozen leaf raises, as into a trainable one"
)
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.lerp_

    def refuse(self: torch.Tensor, end: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if torch.is_grad_enabled() and self.is_leaf and end.requires_grad:
            raise RuntimeError("a leaf Variable is being used in an in-place operation.")
        return real(self, end, *args, **kwargs)

    patch.setattr(torch.Tensor, "lerp_", refuse)


@counterfactual("x.shared-mode", "each thread has its own training flag per module")
def _(patch: pytest.MonkeyPatch) -> None:
    local = threading.local()

    def get(self: nn.Module) -> bool:
        flags: dict[int, bool] = getattr(local, "flags", {})
        return flags.get(id(self), self.__dict__.get("_loaded_training", True))

    def set_(self: nn.Module, value: bool) -> None:
        if threading.current_thread() is threading.main_thread():
            self.__dict__["_loaded_training"] = value  # what other threads start from
        if not hasattr(local, "flags"):
            local.flags = {}
        local.flags[id(self)] = value

    patch.setattr(nn.Module, "training", property(get, set_), raising=False)


@counterfactual("x.input-gradient", "enable_grad() also leaves inference mode")
def _(patch: pytest.MonkeyPatch) -> None:
    real_enable_grad = torch.enable_grad

    class EnableGrad(real_enable_grad):  # type: ignore[misc, valid-type]
        def __enter__(self) -> None:
            self._leave = torch.inference_mode(False)
            self._leave.__enter__()
            super().__enter__()

        def __exit__(self, *exc: object) -> None:
            super().__exit__(*exc)
            self._leave.__exit__(*exc)

    patch.setattr(torch, "enable_grad", EnableGrad)


@counterfactual("x.input-gradient", "inference_mode(False) inside inference_mode changes nothing")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.inference_mode

    def stays_on(mode: bool = True) -> Any:
        return real(True) if not mode and torch.is_inference_mode_enabled() else real(mode)

    patch.setattr(torch, "inference_mode", stays_on)
