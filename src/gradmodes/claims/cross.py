"""Cross-cutting claims: the recommended patterns and ``detach`` (claims.md section E)."""

from __future__ import annotations

import torch

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim
from gradmodes.models import SimpleModel
from gradmodes.probes import observe

__all__: list[str] = []


@claim(
    "x.standard",
    "The standard evaluation pattern (`was_training = model.training`, `model.eval()`, the "
    "forward under `torch.inference_mode()`, then `model.train(was_training)`) turns Dropout "
    "off, leaves BatchNorm statistics unchanged, records no graph, saves 0 bytes for backward, "
    "gives identical outputs on repeated calls and restores the previous mode; use `no_grad` "
    "instead when the outputs must later be saved for backward, which inference tensors "
    "cannot be.",
)
@deterministic
def _x_standard(obs: Observer) -> None:
    model = SimpleModel().to(obs.device)
    x = torch.randn(16, 10, device=obs.device)
    was_training = model.training
    model.eval()
    seen = observe(model, x, grad_mode="inference_mode")
    with torch.inference_mode():
        first, second = model(x), model(x)
    model.train(was_training)
    obs.expect("dropout_active", seen.dropout_active, False)
    obs.expect("bn_stats_updated", seen.bn_stats_updated, False)
    obs.expect("has_grad_fn", seen.has_grad_fn, False)
    obs.expect("saved_bytes", seen.saved_bytes, 0)
    obs.expect("torch.equal(model(x), model(x))", torch.equal(first, second), True)
    obs.expect("model.training after model.train(was_training)", model.training, True)

    w = torch.randn(1, device=obs.device, requires_grad=True)
    with obs.expect_raises(
        "inference_mode output * w", RuntimeError, "Inference tensors cannot be saved for backward"
    ):
        _ = first * w
    model.eval()
    with torch.no_grad():
        out = model(x)
    model.train(was_training)
    obs.expect("(no_grad output * w).grad_fn is not None", (out * w).grad_fn is not None, True)
