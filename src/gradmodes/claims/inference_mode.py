"""Claims about ``torch.inference_mode()`` (claims.md section D)."""

from __future__ import annotations

import torch

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim
from gradmodes.models import SimpleModel, mlp
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
    obs.expect("with torch.inference_mode(): (w * 2).requires_grad", y.requires_grad, False)
    obs.expect("with torch.inference_mode(): (w * 2).grad_fn is None", y.grad_fn is None, True)
    net = mlp(64).to(obs.device)
    x = torch.randn(32, 64, device=obs.device)
    obs.record("net = mlp(64); observe(net, x).saved_bytes", observe(net, x).saved_bytes)
    seen = observe(net, x, grad_mode="inference_mode")
    obs.expect(
        "seen = observe(net, x, grad_mode='inference_mode'); seen.output_requires_grad",
        seen.output_requires_grad,
        False,
    )
    obs.expect("seen.has_grad_fn", seen.has_grad_fn, False)
    obs.expect("seen.saved_bytes", seen.saved_bytes, 0)


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
        obs.expect("with torch.no_grad(): t = x * 2; t._version", t._version, 0)
        t.add_(1)
        obs.expect("t.add_(1); t._version", t._version, 1)
        obs.expect("t[:2]._is_view()", view._is_view(), True)
        obs.expect("t[:2]._base is t", view._base is t, True)
    with torch.inference_mode():
        t = x * 2
        view = t[:2]
        obs.expect(
            "with torch.inference_mode(): t = x * 2; torch.is_inference(t)",
            torch.is_inference(t),
            True,
        )
        with obs.expect_raises(
            "t._version", RuntimeError, "Inference tensors do not track version"
        ):
            _ = t._version
        obs.expect("t[:2]._is_view()", view._is_view(), False)
        obs.expect("t[:2]._base is None", view._base is None, True)


@claim(
    "im.inference-tensor",
    "Tensors created inside `torch.inference_mode()` are inference tensors "
    "(`torch.is_inference(t)` is `True`, also after the block) and have no version counter, so "
    "reading `t._version` raises `RuntimeError` ('Inference tensors do not track version "
    "counter'); tensors created under `no_grad` are normal tensors.",
)
@deterministic
def _im_inference_tensor(obs: Observer) -> None:
    with torch.inference_mode():
        t = torch.randn(3, device=obs.device)
        obs.expect(
            "with torch.inference_mode(): t = torch.randn(3); torch.is_inference(t)",
            torch.is_inference(t),
            True,
        )
    obs.expect("torch.is_inference(t)", torch.is_inference(t), True)
    with obs.expect_raises("t._version", RuntimeError, "Inference tensors do not track version"):
        _ = t._version
    with torch.no_grad():
        n = torch.randn(3, device=obs.device)
    obs.expect(
        "with torch.no_grad(): n = torch.randn(3); torch.is_inference(n)",
        torch.is_inference(n),
        False,
    )
    obs.expect("n._version", n._version, 0)


@claim(
    "im.no-autograd-later",
    "Outside the mode, an inference tensor `a` cannot be saved for backward: `a * w` with "
    "`w.requires_grad` raises `RuntimeError` ('Inference tensors cannot be saved for "
    "backward'), `a + w` works because addition saves no input, and `a.clone()` made outside "
    "the mode is a normal tensor for which `a.clone() * w` works.",
)
@deterministic
def _im_no_autograd_later(obs: Observer) -> None:
    with torch.inference_mode():
        a = torch.randn(3, device=obs.device)
    w = torch.randn(3, device=obs.device, requires_grad=True)
    with obs.expect_raises("a * w", RuntimeError, "Inference tensors cannot be saved for backward"):
        _ = a * w
    total = a + w
    obs.expect("(a + w).grad_fn is not None", total.grad_fn is not None, True)
    total.sum().backward()
    obs.expect(
        "(a + w).sum().backward(); w.grad.tolist()",
        w.grad.tolist() if w.grad is not None else None,
        [1.0, 1.0, 1.0],
    )
    copy = a.clone()
    obs.expect("torch.is_inference(a.clone())", torch.is_inference(copy), False)
    obs.expect("(a.clone() * w).grad_fn is not None", (copy * w).grad_fn is not None, True)


@claim(
    "im.inplace-outside",
    "An in-place update of an inference tensor outside `torch.inference_mode()` raises "
    "`RuntimeError` ('Inplace update to inference tensor outside InferenceMode is not "
    "allowed'), e.g. `total /= n` on a loss sum accumulated inside the mode, while the "
    "out-of-place `total / n` works.",
)
@deterministic
def _im_inplace_outside(obs: Observer) -> None:
    net = mlp(8).to(obs.device)
    batches = [torch.randn(2, 8, device=obs.device) for _ in range(3)]
    with torch.inference_mode():
        total = torch.zeros((), device=obs.device)
        for batch in batches:
            total += net(batch).square().mean()
    with obs.expect_raises(
        "total /= 3", RuntimeError, "Inplace update to inference tensor outside InferenceMode"
    ):
        total /= 3
    mean = total / 3
    obs.expect("torch.is_inference(total / 3)", torch.is_inference(mean), False)


