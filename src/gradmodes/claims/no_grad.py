"""Claims about ``torch.no_grad()``, ``set_grad_enabled`` and ``enable_grad`` (section C)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

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
    obs.expect("with torch.no_grad(): (w * 2).requires_grad", y.requires_grad, False)
    obs.expect("with torch.no_grad(): (w * 2).grad_fn is None", y.grad_fn is None, True)
    seen = observe(mlp(8).to(obs.device), torch.randn(2, 8, device=obs.device), grad_mode="no_grad")
    obs.expect(
        "seen = observe(mlp(8), x, grad_mode='no_grad'); seen.output_requires_grad",
        seen.output_requires_grad,
        False,
    )
    obs.expect("seen.has_grad_fn", seen.has_grad_fn, False)


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

    obs.expect("{p.requires_grad for p in net.parameters()}", flags(), {True})
    with torch.no_grad():
        obs.expect(
            "with torch.no_grad(): {p.requires_grad for p in net.parameters()}", flags(), {True}
        )
        obs.expect("with torch.no_grad(): net(x).grad_fn is None", net(x).grad_fn is None, True)
    obs.expect("{p.requires_grad for p in net.parameters()}", flags(), {True})
    obs.expect("net(x).grad_fn is None", net(x).grad_fn is None, False)


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
    obs.expect("mlp_saved_bytes(32, 64)['all']", expected, 40960)
    obs.expect("net = mlp(64); observe(net, x).saved_bytes", observe(net, x).saved_bytes, expected)
    obs.expect(
        "observe(net, x, grad_mode='no_grad').saved_bytes",
        observe(net, x, grad_mode="no_grad").saved_bytes,
        0,
    )


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
    obs.expect(
        "seen = observe(model.train(), x, grad_mode='no_grad'); seen.dropout_active",
        seen.dropout_active,
        True,
    )
    obs.expect("seen.bn_stats_updated", seen.bn_stats_updated, True)
    obs.expect("model.training", model.training, True)


@claim(
    "ng.factory",
    "Inside `torch.no_grad()`, `torch.randn(..., requires_grad=True)` and `nn.Parameter(...)` "
    "still create tensors with `requires_grad=True` (so a layer built inside the block is "
    "trainable), while results of operations on them do not require grad.",
)
@deterministic
def _ng_factory(obs: Observer) -> None:
    with torch.no_grad():
        t = torch.randn(2, device=obs.device, requires_grad=True)
        p = nn.Parameter(torch.zeros(2, device=obs.device))
        layer = nn.Linear(2, 2).to(obs.device)
        y = t * p
    obs.expect(
        "with torch.no_grad(): torch.randn(2, requires_grad=True).requires_grad",
        t.requires_grad,
        True,
    )
    obs.expect(
        "with torch.no_grad(): nn.Parameter(torch.zeros(2)).requires_grad", p.requires_grad, True
    )
    obs.expect(
        "with torch.no_grad(): {p.requires_grad for p in nn.Linear(2, 2).parameters()}",
        {q.requires_grad for q in layer.parameters()},
        {True},
    )
    obs.expect("with torch.no_grad(): (t * p).requires_grad", y.requires_grad, False)


@claim(
    "ng.backward-error",
    "`backward()` on a result computed under `torch.no_grad()` raises `RuntimeError` "
    "('element 0 of tensors does not require grad and does not have a grad_fn').",
)
@deterministic
def _ng_backward_error(obs: Observer) -> None:
    net = mlp(8).to(obs.device)
    x = torch.randn(2, 8, device=obs.device)
    with torch.no_grad():
        loss = net(x).sum()
    with obs.expect_raises(
        "loss.backward()", RuntimeError, "element 0 of tensors does not require grad"
    ):
        loss.backward()


@claim(
    "ng.inplace-leaf",
    "An in-place update of a leaf tensor that requires grad, such as `p.add_(1)` on a "
    "parameter, raises `RuntimeError` ('a leaf Variable that requires grad is being used in an "
    "in-place operation') outside `torch.no_grad()` and succeeds inside it.",
)
@deterministic
def _ng_inplace_leaf(obs: Observer) -> None:
    p = nn.Parameter(torch.zeros(2, device=obs.device))
    with obs.expect_raises(
        "p.add_(1)", RuntimeError, "a leaf Variable that requires grad is being used in an in-place"
    ):
        p.add_(1)
    with torch.no_grad():
        p.add_(1)
    obs.expect("with torch.no_grad(): p.add_(1); p.tolist()", p.tolist(), [1.0, 1.0])
    obs.expect("p.requires_grad", p.requires_grad, True)


@torch.no_grad()
def _called_decorator(x: torch.Tensor) -> tuple[bool, torch.Tensor]:
    return torch.is_grad_enabled(), x * 2


def _bare_decorator(x: torch.Tensor) -> tuple[bool, torch.Tensor]:
    # Decorated when called, not on import: before torch 2.1 the bare form is a TypeError.
    @torch.no_grad
    def bare(x: torch.Tensor) -> tuple[bool, torch.Tensor]:
        return torch.is_grad_enabled(), x * 2

    return bare(x)


@claim(
    "ng.decorator",
    "`@torch.no_grad()` works as a function decorator, and so does the bare `@torch.no_grad`: "
    "inside the decorated function tracking is off, its results do not require grad, and "
    "tracking is on again after the call.",
    torch_versions=">=2.1",  # the bare form: torch.no_grad accepts a function since 2.1
)
@deterministic
def _ng_decorator(obs: Observer) -> None:
    w = torch.randn(2, device=obs.device, requires_grad=True)
    for name, function in (
        ("@torch.no_grad()", _called_decorator),
        ("@torch.no_grad", _bare_decorator),
    ):
        enabled, y = function(w)
        code = f"{name} def f(w): return torch.is_grad_enabled(), w * 2"
        obs.expect(f"{code}; f(w)[0]", enabled, False)
        obs.expect("f(w)[1].requires_grad", y.requires_grad, False)
        obs.expect("f(w); torch.is_grad_enabled()", torch.is_grad_enabled(), True)


@claim(
    "ng.set-grad-enabled",
    "`with torch.set_grad_enabled(phase == 'train'):` turns tracking on for the training phase "
    "and off for the validation phase of one shared loop, and a bare call "
    "`torch.set_grad_enabled(False)` (unlike a bare `torch.no_grad()`) switches tracking off "
    "until it is switched back.",
)
@deterministic
def _ng_set_grad_enabled(obs: Observer) -> None:
    net = mlp(8).to(obs.device)
    x = torch.randn(2, 8, device=obs.device)
    for phase in ("train", "val"):
        with torch.set_grad_enabled(phase == "train"):
            y = net(x)
        obs.expect(
            f"phase = {phase!r}; with torch.set_grad_enabled(phase == 'train'): "
            "net(x).grad_fn is not None",
            y.grad_fn is not None,
            phase == "train",
        )
    was_enabled = torch.is_grad_enabled()
    try:
        torch.no_grad()
        obs.expect("torch.no_grad(); torch.is_grad_enabled()", torch.is_grad_enabled(), True)
        torch.set_grad_enabled(False)
        obs.expect(
            "torch.set_grad_enabled(False); torch.is_grad_enabled()",
            torch.is_grad_enabled(),
            False,
        )
        obs.expect("net(x).grad_fn is None", net(x).grad_fn is None, True)
        torch.set_grad_enabled(True)
        obs.expect(
            "torch.set_grad_enabled(True); torch.is_grad_enabled()",
            torch.is_grad_enabled(),
            True,
        )
    finally:
        torch.set_grad_enabled(was_enabled)


@claim(
    "ng.enable-grad",
    "`torch.enable_grad()` re-enables tracking inside a `torch.no_grad()` block: results "
    "computed in it have a `grad_fn`, and tracking is off again after it.",
)
@deterministic
def _ng_enable_grad(obs: Observer) -> None:
    w = torch.randn(2, device=obs.device, requires_grad=True)
    with torch.no_grad():
        with torch.enable_grad():
            inner = w * 2
        after = w * 2
    obs.expect(
        "with torch.no_grad(): with torch.enable_grad(): (w * 2).grad_fn is not None",
        inner.grad_fn is not None,
        True,
    )
    obs.expect(
        "with torch.no_grad(): [with torch.enable_grad(): ...]; (w * 2).grad_fn is None",
        after.grad_fn is None,
        True,
    )


@claim(
    "ng.thread-local",
    "The grad mode is thread-local: a thread started inside `torch.no_grad()` or "
    "`torch.inference_mode()` runs with gradient tracking enabled, so its results have a "
    "`grad_fn`, and switching tracking off in that thread leaves the starting thread's mode "
    "unchanged.",
)
@deterministic
def _ng_thread_local(obs: Observer) -> None:
    w = torch.randn(2, device=obs.device, requires_grad=True)
    seen: dict[str, tuple[bool, bool]] = {}

    def in_new_thread(name: str) -> None:
        seen[name] = (torch.is_grad_enabled(), (w * 2).grad_fn is not None)

    for name, context in (("no_grad", torch.no_grad), ("inference_mode", torch.inference_mode)):
        with context():
            thread = threading.Thread(target=in_new_thread, args=(name,))
            thread.start()
            thread.join()
        obs.expect(
            f"thread started in {name}: torch.is_grad_enabled(), (w * 2).grad_fn is not None",
            seen.get(name),
            (True, True),
        )
    in_thread: list[bool] = []

    def switch_off() -> None:
        torch.set_grad_enabled(False)
        in_thread.append(torch.is_grad_enabled())

    thread = threading.Thread(target=switch_off)
    thread.start()
    thread.join()
    obs.expect("other thread: set_grad_enabled(False); torch.is_grad_enabled()", in_thread, [False])
    obs.expect("starting thread: torch.is_grad_enabled()", torch.is_grad_enabled(), True)


class _InPlaceGradModes(TorchFunctionMode):
    """Record ``torch.is_grad_enabled()`` at every in-place call (name ending in ``_``)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[bool] = []

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Collection[type],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        name = getattr(func, "__name__", "")
        if name.endswith("_") and not name.startswith("__"):
            self.seen.append(torch.is_grad_enabled())
        return func(*args, **(kwargs or {}))


