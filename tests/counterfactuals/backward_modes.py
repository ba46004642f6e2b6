"""Counterfactual torches for the claims of ``gradmodes/claims/backward_modes.py``."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from counterfactuals import counterfactual


def _inference_mode_is_no_grad(patch: pytest.MonkeyPatch) -> None:
    """``inference_mode()`` is ``no_grad()``: no inference tensors anywhere."""
    patch.setattr(torch, "inference_mode", lambda mode=True: torch.no_grad())


for claim_id in (
    "bwd.inference-mode",
    "bwd.built-inside",
    "bwd.built-inside-layers",
    "bwd.loaded",
    "bwd.converted",
):
    counterfactual(claim_id, "inference_mode() is no_grad(): its tensors are normal")(
        _inference_mode_is_no_grad
    )


@counterfactual("bwd.no-grad", "backward() respects no_grad and computes nothing inside it")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.backward

    def backward(self: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        if torch.is_grad_enabled():
            real(self, *args, **kwargs)

    patch.setattr(torch.Tensor, "backward", backward)


@counterfactual("bwd.inference-mode", "backward() always creates normal gradients")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.Tensor.backward

    def backward(self: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        with torch.inference_mode(False):
            real(self, *args, **kwargs)

    patch.setattr(torch.Tensor, "backward", backward)
