"""Claims about ``torch.no_grad()``, ``set_grad_enabled`` and ``enable_grad`` (section C)."""

from __future__ import annotations

import torch

from gradmodes.claims._common import deterministic, mlp_saved_bytes
from gradmodes.claims._registry import Observer, claim
from gradmodes.models import SimpleModel, mlp
from gradmodes.probes import observe

__all__: list[str] = []


@claim(
    "ng.outputs",
    "Inside `torch.no_grad()`, results have `requires_grad=False` and `grad_fn` `None` even "
    "when their inputs require grad.",
)
@deterministic
def _ng_outputs(obs: Observer) -> None:
    w = torch.randn(3, device=obs.device, requires_grad=True)
    with torch.no_grad():
        y = w * 2
    obs.expect("w.requires_grad", w.requires_grad, True)
    obs.expect("no_grad: (w * 2).requires_grad", y.requires_grad, False)
    obs.expect("no_grad: (w * 2).grad_fn is None", y.grad_fn is None, True)
    seen = observe(mlp(8).to(obs.device), torch.randn(2, 8, device=obs.device), grad_mode="no_grad")
    obs.expect("no_grad: mlp(8)(x).requires_grad", seen.output_requires_grad, False)
    obs.expect("no_grad: mlp(8)(x).grad_fn is not None", seen.has_grad_fn, False)


@claim(
    "ng.flags-unchanged",
    "`torch.no_grad()` does not change any parameter's `requires_grad` (before, inside and "
    "after the block it is `True`), and results computed after the block have a `grad_fn` "
    "again.",
)
@deterministic
def _ng_flags_unchanged(obs: Observer) -> None:
    net = mlp(8).to(obs.device)
    x = torch.randn(2, 8, device=obs.device)

    def flags() -> set[bool]:
        return {p.requires_grad for p in net.parameters()}

    obs.expect("before: {p.requires_grad for p in net.parameters()}", flags(), {True})
    with torch.no_grad():
        obs.expect("inside: {p.requires_grad for p in net.parameters()}", flags(), {True})
        obs.expect("inside: net(x).grad_fn is None", net(x).grad_fn is None, True)
    obs.expect("after: {p.requires_grad for p in net.parameters()}", flags(), {True})
    obs.expect("after: net(x).grad_fn is None", net(x).grad_fn is None, False)


@claim(
    "ng.memory",
    "A forward under `torch.no_grad()` saves 0 bytes for backward, where the same forward of "
    "`Linear(64, 64)`-`ReLU`-`Linear(64, 64)` on a float32 batch of 32 saves 40960 bytes with "
    "gradients enabled.",
)
@deterministic
def _ng_memory(obs: Observer) -> None:
    net = mlp(64).to(obs.device)
    x = torch.randn(32, 64, device=obs.device)
    expected = mlp_saved_bytes(32, 64)["all"]
    obs.expect("expected bytes from shapes", expected, 40960)
    obs.expect("grad: saved_bytes", observe(net, x).saved_bytes, expected)
    obs.expect("no_grad: saved_bytes", observe(net, x, grad_mode="no_grad").saved_bytes, 0)


@claim(
    "ng.no-mode-change",
    "`torch.no_grad()` does not switch Dropout or BatchNorm: in train mode under `no_grad`, "
    "Dropout still zeroes elements and BatchNorm still updates its running statistics, so a "
    "validation pass under `no_grad` without `model.eval()` changes the BatchNorm statistics.",
)
@deterministic
def _ng_no_mode_change(obs: Observer) -> None:
    model = SimpleModel().to(obs.device).train()
    seen = observe(model, torch.randn(16, 10, device=obs.device), grad_mode="no_grad")
    obs.expect("no_grad, train mode: dropout_active", seen.dropout_active, True)
    obs.expect("no_grad, train mode: bn_stats_updated", seen.bn_stats_updated, True)
    obs.expect("model.training", model.training, True)
