"""Counterfactual torches for the claims of ``gradmodes/claims/versions.py``."""

from __future__ import annotations

import pytest
import torch

from counterfactuals import counterfactual


def _detach_is_data(patch: pytest.MonkeyPatch) -> None:
    """``detach()`` implemented as ``.data``: a new version counter, like ``.data``'s."""
    patch.setattr(torch.Tensor, "detach", lambda self: self.data)


for claim_id in ("ver.counter", "ver.detach-error"):
    counterfactual(claim_id, "detach() gives a tensor with its own version counter")(
        _detach_is_data
    )


@counterfactual("ver.data-silent", ".data shares the version counter, as detach() does")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch._C.TensorBase.data

    def set_data(self: torch.Tensor, value: torch.Tensor) -> None:
        real.__set__(self, value)

    patch.setattr(torch.Tensor, "data", property(lambda self: self.detach(), set_data))


@counterfactual(
    "ver.update-between", "optimizers and in-place updates replace the weight's storage"
)
def _(patch: pytest.MonkeyPatch) -> None:
    real_add = torch.Tensor.add_

    def add_(self: torch.Tensor, other: object, *, alpha: float = 1) -> torch.Tensor:
        if isinstance(self, torch.nn.Parameter):  # out of place, then swap the data in
            self.data = self.detach() + alpha * other  # type: ignore[operator]
            return self
        return real_add(self, other, alpha=alpha)

    patch.setattr(torch.Tensor, "add_", add_)
    patch.setattr(torch.optim.SGD, "step", lambda self, closure=None: _sgd_by_data(self))


def _sgd_by_data(optimizer: torch.optim.Optimizer) -> None:
    with torch.no_grad():
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.data = p.detach() - group["lr"] * p.grad
