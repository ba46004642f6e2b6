"""Cross-cutting claims: the recommended patterns and ``detach`` (claims.md section E)."""

from __future__ import annotations

import torch
from torch import nn

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


@claim(
    "x.freeze-finetune",
    "Fine-tuning with a frozen backbone (`backbone.requires_grad_(False)`, an optimizer over "
    "the trainable parameters only, and the backbone's BatchNorm put back in eval mode after "
    "every `model.train()`, which switches it to train mode) updates only the head: the "
    "backbone's parameters and BatchNorm statistics stay unchanged over training steps.",
)
@deterministic
def _x_freeze_finetune(obs: Observer) -> None:
    backbone = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU())
    model = nn.Sequential(backbone, nn.Linear(8, 2)).to(obs.device)
    backbone.requires_grad_(False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for _ in range(3):
        model.train()
        obs.expect("after model.train(): backbone[1].training", backbone[1].training, True)
        backbone.eval()
        optimizer.zero_grad()
        model(torch.randn(16, 8, device=obs.device)).square().mean().backward()
        optimizer.step()
    changed = sorted(k for k, v in model.state_dict().items() if not torch.equal(before[k], v))
    obs.expect("state_dict entries changed by 3 steps", changed, ["1.bias", "1.weight"])


@claim(
    "x.detach",
    "`t.detach()` returns a tensor that shares storage with `t` and does not require grad; an "
    "in-place change to it is visible in `t`, and a later `backward()` that needs `t` raises "
    "`RuntimeError` ('modified by an inplace operation').",
)
@deterministic
def _x_detach(obs: Observer) -> None:
    w = torch.randn(3, device=obs.device, requires_grad=True)
    t = w.exp()  # exp saves its output for backward
    d = t.detach()
    obs.expect("d.data_ptr() == t.data_ptr()", d.data_ptr() == t.data_ptr(), True)
    obs.expect("d.requires_grad", d.requires_grad, False)
    d.zero_()
    obs.expect("d.zero_(); t.tolist()", t.tolist(), [0.0, 0.0, 0.0])
    obs.record("t._version", t._version)
    with obs.expect_raises("t.sum().backward()", RuntimeError, "modified by an inplace operation"):
        t.sum().backward()
