"""Counterfactuals of the claims in ``gradmodes/claims/requires_grad.py``.

Each patch is a torch that a release could plausibly be: a flag setter that ignores
non-leaf tensors, an optimizer that treats a missing ``.grad`` as zeros, a ``ReLU`` that
saves its input, a ``Linear`` whose backward ignores which gradients are needed, ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from counterfactuals import counterfactual
from counterfactuals._patching import wrap

_REQUIRES_GRAD = torch._C.TensorBase.requires_grad  # the real property, kept for the patches


def _flag_property(setter: Any) -> property:
    """A ``Tensor.requires_grad`` property with the real getter and ``setter``."""
    return property(lambda self: _REQUIRES_GRAD.__get__(self), setter)


def _set_flag(tensor: torch.Tensor, value: bool) -> None:
    _REQUIRES_GRAD.__set__(tensor, value)


# --- rg.leaf-only ---------------------------------------------------------------------------


@counterfactual("rg.leaf-only", "assigning requires_grad on a non-leaf is silently ignored")
def _(patch: pytest.MonkeyPatch) -> None:
    def setter(self: torch.Tensor, value: bool) -> None:
        if self.grad_fn is None:
            _set_flag(self, value)

    patch.setattr(torch.Tensor, "requires_grad", _flag_property(setter))


@counterfactual("rg.leaf-only", "requires_grad_(True) on a non-leaf raises like the others")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.requires_grad_

    def requires_grad_(self: torch.Tensor, requires_grad: bool = True) -> torch.Tensor:
        if self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables.")
        return real(self, requires_grad)

    patch.setattr(torch.Tensor, "requires_grad_", requires_grad_)


# --- rg.float-only --------------------------------------------------------------------------


@counterfactual("rg.float-only", "requires_grad_() on an integer tensor does nothing, silently")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.requires_grad_

    def requires_grad_(self: torch.Tensor, requires_grad: bool = True) -> torch.Tensor:
        if not (self.dtype.is_floating_point or self.dtype.is_complex):
            return self
        return real(self, requires_grad)

    patch.setattr(torch.Tensor, "requires_grad_", requires_grad_)


@counterfactual("rg.float-only", "bfloat16 tensors cannot require grad")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.requires_grad_

    def requires_grad_(self: torch.Tensor, requires_grad: bool = True) -> torch.Tensor:
        if self.dtype == torch.bfloat16 and requires_grad:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        return real(self, requires_grad)

    patch.setattr(torch.Tensor, "requires_grad_", requires_grad_)


# --- rg.no-grad-leaf ------------------------------------------------------------------------


@counterfactual("rg.no-grad-leaf", "no_grad() records the graph like enable_grad()")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch, "no_grad", torch.enable_grad)


@counterfactual("rg.no-grad-leaf", "a view taken under no_grad() is a plain leaf, like w * 2")
def _(patch: pytest.MonkeyPatch) -> None:
    view, getitem = torch.Tensor.view, torch.Tensor.__getitem__

    def detached(real: Any) -> Any:
        def method(self: torch.Tensor, *args: Any) -> torch.Tensor:
            base = self if torch.is_grad_enabled() else self.detach()
            return real(base, *args)

        return method

    patch.setattr(torch.Tensor, "view", detached(view))
    patch.setattr(torch.Tensor, "__getitem__", detached(getitem))


# --- rg.recorded-if-any ---------------------------------------------------------------------


@counterfactual("rg.recorded-if-any", "Linear records its operation even under no_grad()")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.linear

    def linear(input: torch.Tensor, weight: torch.Tensor, bias: Any = None) -> torch.Tensor:
        with torch.enable_grad():
            return real(input, weight, bias)

    patch.setattr(F, "linear", linear)


@counterfactual("rg.recorded-if-any", "a comparison returns a float mask recorded in the graph")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch.Tensor, "__gt__", lambda self, other: torch.heaviside(self - other, self))


@counterfactual("rg.recorded-if-any", "a frozen Linear fed a plain tensor records its operation")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.linear

    def linear(input: torch.Tensor, weight: torch.Tensor, bias: Any = None) -> torch.Tensor:
        if torch.is_grad_enabled() and not input.requires_grad:
            input = input.detach().requires_grad_()  # as if inputs always required grad
        return real(input, weight, bias)

    patch.setattr(F, "linear", linear)


# --- rg.no-grad-field, rg.saves-grad --------------------------------------------------------


def _freezing_leaves_zero_grads(patch: pytest.MonkeyPatch) -> None:
    real = nn.Module.requires_grad_

    def requires_grad_(self: nn.Module, requires_grad: bool = True) -> nn.Module:
        real(self, requires_grad)
        if not requires_grad:
            for param in self.parameters():
                param.grad = torch.zeros_like(param)  # as zero_grad(set_to_none=False) does
        return self

    patch.setattr(nn.Module, "requires_grad_", requires_grad_)


counterfactual("rg.no-grad-field", "freezing a module gives its parameters a zero .grad")(
    _freezing_leaves_zero_grads
)
counterfactual("rg.saves-grad", "freezing a module gives its parameters a zero .grad")(
    _freezing_leaves_zero_grads
)


Hook = Callable[[torch.Tensor, torch.Tensor, Any, torch.Tensor], None]


def _hook_linear_outputs(
    patch: pytest.MonkeyPatch, when: Callable[[torch.Tensor, torch.Tensor], bool], hook: Hook
) -> None:
    """``F.linear`` calls ``hook(input, weight, bias, grad)`` in the backward of each output
    for which ``when(weight, output)`` holds at the forward."""

    def linear(original: Any, input: torch.Tensor, weight: torch.Tensor, bias: Any = None) -> Any:
        out = original(input, weight, bias)
        if when(weight, out):
            out.register_hook(lambda grad: hook(input, weight, bias, grad))
        return out

    wrap(patch, F, "linear", linear)


@counterfactual("rg.saves-grad", "a frozen layer that gradients flow through gets a zero .grad")
def _(patch: pytest.MonkeyPatch) -> None:
    def zero_grads(
        input: torch.Tensor, weight: torch.Tensor, bias: Any, grad: torch.Tensor
    ) -> None:
        for param in (weight, bias):
            if param is not None and param.grad is None:
                param.grad = torch.zeros_like(param)

    frozen = lambda weight, out: not weight.requires_grad and out.requires_grad  # noqa: E731
    _hook_linear_outputs(patch, frozen, zero_grads)


@counterfactual("rg.saves-grad", "a layer frozen after the forward still gets its .grad")
def _(patch: pytest.MonkeyPatch) -> None:
    def late(input: torch.Tensor, weight: torch.Tensor, bias: Any, grad: torch.Tensor) -> None:
        if not weight.requires_grad:  # decided when recorded, not at backward()
            flat = grad.reshape(-1, grad.shape[-1])
            weight.grad = flat.t() @ input.reshape(-1, input.shape[-1]).detach()
            if bias is not None:
                bias.grad = flat.sum(0)

    trainable = lambda weight, out: weight.requires_grad and out.requires_grad  # noqa: E731
    _hook_linear_outputs(patch, trainable, late)


@counterfactual("rg.no-grad-field", "backward() accumulates into a frozen weight's old .grad")
def _(patch: pytest.MonkeyPatch) -> None:
    def accumulate(
        input: torch.Tensor, weight: torch.Tensor, bias: Any, grad: torch.Tensor
    ) -> None:
        weight.grad.add_(grad.t() @ input.detach())  # type: ignore[union-attr]

    def stale(weight: torch.Tensor, out: torch.Tensor) -> bool:
        return weight.grad is not None and not weight.requires_grad and out.requires_grad

    _hook_linear_outputs(patch, stale, accumulate)


# --- rg.memory, rg.memory-depth -------------------------------------------------------------


def _relu_saves_its_input(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(F, "relu", lambda input, inplace=False: input.clamp(min=0))


counterfactual("rg.memory", "ReLU saves its input (clamp) instead of its output")(
    _relu_saves_its_input
)
counterfactual("rg.memory-depth", "ReLU saves its input (clamp) instead of its output")(
    _relu_saves_its_input
)


def _linear_saves_a_weight_copy(patch: pytest.MonkeyPatch) -> None:
    def linear(input: torch.Tensor, weight: torch.Tensor, bias: Any = None) -> torch.Tensor:
        out = input @ weight.t().contiguous()  # a copy of the weight is saved for backward
        return out if bias is None else out + bias

    patch.setattr(F, "linear", linear)


counterfactual("rg.memory", "Linear saves a contiguous copy of its transposed weight")(
    _linear_saves_a_weight_copy
)
counterfactual("rg.memory-depth", "Linear saves a contiguous copy of its transposed weight")(
    _linear_saves_a_weight_copy
)


# --- rg.matrix-bytes ------------------------------------------------------------------------


@counterfactual("rg.matrix-bytes", "Dropout in eval mode returns a copy of its input")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.dropout

    def dropout(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
        return real(input, p, training, inplace) if training else input.clone()

    patch.setattr(F, "dropout", dropout)


# --- rg.name-match --------------------------------------------------------------------------


@counterfactual("rg.name-match", "named_parameters() joins names with '/' instead of '.'")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.Module.named_parameters

    def named_parameters(self: nn.Module, *args: Any, **kwargs: Any):
        for name, param in real(self, *args, **kwargs):
            yield name.replace(".", "/"), param

    patch.setattr(nn.Module, "named_parameters", named_parameters)


# --- optimizers -----------------------------------------------------------------------------


def _wrap_step(patch: pytest.MonkeyPatch, cls: type[torch.optim.Optimizer], before: Any) -> None:
    """Patch ``cls.step`` so that ``before(optimizer)`` runs first; it may return an undo."""
    real = cls.step

    def step(self: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        undo = before(self)
        try:
            return real(self, *args, **kwargs)
        finally:
            if undo is not None:
                undo()

    patch.setattr(cls, "step", step)


def _params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


@counterfactual("rg.optimizer-skips", "SGD treats a missing .grad as zeros")
def _(patch: pytest.MonkeyPatch) -> None:
    def zeros_for_none(optimizer: torch.optim.Optimizer) -> None:
        for p in _params(optimizer):
            if p.grad is None:
                p.grad = torch.zeros_like(p)

    _wrap_step(patch, torch.optim.SGD, zeros_for_none)


@counterfactual(
    "rg.optimizer-skips",
    "SGD steps a missing .grad as zeros, and its signature hides its settings (**kwargs)",
)
def _(patch: pytest.MonkeyPatch) -> None:
    def zeros_for_none(optimizer: torch.optim.Optimizer) -> Any:
        missing = [p for p in _params(optimizer) if p.grad is None]
        for p in missing:
            p.grad = torch.zeros_like(p)

        def undo() -> None:  # the .grad is None again after the step: only the step differs
            for p in missing:
                p.grad = None

        return undo

    _wrap_step(patch, torch.optim.SGD, zeros_for_none)
    real = torch.optim.SGD.__init__

    def __init__(self: torch.optim.SGD, params: Any, **kwargs: Any) -> None:  # no signature
        real(self, params, **kwargs)

    patch.setattr(torch.optim.SGD, "__init__", __init__)


@counterfactual("rg.optimizer-skips", "AdamW decays every parameter, with or without a .grad")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.optim.AdamW.step

    def step(self: torch.optim.AdamW, *args: Any, **kwargs: Any) -> Any:
        result = real(self, *args, **kwargs)
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        p.mul_(1 - group["lr"] * group["weight_decay"])
        return result

    patch.setattr(torch.optim.AdamW, "step", step)


@counterfactual("rg.momentum-drift", "Adam skips parameters whose .grad is all zeros")
def _(patch: pytest.MonkeyPatch) -> None:
    def hide_zero_grads(optimizer: torch.optim.Optimizer) -> Any:
        hidden = [
            (p, p.grad) for p in _params(optimizer) if p.grad is not None and not p.grad.any()
        ]
        for p, _ in hidden:
            p.grad = None

        def undo() -> None:
            for p, grad in hidden:
                p.grad = grad

        return undo

    _wrap_step(patch, torch.optim.Adam, hide_zero_grads)


@counterfactual("rg.momentum-drift", "LBFGS leaves parameters whose .grad is None alone")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.optim.LBFGS.step

    def step(self: torch.optim.LBFGS, closure: Any) -> Any:
        kept = [(p, p.detach().clone()) for p in _params(self)]
        result = real(self, closure)
        with torch.no_grad():
            for p, old in kept:
                if p.grad is None:
                    p.copy_(old)
        return result

    patch.setattr(torch.optim.LBFGS, "step", step)


@counterfactual("rg.stale-grad", "SGD skips parameters that do not require grad")
def _(patch: pytest.MonkeyPatch) -> None:
    def hide_frozen(optimizer: torch.optim.Optimizer) -> Any:
        hidden = [(p, p.grad) for p in _params(optimizer) if not p.requires_grad]
        for p, _ in hidden:
            p.grad = None

        def undo() -> None:
            for p, grad in hidden:
                p.grad = grad

        return undo

    _wrap_step(patch, torch.optim.SGD, hide_frozen)


@counterfactual("rg.not-given", "add_param_group() after construction is silently ignored")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.optim.Optimizer.add_param_group

    def add_param_group(self: torch.optim.Optimizer, param_group: dict[str, Any]) -> None:
        if self.param_groups:  # groups given to the constructor are still added
            return
        real(self, param_group)

    patch.setattr(torch.optim.Optimizer, "add_param_group", add_param_group)


@counterfactual("rg.optimizer-state", "Adam keeps its moments in float64")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.optim.Adam.step

    def step(self: torch.optim.Adam, *args: Any, **kwargs: Any) -> Any:
        result = real(self, *args, **kwargs)
        for state in self.state.values():
            for key in ("exp_avg", "exp_avg_sq"):
                state[key] = state[key].double()
        return result

    patch.setattr(torch.optim.Adam, "step", step)


@counterfactual("rg.frozen-no-state", "Adam allocates its state for every parameter when built")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.optim.Adam.__init__

    def __init__(self: torch.optim.Adam, params: Any, *args: Any, **kwargs: Any) -> None:
        real(self, params, *args, **kwargs)
        for p in _params(self):
            self.state[p] = {
                "step": torch.tensor(0.0),
                "exp_avg": torch.zeros_like(p),
                "exp_avg_sq": torch.zeros_like(p),
            }

    patch.setattr(torch.optim.Adam, "__init__", __init__)


@counterfactual(
    "rg.frozen-no-state", "SGD with momentum allocates a momentum buffer for every parameter"
)
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.optim.SGD.__init__

    @functools.wraps(real)  # keeps the signature, from which the check learns the settings
    def __init__(self: torch.optim.SGD, params: Any, *args: Any, **kwargs: Any) -> None:
        real(self, params, *args, **kwargs)
        for group in self.param_groups:
            if group["momentum"]:
                for p in group["params"]:
                    self.state[p] = {"momentum_buffer": torch.zeros_like(p)}

    patch.setattr(torch.optim.SGD, "__init__", __init__)


# --- rg.weight-grad-compute -----------------------------------------------------------------


class _LinearBothGrads(torch.autograd.Function):
    """``x @ w.t() + b`` whose backward computes every gradient, needed or not."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> Any:
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        out = x @ w.t()
        return out if b is None else out + b

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        x, w = ctx.saved_tensors
        grad_x, grad_w = grad @ w, grad.t() @ x  # both, whatever ctx.needs_input_grad says
        grad_b = grad.sum(0) if ctx.has_bias else None
        needs = ctx.needs_input_grad
        return (
            grad_x if needs[0] else None,
            grad_w if needs[1] else None,
            grad_b if needs[2] else None,
        )


