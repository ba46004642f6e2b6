"""Claims about ``torch.inference_mode()`` (claims.md section D)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gradmodes.claims._common import deterministic, expect_train_mode_kept, new_tensor_ops
from gradmodes.claims._registry import Observer, claim
from gradmodes.models import SimpleModel, mlp
from gradmodes.probes import count_saved, observe

__all__: list[str] = []


@claim(
    "im.outputs",
    "Inside `torch.inference_mode()`, `w * 2`, `w + 1`, `w.exp()`, `w @ w`, `w.sum()`, "
    "`w.clone()`, `w.double()` and `torch.cat([w, w])` on a float32 `w` and a forward of "
    "`Linear(64, 64)`-`ReLU`-`Linear(64, 64)` give results with `requires_grad=False` and no "
    "`grad_fn`, although `w` and the layers' parameters require grad, and the forward saves no "
    "tensor for backward.",
)
@deterministic
def _im_outputs(obs: Observer) -> None:
    w = torch.randn(4, device=obs.device, requires_grad=True)
    with torch.inference_mode():
        results = {code: op() for code, op in new_tensor_ops(w).items()}
    for code, y in results.items():
        obs.expect(
            f"with torch.inference_mode(): y = {code}; y.requires_grad, y.grad_fn is None",
            (y.requires_grad, y.grad_fn is None),
            (False, True),
        )
    net = mlp(64).to(obs.device)
    x = torch.randn(32, 64, device=obs.device)
    with count_saved() as saved, torch.inference_mode():
        y = net(x)
    obs.expect(
        "with count_saved() as saved, torch.inference_mode(): y = net(x); "
        "y.requires_grad, y.grad_fn is None",
        (y.requires_grad, y.grad_fn is None),
        (False, True),
    )
    obs.expect("saved.count, saved.bytes", (saved.count, saved.bytes), (0, 0))


@claim(
    "im.faster",
    "`b = a * 2` computed inside `torch.inference_mode()` from a normal tensor `a` is an "
    "inference tensor without a version counter (`b._version` raises), and its view `b[:2]` "
    "taken inside the mode is not tracked as a view (`_is_view()` is `False`, `_base` is "
    "`None`), whereas the same `b` computed under `no_grad` has a version counter that "
    "`b.add_(1)` increments, and `b[:2]` records `b` as its base.",
)
@deterministic
def _im_faster(obs: Observer) -> None:
    a = torch.randn(4, device=obs.device)
    with torch.no_grad():
        b = a * 2
        view = b[:2]
        obs.expect("with torch.no_grad(): b = a * 2; b._version", b._version, 0)
        b.add_(1)
        obs.expect("b.add_(1); b._version", b._version, 1)
        obs.expect("b[:2]._is_view()", view._is_view(), True)
        obs.expect("b[:2]._base is b", view._base is b, True)
    with torch.inference_mode():
        b = a * 2
        view = b[:2]
        obs.expect(
            "with torch.inference_mode(): b = a * 2; torch.is_inference(b)",
            torch.is_inference(b),
            True,
        )
        with obs.expect_raises(
            "b._version", RuntimeError, "Inference tensors do not track version"
        ):
            _ = b._version
        obs.expect("b[:2]._is_view()", view._is_view(), False)
        obs.expect("b[:2]._base is None", view._base is None, True)


def _factories(device: torch.device) -> dict[str, Callable[[], torch.Tensor]]:
    """The factory calls ``im.inference-tensor`` checks."""
    return {
        "torch.randn(3)": lambda: torch.randn(3, device=device),
        "torch.zeros(3)": lambda: torch.zeros(3, device=device),
        "torch.ones(3)": lambda: torch.ones(3, device=device),
        "torch.empty(3)": lambda: torch.empty(3, device=device),
        "torch.full((3,), 2.0)": lambda: torch.full((3,), 2.0, device=device),
        "torch.arange(3)": lambda: torch.arange(3, device=device),
        "torch.tensor([1.0, 2.0])": lambda: torch.tensor([1.0, 2.0], device=device),
    }


@claim(
    "im.inference-tensor",
    "Inside `torch.inference_mode()`, `torch.randn`, `torch.zeros`, `torch.ones`, "
    "`torch.empty`, `torch.full`, `torch.arange`, `torch.tensor`, `n * 2` and `net(n)` on a "
    "normal tensor `n` create inference tensors (`torch.is_inference(t)` is `True`, also "
    "after the block), none of which has a version counter: reading `t._version` raises "
    "`RuntimeError` (`Inference tensors do not track version counter`); a view `n[:2]` of a "
    "normal tensor and a normal tensor changed in place (`n.add_(1)`) stay normal tensors, "
    "and the same calls under `no_grad` give normal tensors.",
)
@deterministic
def _im_inference_tensor(obs: Observer) -> None:
    n = torch.randn(4, device=obs.device)
    net = mlp(4).to(obs.device)
    with torch.inference_mode():
        created = {code: make() for code, make in _factories(obs.device).items()}
        created["n * 2"] = n * 2
        created["net(n)"] = net(n)
        view = n[:2]
        n.add_(1)
    for code, t in created.items():
        obs.expect(
            f"with torch.inference_mode(): t = {code}; [after the block] torch.is_inference(t)",
            torch.is_inference(t),
            True,
        )
    for code, t in created.items():
        with obs.expect_raises(
            f"t = {code}; t._version", RuntimeError, "Inference tensors do not track version"
        ):
            _ = t._version
    obs.expect(
        "with torch.inference_mode(): v = n[:2]; n.add_(1); "
        "torch.is_inference(v), torch.is_inference(n)",
        (torch.is_inference(view), torch.is_inference(n)),
        (False, False),
    )
    with torch.no_grad():
        normal = {code: make() for code, make in _factories(obs.device).items()}
        normal["n * 2"] = n * 2
        normal["net(n)"] = net(n)
    for code, t in normal.items():
        obs.expect(
            f"with torch.no_grad(): t = {code}; torch.is_inference(t), t._version",
            (torch.is_inference(t), t._version),
            (False, 0),
        )


@claim(
    "im.normal-bookkeeping",
    "Inside `torch.inference_mode()`, normal tensors keep their bookkeeping: an in-place "
    "operation on a normal tensor `n` (`n.add_(1)`) increments `n._version`, and a view "
    "`v = n[:2]` is tracked as a view of `n` (`v._base is n`) and shares its version counter.",
)
@deterministic
def _im_normal_bookkeeping(obs: Observer) -> None:
    n = torch.randn(4, device=obs.device)
    with torch.inference_mode():
        version = n._version
        n.add_(1)
        obs.expect(
            "with torch.inference_mode(): n.add_(1); n._version - version before",
            n._version - version,
            1,
        )
        view = n[:2]
        obs.expect(
            "v = n[:2]; v._is_view(), v._base is n",
            (view._is_view(), view._base is n),
            (True, True),
        )
        n.mul_(2)
        obs.expect(
            "n.mul_(2); v._version, n._version", (view._version, n._version), (version + 2,) * 2
        )


@claim(
    "im.no-autograd-later",
    "Outside the mode, an inference tensor `a` cannot be saved for backward: `a * w` with "
    "`w.requires_grad` raises `RuntimeError` (`Inference tensors cannot be saved for "
    "backward`), `a + w` works because addition saves no input, and `a.clone()` made outside "
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
    "`RuntimeError` (`Inplace update to inference tensor outside InferenceMode is not "
    "allowed`), e.g. `total /= n` on a loss sum accumulated inside the mode, while the "
    "out-of-place `total / n` works and `total.clone()`, made outside the mode, can be changed "
    "in place.",
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
    copy = total.clone()
    copy /= 3
    obs.expect("c = total.clone(); c /= 3; torch.is_inference(c)", torch.is_inference(copy), False)
    obs.expect("torch.equal(c, total / 3)", torch.equal(copy, mean), True)


@claim(
    "im.no-eval",
    "`torch.inference_mode()` does not put the model in eval mode: in train mode under it, "
    "every dropout layer class of `torch.nn` (`AlphaDropout`, `Dropout`, `Dropout1d`, "
    "`Dropout2d`, `Dropout3d`, `FeatureAlphaDropout`) still changes its input at random, "
    "`nn.Dropout` by zeroing elements, and `BatchNorm1d`, `BatchNorm2d` and `BatchNorm3d` "
    "still update their running statistics, which stay normal tensors.",
)
@deterministic
def _im_no_eval(obs: Observer) -> None:
    expect_train_mode_kept(obs, "torch.inference_mode()", torch.inference_mode)
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
    "(`a.requires_grad_()` or `a.requires_grad = True`) raises `RuntimeError` (`Setting "
    "requires_grad=True on inference tensor outside InferenceMode is not allowed`), while "
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


@claim(
    "im.decorator",
    "`@torch.inference_mode()` on a plain function (a `def` that is neither a generator nor "
    "`async`) runs each call in inference mode: the function's results are inference tensors "
    "without a `grad_fn`, and inference mode is off again after the call.",
)
@deterministic
def _im_decorator(obs: Observer) -> None:
    w = torch.randn(2, device=obs.device, requires_grad=True)

    @torch.inference_mode()  # decorated here, when the check runs: a patched torch is seen
    def f(x: torch.Tensor) -> tuple[bool, torch.Tensor]:
        return torch.is_inference_mode_enabled(), x * 2

    enabled, y = f(w)
    code = "@torch.inference_mode() def f(w): return torch.is_inference_mode_enabled(), w * 2"
    obs.expect(f"{code}; f(w)[0]", enabled, True)
    obs.expect(
        "torch.is_inference(f(w)[1]), f(w)[1].grad_fn is None",
        (torch.is_inference(y), y.grad_fn is None),
        (True, True),
    )
    obs.expect("f(w); torch.is_inference_mode_enabled()", torch.is_inference_mode_enabled(), False)


def _saves(run: Callable[[], object], tensor: torch.Tensor) -> bool:
    """Whether ``run()`` saves, for backward, a tensor that shares ``tensor``'s memory."""
    saved: list[torch.Tensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return any(t.data_ptr() == tensor.data_ptr() and t.shape == tensor.shape for t in saved)


@claim(
    "im.teacher",
    "`F.mse_loss(student(x), target)` saves `target` for backward, so with a `target` "
    "computed under `torch.inference_mode()` it raises `RuntimeError` (`Inference tensors "
    "cannot be saved for backward`), while with a `target` computed under `torch.no_grad()` "
    "its `backward()` gives the student's weight a `.grad` and the teacher's none.",
)
@deterministic
def _im_teacher(obs: Observer) -> None:
    teacher = nn.Linear(10, 3).to(obs.device)
    student = nn.Linear(10, 3).to(obs.device)
    x = torch.randn(16, 10, device=obs.device)
    with torch.no_grad():
        target = teacher(x)
    obs.expect(
        "F.mse_loss(student(x), target) saves target",
        _saves(lambda: F.mse_loss(student(x), target), target),
        True,
    )
    with torch.inference_mode():
        inference_target = teacher(x)
    with obs.expect_raises(
        "with torch.inference_mode(): target = teacher(x); F.mse_loss(student(x), target)",
        RuntimeError,
        "Inference tensors cannot be saved for backward",
    ):
        F.mse_loss(student(x), inference_target)
    F.mse_loss(student(x), target).backward()
    obs.expect(
        "with torch.no_grad(): target = teacher(x); F.mse_loss(student(x), target).backward(); "
        "student.weight.grad is not None, teacher.weight.grad is None",
        (student.weight.grad is not None, teacher.weight.grad is None),
        (True, True),
    )


@claim(
    "im.cached-features",
    "A trainable `nn.Linear` saves its input for its weight's gradient, so on features "
    "computed under `torch.inference_mode()` it raises `RuntimeError` (`Inference tensors "
    "cannot be saved for backward`), while on features computed under `torch.no_grad()` its "
    "`backward()` gives its weight a `.grad`.",
)
@deterministic
def _im_cached_features(obs: Observer) -> None:
    backbone = mlp(10).to(obs.device)
    head = nn.Linear(10, 2).to(obs.device)
    x = torch.randn(16, 10, device=obs.device)
    with torch.no_grad():
        features = backbone(x)
    obs.expect("head(features) saves features", _saves(lambda: head(features), features), True)
    with torch.inference_mode():
        inference_features = backbone(x)
    with obs.expect_raises(
        "with torch.inference_mode(): features = backbone(x); head(features)",
        RuntimeError,
        "Inference tensors cannot be saved for backward",
    ):
        head(inference_features)
    head(features).sum().backward()
    obs.expect(
        "with torch.no_grad(): features = backbone(x); head(features).sum().backward(); "
        "head.weight.grad is not None",
        head.weight.grad is not None,
        True,
    )