@claim(
    "im.no-eval",
    "`torch.inference_mode()` does not put the model in eval mode: in train mode under it, "
    "Dropout still zeroes elements and BatchNorm still updates its running statistics, which "
    "stay normal tensors.",
)
@deterministic
def _im_no_eval(obs: Observer) -> None:
    model = SimpleModel().to(obs.device).train()
    seen = observe(model, torch.randn(16, 10, device=obs.device), grad_mode="inference_mode")
    obs.expect(
        "seen = observe(model.train(), x, grad_mode='inference_mode'); seen.dropout_active",
        seen.dropout_active,
        True,
    )
    obs.expect("seen.bn_stats_updated", seen.bn_stats_updated, True)
    obs.expect("model.training", model.training, True)
    obs.expect(
        "torch.is_inference(model.bn.running_mean)",
        torch.is_inference(model.bn.running_mean),
        False,
    )


@claim(
    "im.bare-call",
    "A bare `torch.inference_mode()` call (not used in `with` or as a decorator) does not "
    "enable inference mode: afterwards `torch.is_inference_mode_enabled()` is still `False` "
    "and results still track gradients.",
)
@deterministic
def _im_bare_call(obs: Observer) -> None:
    w = torch.randn(2, device=obs.device, requires_grad=True)
    torch.inference_mode()
    obs.expect("torch.is_inference_mode_enabled()", torch.is_inference_mode_enabled(), False)
    y = w * 2
    obs.expect("(w * 2).grad_fn is not None", y.grad_fn is not None, True)
    obs.expect("torch.is_inference(w * 2)", torch.is_inference(y), False)


@claim(
    "im.requires-grad",
    "Setting `requires_grad=True` on an inference tensor outside `torch.inference_mode()` "
    "(`a.requires_grad_()` or `a.requires_grad = True`) raises `RuntimeError` ('Setting "
    "requires_grad=True on inference tensor outside InferenceMode is not allowed'), while "
    "`a.clone().requires_grad_()` gives a normal leaf tensor that requires grad.",
)
@deterministic
def _im_requires_grad(obs: Observer) -> None:
    with torch.inference_mode():
        a = torch.randn(3, device=obs.device)
    message = "Setting requires_grad=True on inference tensor outside InferenceMode"
    with obs.expect_raises("a.requires_grad_()", RuntimeError, message):
        a.requires_grad_()
    with obs.expect_raises("a.requires_grad = True", RuntimeError, message):
        a.requires_grad = True
    b = a.clone().requires_grad_()
    obs.expect("torch.is_inference(b)", torch.is_inference(b), False)
    obs.expect("b.is_leaf, b.requires_grad", (b.is_leaf, b.requires_grad), (True, True))


@claim(
    "im.mode-false",
    "`torch.inference_mode(False)` switches inference mode off and gradient tracking on for its "
    "block, even inside `torch.inference_mode()` or `torch.no_grad()`, whereas "
    "`torch.enable_grad()` inside `torch.inference_mode()` still gives inference tensors "
    "without a `grad_fn`.",
)
@deterministic
def _im_mode_false(obs: Observer) -> None:
    w = torch.randn(2, device=obs.device, requires_grad=True)
    for name, outer in (("inference_mode", torch.inference_mode), ("no_grad", torch.no_grad)):
        with outer():
            with torch.inference_mode(False):
                y = w * 2
                obs.expect(
                    f"{name} > inference_mode(False): torch.is_grad_enabled()",
                    torch.is_grad_enabled(),
                    True,
                )
            obs.expect(
                f"after it, in {name}: torch.is_grad_enabled()", torch.is_grad_enabled(), False
            )
        obs.expect(
            f"{name} > inference_mode(False): torch.is_inference(w * 2)",
            torch.is_inference(y),
            False,
        )
        obs.expect(
            f"{name} > inference_mode(False): (w * 2).grad_fn is not None",
            y.grad_fn is not None,
            True,
        )
    with torch.inference_mode(), torch.enable_grad():
        z = w * 2
    obs.expect(
        "inference_mode > enable_grad: torch.is_inference(w * 2)", torch.is_inference(z), True
    )
    obs.expect("inference_mode > enable_grad: (w * 2).grad_fn is None", z.grad_fn is None, True)