@counterfactual("rg.weight-grad-compute", "Linear's backward computes the weight gradient anyway")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(
        F, "linear", lambda input, weight, bias=None: _LinearBothGrads.apply(input, weight, bias)
    )


# --- rg.default -----------------------------------------------------------------------------


@counterfactual("rg.default", "Embedding.from_pretrained defaults to freeze=False")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.Embedding.from_pretrained.__func__  # type: ignore[attr-defined]

    def from_pretrained(cls: type, embeddings: torch.Tensor, freeze: bool = False, **kw: Any):
        return real(cls, embeddings, freeze=freeze, **kw)

    patch.setattr(nn.Embedding, "from_pretrained", classmethod(from_pretrained))


@counterfactual("rg.default", "nn.Parameter defaults to requires_grad=False")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.Parameter.__new__

    def __new__(cls: type, data: Any = None, requires_grad: bool = False) -> Any:
        return real(cls, data, requires_grad)

    patch.setattr(nn.Parameter, "__new__", __new__)


# --- rg.middle-frozen -----------------------------------------------------------------------


@counterfactual("rg.middle-frozen", "a frozen Linear does not pass gradients to its input")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.linear

    def linear(input: torch.Tensor, weight: torch.Tensor, bias: Any = None) -> torch.Tensor:
        return real(input if weight.requires_grad else input.detach(), weight, bias)

    patch.setattr(F, "linear", linear)


