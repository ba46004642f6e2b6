"""Counterfactual torches for the claims of ``gradmodes/claims/hooks.py``."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
import torch
from torch import nn

from counterfactuals import counterfactual


@counterfactual("hook.register-frozen", "register_hook accepts a tensor that does not require grad")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.register_hook

    def register_hook(self: torch.Tensor, hook: Any) -> Any:
        if not self.requires_grad:
            return torch.utils.hooks.RemovableHandle(OrderedDict())
        return real(self, hook)

    patch.setattr(torch.Tensor, "register_hook", register_hook)


@counterfactual(
    "hook.frozen-later", "requires_grad_(False) leaves a tensor that has hooks trainable"
)
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.requires_grad_

    def requires_grad_(self: torch.Tensor, requires_grad: bool = True) -> torch.Tensor:
        if not requires_grad and self._backward_hooks:
            return self
        return real(self, requires_grad)

    patch.setattr(torch.Tensor, "requires_grad_", requires_grad_)


@counterfactual(
    "hook.module-backward", "grad_input is the output's gradient when no input requires grad"
)
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.Module.register_full_backward_hook

    def register(self: nn.Module, hook: Any, prepend: bool = False) -> Any:
        def instead(module: nn.Module, grad_input: Any, grad_output: Any) -> Any:
            if all(g is None for g in grad_input):
                grad_input = grad_output
            return hook(module, grad_input, grad_output)

        return real(self, instead, prepend)

    patch.setattr(nn.Module, "register_full_backward_hook", register)


@counterfactual("hook.forward", "forward hooks are skipped when gradients are off")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.Module._call_impl

    def call(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        if not torch.is_grad_enabled():
            return self.forward(*args, **kwargs)
        return real(self, *args, **kwargs)

    patch.setattr(nn.Module, "_call_impl", call)
    patch.setattr(nn.Module, "__call__", call)


@counterfactual(
    "hook.grad-frozen", "autograd.grad returns zeros for a tensor that does not require grad"
)
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.autograd.grad

    def grad(outputs: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        inputs = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
        wanted = [t for t in inputs if t.requires_grad]
        found = iter(real(outputs, wanted, *args, **kwargs))
        return tuple(next(found) if t.requires_grad else torch.zeros_like(t) for t in inputs)

    patch.setattr(torch.autograd, "grad", grad)


@counterfactual("hook.grad-unused", "autograd.grad allows unused inputs by default")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.autograd.grad

    def grad(*args: Any, allow_unused: bool | None = None, **kwargs: Any) -> Any:
        if allow_unused is None and not kwargs.get("materialize_grads"):
            allow_unused = True
        return real(*args, allow_unused=allow_unused, **kwargs)

    patch.setattr(torch.autograd, "grad", grad)


@counterfactual(
    "hook.grad-in-no-grad", "autograd.grad returns results that follow the grad mode only"
)
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.autograd.grad

    def grad(*args: Any, **kwargs: Any) -> Any:
        if not torch.is_grad_enabled():
            kwargs["create_graph"] = False
        return real(*args, **kwargs)

    patch.setattr(torch.autograd, "grad", grad)


@counterfactual("hook.frozen-later", "requires_grad_(False) drops the tensor's hooks")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.requires_grad_

    def requires_grad_(self: torch.Tensor, requires_grad: bool = True) -> torch.Tensor:
        if not requires_grad:
            for hooks in (self._backward_hooks, self._post_accumulate_grad_hooks):
                if hooks:
                    hooks.clear()
        return real(self, requires_grad)

    patch.setattr(torch.Tensor, "requires_grad_", requires_grad_)
