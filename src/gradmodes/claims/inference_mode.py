"""Claims about ``torch.inference_mode()`` (claims.md section D)."""

from __future__ import annotations

import torch

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim
from gradmodes.models import mlp
from gradmodes.probes import observe

__all__: list[str] = []


@claim(
    "im.outputs",
    "Inside `torch.inference_mode()`, as under `no_grad`, results have `requires_grad=False` "
    "and no `grad_fn` even when their inputs require grad, and a forward saves 0 bytes for "
    "backward.",
)
@deterministic
def _im_outputs(obs: Observer) -> None:
    w = torch.randn(3, device=obs.device, requires_grad=True)
    with torch.inference_mode():
        y = w * 2
    obs.expect("inference_mode: (w * 2).requires_grad", y.requires_grad, False)
    obs.expect("inference_mode: (w * 2).grad_fn is None", y.grad_fn is None, True)
    net = mlp(64).to(obs.device)
    x = torch.randn(32, 64, device=obs.device)
    obs.record("grad: saved_bytes", observe(net, x).saved_bytes)
    seen = observe(net, x, grad_mode="inference_mode")
    obs.expect("inference_mode: output_requires_grad", seen.output_requires_grad, False)
    obs.expect("inference_mode: has_grad_fn", seen.has_grad_fn, False)
    obs.expect("inference_mode: saved_bytes", seen.saved_bytes, 0)


@claim(
    "im.faster",
    "`inference_mode` skips bookkeeping that `no_grad` still does: its results are inference "
    "tensors without a version counter (`t._version` raises) and views taken of them inside "
    "the mode are not tracked as views, whereas under `no_grad` every result has a version "
    "counter that in-place operations increment, and views record their base.",
)
@deterministic
def _im_faster(obs: Observer) -> None:
    x = torch.randn(4, device=obs.device)
    with torch.no_grad():
        t = x * 2
        view = t[:2]
        obs.expect("no_grad: t._version", t._version, 0)
        t.add_(1)
        obs.expect("no_grad: t.add_(1); t._version", t._version, 1)
        obs.expect("no_grad: t[:2]._is_view()", view._is_view(), True)
        obs.expect("no_grad: t[:2]._base is t", view._base is t, True)
    with torch.inference_mode():
        t = x * 2
        view = t[:2]
        obs.expect("inference_mode: torch.is_inference(t)", torch.is_inference(t), True)
        with obs.expect_raises(
            "inference_mode: t._version", RuntimeError, "Inference tensors do not track version"
        ):
            _ = t._version
        obs.expect("inference_mode: t[:2]._is_view()", view._is_view(), False)
        obs.expect("inference_mode: t[:2]._base is None", view._base is None, True)