@claim(
    "ng.optimizer-init",
    "`optimizer.step()` and `nn.init` functions such as `nn.init.zeros_(p)` update a parameter "
    "in place without a `torch.no_grad()` block around them, where `p.zero_()` raises "
    "(`step()` runs its in-place updates with gradient tracking off), and the parameter stays "
    "a leaf that requires grad.",
)
@deterministic
def _ng_optimizer_init(obs: Observer) -> None:
    p = nn.Parameter(torch.randn(3, device=obs.device))
    with obs.expect_raises("p.zero_()", RuntimeError, "a leaf Variable that requires grad"):
        p.zero_()
    nn.init.zeros_(p)
    obs.expect("nn.init.zeros_(p); p.tolist()", p.tolist(), [0.0, 0.0, 0.0])
    optimizer = torch.optim.SGD([p], lr=0.5, momentum=0.9)
    (p - 1).square().sum().backward()
    with _InPlaceGradModes() as modes:
        optimizer.step()
    obs.expect("optimizer.step(); p.tolist()", p.tolist(), [1.0, 1.0, 1.0])
    obs.expect("step(): in-place calls seen", len(modes.seen) > 0, True)
    obs.expect("step(): torch.is_grad_enabled() at each in-place call", set(modes.seen), {False})
    obs.expect("p.is_leaf, p.requires_grad", (p.is_leaf, p.requires_grad), (True, True))
