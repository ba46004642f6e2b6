"""Counterfactual torches for ``gradmodes.claims.compile``: dynamo guards that go missing."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch._dynamo
import torch._dynamo.guards
from torch._dynamo.eval_frame import OptimizedModule

from counterfactuals import counterfactual

Builder = torch._dynamo.guards.GuardBuilder


def _no_guard(self: object, guard: object, *args: object, **kwargs: object) -> None:
    """A guard builder that installs nothing."""


@counterfactual("co.grad-mode", "dynamo does not guard the grad mode: the no_grad call reuses")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(Builder, "GLOBAL_STATE", _no_guard)


@counterfactual("co.inference-mode", "dynamo does not guard tensors: inference_mode reuses")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(Builder, "TENSOR_MATCH", _no_guard)


@counterfactual("co.eval", "dynamo bakes module attributes without guarding them")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(Builder, "EQUALS_MATCH", _no_guard)
    patch.setattr(Builder, "CONSTANT_MATCH", _no_guard)


@counterfactual("co.requires-grad", "dynamo does not guard requires_grad (no tensor guards)")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(Builder, "TENSOR_MATCH", _no_guard)


@counterfactual("co.inner-block", "torch.no_grad() records, like torch.enable_grad()")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch, "no_grad", torch.enable_grad)


@counterfactual("co.wrapper", "the compiled wrapper's train()/eval() set only its own flag")
def _(patch: pytest.MonkeyPatch) -> None:
    def train(self: OptimizedModule, mode: bool = True) -> OptimizedModule:
        object.__setattr__(self, "training", mode)
        return self

    patch.setattr(OptimizedModule, "train", train)


@counterfactual("co.recompile-limit", "each compiled model has a cache (and a limit) of its own")
def _(patch: pytest.MonkeyPatch) -> None:
    compile_ = torch.compile

    def compile_fresh(*args: Any, **kwargs: Any) -> Any:
        torch._dynamo.reset()  # nothing cached before counts
        return compile_(*args, **kwargs)

    patch.setattr(torch, "compile", compile_fresh)
