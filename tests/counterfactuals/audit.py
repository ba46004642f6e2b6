"""Counterfactual torches for the claims of ``src/gradmodes/claims/audit.py``."""

from __future__ import annotations

import weakref
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from counterfactuals import counterfactual


@counterfactual("audit.running-stats", "a BatchNorm with frozen parameters keeps its statistics")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.batch_norm

    def batch_norm(
        input: torch.Tensor,
        running_mean: torch.Tensor | None,
        running_var: torch.Tensor | None,
        weight: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
        training: bool = False,
        momentum: float = 0.1,
        eps: float = 1e-5,
    ) -> torch.Tensor:
        if weight is not None and not weight.requires_grad and running_mean is not None:
            training = False  # frozen: normalise with the running statistics, keep them
        return real(input, running_mean, running_var, weight, bias, training, momentum, eps)

    patch.setattr(F, "batch_norm", batch_norm)


@counterfactual("audit.stale-grad", "Adam skips frozen parameters whatever their .grad")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.optim.Adam.step

    def step(self: torch.optim.Adam, closure: Any = None) -> Any:
        frozen = [
            (p, p.detach().clone())
            for group in self.param_groups
            for p in group["params"]
            if not p.requires_grad
        ]
        loss = real(self, closure)
        with torch.no_grad():
            for param, value in frozen:
                param.copy_(value)
        return loss

    patch.setattr(torch.optim.Adam, "step", step)


@counterfactual(
    "audit.not-in-optimizer",
    "a layer assigned in place of one of the same type takes over its parameter objects",
)
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.Module.__setattr__

    def setattr_(self: nn.Module, name: str, value: object) -> None:
        old = self.__dict__.get("_modules", {}).get(name)
        if isinstance(value, nn.Module) and type(old) is type(value):
            with torch.no_grad():
                for mine, new in zip(old.parameters(), value.parameters(), strict=True):
                    mine.copy_(new)  # the new values, in the old Parameter objects
            return
        real(self, name, value)

    patch.setattr(nn.Module, "__setattr__", setattr_)


@counterfactual(
    "audit.two-groups", "a group that lists a parameter twice warns, then keeps it once"
)
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.optim.Optimizer.add_param_group

    def add_param_group(self: torch.optim.Optimizer, param_group: dict[str, Any]) -> None:
        real(self, param_group)  # warns about the duplicate ...
        group = self.param_groups[-1]
        group["params"] = list(dict.fromkeys(group["params"]))  # ... and drops it

    patch.setattr(torch.optim.Optimizer, "add_param_group", add_param_group)


@counterfactual("audit.mixed-modes", "a module assigned to a model takes the model's mode")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.Module.__setattr__

    def setattr_(self: nn.Module, name: str, value: object) -> None:
        if isinstance(value, nn.Module) and "training" in self.__dict__:
            value.train(self.training)
        real(self, name, value)

    patch.setattr(nn.Module, "__setattr__", setattr_)


@counterfactual("audit.mixed-modes", "a module in training mode assigned to a model switches it")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.Module.__setattr__

    def setattr_(self: nn.Module, name: str, value: object) -> None:
        real(self, name, value)
        if isinstance(value, nn.Module) and value.training and "training" in self.__dict__:
            real(self, "training", True)  # the model alone, not its other submodules

    patch.setattr(nn.Module, "__setattr__", setattr_)


@counterfactual("audit.mixed-modes", "a submodule's eval() also switches off its sibling Dropouts")
def _(patch: pytest.MonkeyPatch) -> None:
    parents: weakref.WeakKeyDictionary[nn.Module, nn.Module] = weakref.WeakKeyDictionary()
    real_setattr, real_train = nn.Module.__setattr__, nn.Module.train

    def setattr_(self: nn.Module, name: str, value: object) -> None:
        real_setattr(self, name, value)
        if isinstance(value, nn.Module):
            parents[value] = self

    def train(self: nn.Module, mode: bool = True) -> nn.Module:
        real_train(self, mode)
        parent = parents.get(self)
        if not mode and parent is not None:
            for sibling in parent.children():
                if isinstance(sibling, nn.Dropout) and sibling is not self:
                    real_setattr(sibling, "training", False)
        return self

    patch.setattr(nn.Module, "__setattr__", setattr_)
    patch.setattr(nn.Module, "train", train)


@counterfactual("audit.functional-dropout", "F.dropout defaults to training=False")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.dropout

    def dropout(
        input: torch.Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
    ) -> torch.Tensor:
        return real(input, p, training, inplace)

    patch.setattr(F, "dropout", dropout)


@counterfactual("audit.eval-buffers", "F.batch_norm never writes to the statistics it is given")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.batch_norm

    def batch_norm(
        input: torch.Tensor,
        running_mean: torch.Tensor | None,
        running_var: torch.Tensor | None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        mean = None if running_mean is None else running_mean.clone()
        var = None if running_var is None else running_var.clone()
        return real(input, mean, var, *args, **kwargs)

    patch.setattr(F, "batch_norm", batch_norm)


@counterfactual("audit.inference-params", "inference_mode() is no_grad(): no inference tensors")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch, "inference_mode", lambda mode=True: torch.no_grad())


@counterfactual("audit.param-grad-fn", "in-place lerp_ is never recorded")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.lerp_

    def lerp_(self: torch.Tensor, end: torch.Tensor, weight: Any) -> torch.Tensor:
        with torch.no_grad():
            return real(self, end, weight)

    patch.setattr(torch.Tensor, "lerp_", lerp_)


@counterfactual(
    "audit.nothing-to-train", "AdamW's weight decay also shrinks parameters without a .grad"
)
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.optim.AdamW.step

    def step(self: torch.optim.AdamW, closure: Any = None) -> Any:
        loss = real(self, closure)
        with torch.no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    if param.grad is None:
                        param.mul_(1 - group["lr"] * group["weight_decay"])
        return loss

    patch.setattr(torch.optim.AdamW, "step", step)