# --- rg.requires_grad_ ----------------------------------------------------------------------


@counterfactual("rg.requires_grad_", "module.requires_grad_() also sets the buffers' flag")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.Module.requires_grad_

    def requires_grad_(self: nn.Module, requires_grad: bool = True) -> nn.Module:
        for buffer in self.buffers():
            if buffer.dtype.is_floating_point:
                buffer.requires_grad_(requires_grad)
        return real(self, requires_grad)

    patch.setattr(nn.Module, "requires_grad_", requires_grad_)


@counterfactual("rg.requires_grad_", "module.requires_grad_(False) also calls eval()")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.Module.requires_grad_

    def requires_grad_(self: nn.Module, requires_grad: bool = True) -> nn.Module:
        real(self, requires_grad)
        return self if requires_grad else self.eval()

    patch.setattr(nn.Module, "requires_grad_", requires_grad_)


# --- rg.bn-stats-still-update ---------------------------------------------------------------


@counterfactual("rg.bn-stats-still-update", "a BatchNorm with frozen parameters stops updating")
def _(patch: pytest.MonkeyPatch) -> None:
    base = nn.modules.batchnorm._BatchNorm
    real = base.forward

    def forward(self: nn.Module, input: torch.Tensor) -> torch.Tensor:
        weight = getattr(self, "weight", None)
        if self.training and weight is not None and not weight.requires_grad:
            self.training = False
            try:
                return real(self, input)
            finally:
                self.training = True
        return real(self, input)

    patch.setattr(base, "forward", forward)


# --- rg.dropout-still-active ----------------------------------------------------------------


@counterfactual("rg.dropout-still-active", "Dropout is off when its input does not require grad")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.dropout

    def dropout(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
        return real(input, p, training and input.requires_grad, inplace)

    patch.setattr(F, "dropout", dropout)


# --- rg.all-frozen-backward -----------------------------------------------------------------


@counterfactual("rg.all-frozen-backward", "backward() on a tensor without grad_fn does nothing")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.backward

    def backward(self: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        if not self.requires_grad:
            return
        real(self, *args, **kwargs)

    patch.setattr(torch.Tensor, "backward", backward)


# --- rg.reversible --------------------------------------------------------------------------


@counterfactual("rg.reversible", "once set to False, requires_grad cannot be set back to True")
def _(patch: pytest.MonkeyPatch) -> None:
    frozen: set[int] = set()

    def setter(self: torch.Tensor, value: bool) -> None:
        if not value:
            frozen.add(id(self))
        if value and id(self) in frozen:
            return
        _set_flag(self, value)

    patch.setattr(torch.Tensor, "requires_grad", _flag_property(setter))
