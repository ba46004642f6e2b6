"""Claims about ``torch.no_grad()``, ``set_grad_enabled`` and ``enable_grad`` (section C)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Iterator
from typing import Any, TypeVar

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from gradmodes.claims._common import (
    deterministic,
    expect_train_mode_kept,
    mlp_saved_bytes,
    new_tensor_ops,
)
from gradmodes.claims._registry import Observer, claim
from gradmodes.models import SimpleModel, mlp
from gradmodes.probes import BN_STATS, count_saved, observe

__all__: list[str] = []

_T = TypeVar("_T")


def _error(action: Callable[[], object]) -> str | None:
    """The first line of the ``RuntimeError`` that ``action()`` raises; ``None`` if none."""
    try:
        action()
    except RuntimeError as exc:
        return str(exc).splitlines()[0]
    return None


@claim(
    "ng.outputs",
    "Inside `torch.no_grad()`, `w * 2`, `w + 1`, `w.exp()`, `w @ w`, `w.sum()`, `w.clone()`, "
    "`w.double()` and `torch.cat([w, w])` on a float32 `w` and a forward of "
    "`Linear`-`ReLU`-`Linear` give results with `requires_grad=False` and `grad_fn` `None`, "
    "although `w` and the layers' parameters require grad.",
)
@deterministic
def _ng_outputs(obs: Observer) -> None:
    w = torch.randn(4, device=obs.device, requires_grad=True)
    obs.expect("w.requires_grad", w.requires_grad, True)
    with torch.no_grad():
        results = {code: op() for code, op in new_tensor_ops(w).items()}
    for code, y in results.items():
        obs.expect(
            f"with torch.no_grad(): y = {code}; y.requires_grad, y.grad_fn is None",
            (y.requires_grad, y.grad_fn is None),
            (False, True),
        )
    seen = observe(mlp(8).to(obs.device), torch.randn(2, 8, device=obs.device), grad_mode="no_grad")
    obs.expect(
        "seen = observe(mlp(8), x, grad_mode='no_grad'); seen.output_requires_grad",
        seen.output_requires_grad,
        False,
    )
    obs.expect("seen.has_grad_fn", seen.has_grad_fn, False)


def _returns_self(t: torch.Tensor) -> dict[str, torch.Tensor]:
    """The operations that give back ``t`` itself (``t``: float32, contiguous)."""
    return {
        "t.float()": t.float(),
        "t.contiguous()": t.contiguous(),
        "t.to(t.dtype)": t.to(t.dtype),
        "t.to(t.device)": t.to(t.device),
    }


@claim(
    "ng.returns-self",
    "Inside `torch.no_grad()` and `torch.inference_mode()`, `t.float()` on a float32 `t`, "
    "`t.contiguous()` on a contiguous `t`, `t.to(t.dtype)` and `t.to(t.device)` return `t` "
    "itself, which still requires grad when `t` does and keeps its `grad_fn` when it has one.",
)
@deterministic
def _ng_returns_self(obs: Observer) -> None:
    w = torch.randn(4, device=obs.device, requires_grad=True)
    h = w * 2  # computed with tracking on: it has a grad_fn
    for mode, context in (("no_grad", torch.no_grad), ("inference_mode", torch.inference_mode)):
        for name, t in (("w (a leaf)", w), ("h = w * 2", h)):
            with context():
                results = _returns_self(t)
            for code, y in results.items():
                obs.expect(
                    f"t = {name}; with torch.{mode}(): y = {code}; "
                    "y is t, y.requires_grad, y.grad_fn is t.grad_fn",
                    (y is t, y.requires_grad, y.grad_fn is t.grad_fn),
                    (True, True, True),
                )
    obs.expect("h.grad_fn is not None", h.grad_fn is not None, True)


def _views(w: torch.Tensor) -> dict[str, Callable[[], torch.Tensor]]:
    """Views of ``w`` (a 1-D tensor of 4)."""
    return {
        "w[:2]": lambda: w[:2],
        "w[0]": lambda: w[0],
        "w.view(2, 2)": lambda: w.view(2, 2),
        "w.reshape(2, 2)": lambda: w.reshape(2, 2),
        "w.unsqueeze(0)": lambda: w.unsqueeze(0),
        "w.expand(2, 4)": lambda: w.expand(2, 4),
        "w.narrow(0, 0, 2)": lambda: w.narrow(0, 0, 2),
        "w.unbind()[0]": lambda: w.unbind()[0],
    }


@claim(
    "ng.views",
    "Inside `torch.no_grad()` and `torch.inference_mode()`, the views `w[:2]`, `w[0]`, "
    "`w.view(2, 2)`, `w.reshape(2, 2)`, `w.unsqueeze(0)`, `w.expand(2, 4)`, "
    "`w.narrow(0, 0, 2)` and `w.unbind()[0]` of a tensor `w` that requires grad have "
    "`requires_grad=True` and `grad_fn` `None` (while `w.detach()`, which shares `w`'s "
    "storage too, does not require grad), and an in-place change to such a view after the "
    "block, with tracking on, raises `RuntimeError` (`A view was created in no_grad mode` or "
    "`in inference mode`).",
)
@deterministic
def _ng_views(obs: Observer) -> None:
    w = torch.randn(4, device=obs.device, requires_grad=True)
    for mode, context, message in (
        ("no_grad", torch.no_grad, "A view was created in no_grad mode"),
        ("inference_mode", torch.inference_mode, "A view was created in inference mode"),
    ):
        with context():
            views = {code: view() for code, view in _views(w).items()}
            detached = w.detach()
        for code, v in views.items():
            obs.expect(
                f"with torch.{mode}(): v = {code}; v._is_view(), v.requires_grad, "
                "v.grad_fn is None",
                (v._is_view(), v.requires_grad, v.grad_fn is None),
                (True, True, True),
            )
        obs.expect(
            f"with torch.{mode}(): d = w.detach(); d.requires_grad, d.data_ptr() == w.data_ptr()",
            (detached.requires_grad, detached.data_ptr() == w.data_ptr()),
            (False, True),
        )
        obs.expect("after the block: torch.is_grad_enabled()", torch.is_grad_enabled(), True)
        for code, v in views.items():
            with obs.expect_raises(
                f"[with torch.{mode}(): v = {code}]; v.mul_(2)", RuntimeError, message
            ):
                v.mul_(2)


@claim(
    "ng.flags-unchanged",
    "`torch.no_grad()` does not change any parameter's `requires_grad`: before, inside and "
    "after the block it is `True` for a trainable parameter and `False` for a frozen one, "
    "and results computed after the block have a `grad_fn` again.",
)
@deterministic
def _ng_flags_unchanged(obs: Observer) -> None:
    net = mlp(8).to(obs.device)
    net[0].bias.requires_grad_(False)  # one frozen parameter among trainable ones
    x = torch.randn(2, 8, device=obs.device)
    expected = [True, False, True, True]

    def flags() -> list[bool]:
        return [p.requires_grad for p in net.parameters()]

    obs.expect("net[0].bias frozen; [p.requires_grad for p in net.parameters()]", flags(), expected)
    with torch.no_grad():
        obs.expect(
            "with torch.no_grad(): [p.requires_grad for p in net.parameters()]", flags(), expected
        )
        obs.expect("with torch.no_grad(): net(x).grad_fn is None", net(x).grad_fn is None, True)
    obs.expect("[p.requires_grad for p in net.parameters()]", flags(), expected)
    obs.expect("net(x).grad_fn is None", net(x).grad_fn is None, False)


@claim(
    "ng.memory",
    "With gradients enabled, a forward of `Linear(64, 64)`-`ReLU`-`Linear(64, 64)` on a "
    "float32 batch of 32 saves 4 tensors for backward that reference 40960 bytes "
    "(`count_saved().bytes`: every saved reference counted, without de-duplication) and "
    "use 8192 bytes of distinct storage besides the parameters and the input (its "
    "`storage_bytes`, those excluded): the `ReLU`'s output, which the `ReLU` and the second "
    "`Linear` both save; under `torch.no_grad()` the same forward saves no tensor.",
)
@deterministic
def _ng_memory(obs: Observer) -> None:
    net = mlp(64).to(obs.device)
    x = torch.randn(32, 64, device=obs.device)
    obs.expect("mlp_saved_bytes(32, 64)['all']", mlp_saved_bytes(32, 64)["all"], 40960)
    relu_outputs: list[torch.Tensor] = []
    net[1].register_forward_hook(lambda module, args, output: relu_outputs.append(output))
    figures: dict[str, tuple[int, int, int]] = {}
    for mode, context in (("grad", torch.enable_grad), ("no_grad", torch.no_grad)):
        with count_saved(exclude=[x, *net.parameters()]) as saved, context():
            net(x)
        figures[mode] = (saved.count, saved.bytes, saved.storage_bytes)
    obs.expect(
        "with count_saved(exclude=[x, *net.parameters()]) as saved: net(x); "
        "saved.count, saved.bytes, saved.storage_bytes",
        figures["grad"],
        (4, 40960, 8192),
    )
    packed: list[torch.Tensor] = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        packed.append(tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        net(x)
    given = {t.untyped_storage().data_ptr() for t in (x, *net.parameters())}
    others = {t.untyped_storage().data_ptr() for t in packed} - given
    obs.expect(
        "storages of the saved tensors besides the parameters' and x's == {the ReLU's output's}",
        others == {relu_outputs[-1].untyped_storage().data_ptr()},
        True,
    )
    obs.expect(
        "with count_saved(...) as saved, torch.no_grad(): net(x); "
        "saved.count, saved.bytes, saved.storage_bytes",
        figures["no_grad"],
        (0, 0, 0),
    )


@claim(
    "ng.no-mode-change",
    "`torch.no_grad()` does not switch Dropout or BatchNorm: in train mode under `no_grad`, "
    "every dropout layer class of `torch.nn` (`AlphaDropout`, `Dropout`, `Dropout1d`, "
    "`Dropout2d`, `Dropout3d`, `FeatureAlphaDropout`) still changes its input at random, "
    "`nn.Dropout` by zeroing elements, and `BatchNorm1d`, `BatchNorm2d` and `BatchNorm3d` "
    "still update their running statistics, so a validation pass under `no_grad` without "
    "`model.eval()` changes the BatchNorm statistics.",
)
@deterministic
def _ng_no_mode_change(obs: Observer) -> None:
    expect_train_mode_kept(obs, "torch.no_grad()", torch.no_grad)
    model = SimpleModel().to(obs.device).train()
    bn = model.bn
    before = {name: getattr(bn, name).clone() for name in BN_STATS}
    seen = observe(model, torch.randn(16, 10, device=obs.device), grad_mode="no_grad")
    obs.expect(
        "seen = observe(model.train(), x, grad_mode='no_grad'); seen.dropout_active",
        seen.dropout_active,
        True,
    )
    obs.expect(
        "model.bn: running_mean, running_var, num_batches_tracked changed",
        [not torch.equal(before[name], getattr(bn, name)) for name in BN_STATS],
        [True, True, True],
    )
    obs.expect("model.training", model.training, True)


@claim(
    "ng.factory",
    "Inside `torch.no_grad()`, `torch.randn(..., requires_grad=True)` and `nn.Parameter(...)` "
    "still create tensors with `requires_grad=True`, so the parameters of an `nn.Linear` built "
    "inside the block require grad and get a `.grad` from a backward after the block, while "
    "results of operations on them inside the block do not require grad.",
)
@deterministic
def _ng_factory(obs: Observer) -> None:
    with torch.no_grad():
        t = torch.randn(2, device=obs.device, requires_grad=True)
        p = nn.Parameter(torch.zeros(2, device=obs.device))
        layer = nn.Linear(2, 2).to(obs.device)
        y = t * p
        out = layer(t)
    obs.expect(
        "with torch.no_grad(): torch.randn(2, requires_grad=True).requires_grad",
        t.requires_grad,
        True,
    )
    obs.expect(
        "with torch.no_grad(): nn.Parameter(torch.zeros(2)).requires_grad", p.requires_grad, True
    )
    obs.expect(
        "with torch.no_grad(): layer = nn.Linear(2, 2); "
        "{p.requires_grad for p in layer.parameters()}",
        {q.requires_grad for q in layer.parameters()},
        {True},
    )
    obs.expect("with torch.no_grad(): (t * p).requires_grad", y.requires_grad, False)
    obs.expect("with torch.no_grad(): layer(t).requires_grad", out.requires_grad, False)
    layer(torch.ones(3, 2, device=obs.device)).sum().backward()
    obs.expect(
        "layer(x).sum().backward(); [p.grad is not None for p in layer.parameters()]",
        [q.grad is not None for q in layer.parameters()],
        [True, True],
    )


@claim(
    "ng.backward-error",
    "`backward()` on the loss of a forward run under `torch.no_grad()` or "
    "`torch.inference_mode()` (`net(x).sum()` for a `Linear`-`ReLU`-`Linear` `net`) raises "
    "`RuntimeError` (`element 0 of tensors does not require grad and does not have a "
    "grad_fn`).",
)
@deterministic
def _ng_backward_error(obs: Observer) -> None:
    net = mlp(8).to(obs.device)
    x = torch.randn(2, 8, device=obs.device)
    for mode, context in (("no_grad", torch.no_grad), ("inference_mode", torch.inference_mode)):
        with context():
            loss = net(x).sum()
        with obs.expect_raises(
            f"with torch.{mode}(): loss = net(x).sum(); loss.backward()",
            RuntimeError,
            "element 0 of tensors does not require grad and does not have a grad_fn",
        ):
            loss.backward()


@claim(
    "ng.inplace-leaf",
    "An in-place update of a leaf tensor that requires grad, such as `p.add_(1)` on a "
    "parameter, raises `RuntimeError` (`a leaf Variable that requires grad is being used in an "
    "in-place operation`) with gradient tracking on, outside `torch.no_grad()`, and succeeds "
    "inside it.",
)
@deterministic
def _ng_inplace_leaf(obs: Observer) -> None:
    p = nn.Parameter(torch.zeros(2, device=obs.device))
    obs.expect("torch.is_grad_enabled()", torch.is_grad_enabled(), True)
    with obs.expect_raises(
        "p.add_(1)", RuntimeError, "a leaf Variable that requires grad is being used in an in-place"
    ):
        p.add_(1)
    with torch.no_grad():
        p.add_(1)
    obs.expect("with torch.no_grad(): p.add_(1); p.tolist()", p.tolist(), [1.0, 1.0])
    obs.expect("p.requires_grad", p.requires_grad, True)


def _grad_state() -> tuple[bool, bool]:
    """``(torch.is_grad_enabled(), torch.is_inference_mode_enabled())``."""
    return torch.is_grad_enabled(), torch.is_inference_mode_enabled()


@claim(
    "ng.decorator",
    "`@torch.no_grad()` on a plain function (a `def` that is neither a generator nor `async`) "
    "switches tracking off for each call: inside the call `torch.is_grad_enabled()` is "
    "`False` and the function's results do not require grad, and tracking is on again after "
    "the call.",
)
@deterministic
def _ng_decorator(obs: Observer) -> None:
    w = torch.randn(2, device=obs.device, requires_grad=True)

    @torch.no_grad()  # decorated here, when the check runs: a patched torch is seen
    def f(x: torch.Tensor) -> tuple[bool, torch.Tensor]:
        return torch.is_grad_enabled(), x * 2

    enabled, y = f(w)
    code = "@torch.no_grad() def f(w): return torch.is_grad_enabled(), w * 2"
    obs.expect(f"{code}; f(w)[0]", enabled, False)
    obs.expect("f(w)[1].requires_grad", y.requires_grad, False)
    obs.expect("f(w); torch.is_grad_enabled()", torch.is_grad_enabled(), True)


@claim(
    "ng.decorator-bare",
    "From torch 2.1 on, the bare decorators `@torch.no_grad` and `@torch.inference_mode` "
    "(without parentheses) work like `@torch.no_grad()` and `@torch.inference_mode()`: the "
    "decorated function runs with tracking off (and in inference mode, for "
    "`inference_mode`), its results do not require grad, and the mode is off again after "
    "the call.",
    torch_versions=">=2.1",  # both accept a function since torch 2.1 (pytorch/pytorch#107086)
)
@deterministic
def _ng_decorator_bare(obs: Observer) -> None:
    w = torch.randn(2, device=obs.device, requires_grad=True)

    # Decorated when the check runs, not on import: before torch 2.1 this is a TypeError.
    @torch.no_grad
    def bare_no_grad(x: torch.Tensor) -> tuple[tuple[bool, bool], torch.Tensor]:
        return _grad_state(), x * 2

    @torch.inference_mode
    def bare_inference(x: torch.Tensor) -> tuple[tuple[bool, bool], torch.Tensor]:
        return _grad_state(), x * 2

    for name, function, inside in (
        ("@torch.no_grad", bare_no_grad, (False, False)),
        ("@torch.inference_mode", bare_inference, (False, True)),
    ):
        state, y = function(w)
        code = f"{name} def f(w): return (torch.is_grad_enabled(), "
        code += "torch.is_inference_mode_enabled()), w * 2"
        obs.expect(f"{code}; f(w)[0]", state, inside)
        obs.expect("f(w)[1].requires_grad", y.requires_grad, False)
        obs.expect("after the call: the two modes", _grad_state(), (True, False))


def _run_async(main: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run ``main()`` on a new event loop of this thread, like ``asyncio.run``."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


@claim(
    "ng.decorator-async",
    "On an `async def` function, `@torch.no_grad()` and `@torch.inference_mode()` only wrap "
    "the call that creates the coroutine (or the async generator): its body runs when it is "
    "awaited (or iterated), in the awaiting "
    "code's mode (tracking on, inference mode off, in a plain event loop), so the results "
    "it computes from a tensor that requires grad have a `grad_fn`; a `with "
    "torch.no_grad():` block inside the body does switch tracking off for that block.",
)
@deterministic
def _ng_decorator_async(obs: Observer) -> None:
    w = torch.randn(2, device=obs.device, requires_grad=True)

    @torch.no_grad()
    async def no_grad_body() -> tuple[tuple[bool, bool], bool]:
        return _grad_state(), (w * 2).grad_fn is not None

    @torch.inference_mode()
    async def inference_body() -> tuple[tuple[bool, bool], bool]:
        return _grad_state(), (w * 2).grad_fn is not None

    async def block_in_body() -> tuple[tuple[bool, bool], bool]:
        with torch.no_grad():
            return _grad_state(), (w * 2).grad_fn is not None

    for name, coroutine_function in (
        ("@torch.no_grad() async def f()", no_grad_body),
        ("@torch.inference_mode() async def f()", inference_body),
    ):
        state, recorded = _run_async(coroutine_function)
        obs.expect(
            f"{name}: in the body when awaited: is_grad_enabled(), is_inference_mode_enabled()",
            state,
            (True, False),
        )
        obs.expect(f"{name}: (w * 2).grad_fn is not None", recorded, True)

    @torch.no_grad()
    async def async_generator() -> AsyncIterator[tuple[tuple[bool, bool], bool]]:
        yield _grad_state(), (w * 2).grad_fn is not None

    async def iterate() -> list[tuple[tuple[bool, bool], bool]]:
        return [item async for item in async_generator()]

    obs.expect(
        "@torch.no_grad() async def gen(): yield ...; in the body, per item: "
        "(is_grad_enabled(), is_inference_mode_enabled()), (w * 2).grad_fn is not None",
        _run_async(iterate),
        [((True, False), True)],
    )
    state, recorded = _run_async(block_in_body)
    obs.expect(
        "async def f(): with torch.no_grad(): is_grad_enabled(), (w * 2).grad_fn is not None",
        (state[0], recorded),
        (False, False),
    )


@claim(
    "ng.await-leak",
    "A `with torch.no_grad():` or `with torch.inference_mode():` block held across an `await` "
    "keeps its mode on for the whole thread while the coroutine waits: another task of the "
    "same event loop that runs meanwhile has tracking off (and, under `inference_mode`, "
    "inference mode on), and its results do not require grad, until the block exits.",
)
@deterministic
def _ng_await_leak(obs: Observer) -> None:
    w = torch.randn(2, device=obs.device, requires_grad=True)

    async def main(context: Callable[[], Any]) -> dict[str, tuple[bool, bool, bool]]:
        seen: dict[str, tuple[bool, bool, bool]] = {}
        entered, waited, exited = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            with context():
                entered.set()
                await waited.wait()  # another task runs while this one waits in the block
            exited.set()

        async def other() -> None:
            await entered.wait()
            seen["while the block waits"] = (*_grad_state(), (w * 2).requires_grad)
            waited.set()
            await exited.wait()
            seen["after the block exits"] = (*_grad_state(), (w * 2).requires_grad)

        await asyncio.gather(holder(), other())
        return seen

    for name, context, inference in (
        ("no_grad", torch.no_grad, False),
        ("inference_mode", torch.inference_mode, True),
    ):
        seen = _run_async(lambda context=context: main(context))
        what = "is_grad_enabled(), is_inference_mode_enabled(), (w * 2).requires_grad"
        obs.expect(
            f"task A: with torch.{name}(): await ...; meanwhile task B: {what}",
            seen.get("while the block waits"),
            (False, inference, False),
        )
        obs.expect(
            f"task B, after task A's block exits: {what}",
            seen.get("after the block exits"),
            (True, False, True),
        )


@claim(
    "ng.decorator-generator",
    "On a generator function, `@torch.no_grad()` and `@torch.inference_mode()` apply only "
    "while the generator's own code runs: its body runs with tracking off (and in inference "
    "mode, for `inference_mode`), while between two `yield`s the loop that consumes it runs "
    "in its own mode (here tracking on, inference mode off).",
)
@deterministic
def _ng_decorator_generator(obs: Observer) -> None:
    @torch.no_grad()
    def no_grad_steps() -> Iterator[tuple[bool, bool]]:
        for _ in range(2):
            yield _grad_state()

    @torch.inference_mode()
    def inference_steps() -> Iterator[tuple[bool, bool]]:
        for _ in range(2):
            yield _grad_state()

    for name, generator, inside in (
        ("@torch.no_grad()", no_grad_steps, (False, False)),
        ("@torch.inference_mode()", inference_steps, (False, True)),
    ):
        body, loop = [], []
        for state in generator():  # collect first: a failed expectation stops nothing midway
            body.append(state)
            loop.append(_grad_state())
        obs.expect(f"{name} def gen(): yield (modes); modes in the body", body, [inside] * 2)
        obs.expect(f"{name}: modes in the consuming loop", loop, [(True, False)] * 2)
        obs.expect(f"{name}: modes after the loop", _grad_state(), (True, False))


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
    "ng.enable-grad-helper",
    "A function decorated with `@torch.enable_grad()` that returns `torch.autograd.grad("
    "model(x).sum(), x)` for `x = x.detach().requires_grad_()` gives that input gradient when "
    "called under `torch.no_grad()`, and raises `RuntimeError` (`element 0 of tensors does "
    "not require grad and does not have a grad_fn`) when called under "
    "`torch.inference_mode()`, where `enable_grad` turns the grad mode on but inference mode "
    "stays on, so nothing is recorded.",
)
@deterministic
def _ng_enable_grad_helper(obs: Observer) -> None:
    model = nn.Linear(3, 2).to(obs.device)
    x = torch.randn(4, 3, device=obs.device)
    inside: list[tuple[bool, bool]] = []

    @torch.enable_grad()
    def input_gradient(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        inside.append(_grad_state())
        x = x.detach().requires_grad_()
        (grad,) = torch.autograd.grad(model(x).sum(), x)
        return grad

    grads: list[torch.Tensor] = []
    with torch.no_grad():
        error = _error(lambda: grads.append(input_gradient(model, x)))
    obs.expect("with torch.no_grad(): input_gradient(model, x): error", error, None)
    # d(sum(x @ W.T + b))/dx = the column sums of W, for every row of x
    expected = model.weight.detach().sum(0).expand(4, 3)
    obs.expect(
        "input_gradient(model, x) == model.weight.sum(0) in every row",
        torch.allclose(grads[0], expected),
        True,
    )
    with (
        obs.expect_raises(
            "with torch.inference_mode(): input_gradient(model, x)",
            RuntimeError,
            "element 0 of tensors does not require grad and does not have a grad_fn",
        ),
        torch.inference_mode(),
    ):
        input_gradient(model, x)
    obs.expect(
        "in input_gradient: is_grad_enabled(), is_inference_mode_enabled(), per call",
        inside,
        [(True, False), (True, True)],
    )


@claim(
    "ng.thread-local",
    "The grad mode is thread-local: a thread started inside `torch.no_grad()` or "
    "`torch.inference_mode()` runs with gradient tracking enabled and inference mode off, so "
    "its results have a `grad_fn`, and switching tracking off in that thread leaves the "
    "starting thread's mode unchanged.",
)
@deterministic
def _ng_thread_local(obs: Observer) -> None:
    w = torch.randn(2, device=obs.device, requires_grad=True)
    seen: dict[str, tuple[bool, bool, bool]] = {}

    def in_new_thread(name: str) -> None:
        seen[name] = (*_grad_state(), (w * 2).grad_fn is not None)

    for name, context in (("no_grad", torch.no_grad), ("inference_mode", torch.inference_mode)):
        with context():
            thread = threading.Thread(target=in_new_thread, args=(name,))
            thread.start()
            thread.join()
        obs.expect(
            f"thread started in {name}: torch.is_grad_enabled(), "
            "torch.is_inference_mode_enabled(), (w * 2).grad_fn is not None",
            seen.get(name),
            (True, False, True),
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


def _optimizer_classes() -> list[type[torch.optim.Optimizer]]:
    """Every optimizer class that ``torch.optim`` exports, by name."""
    return sorted(
        (
            cls
            for cls in vars(torch.optim).values()
            if isinstance(cls, type)
            and issubclass(cls, torch.optim.Optimizer)
            and cls is not torch.optim.Optimizer
        ),
        key=lambda cls: cls.__name__,
    )


def _init_functions() -> list[str]:
    """The names of the in-place initializers of ``torch.nn.init``: public, ending in ``_``."""
    return sorted(
        name
        for name, value in vars(nn.init).items()
        if name.endswith("_") and not name.startswith("_") and callable(value)
    )


_INIT_SHAPES = {"dirac_": (2, 2, 3)}  # dirac_ needs a 3-, 4- or 5-D tensor; the others 2-D
_INIT_ARGS: dict[str, tuple[float, ...]] = {"constant_": (0.5,), "sparse_": (0.5,)}


def _step(
    cls: type[torch.optim.Optimizer], device: torch.device, **options: Any
) -> tuple[nn.Parameter, torch.Tensor, str | None, list[bool], bool]:
    """One ``step()`` of ``cls([p], **options)`` after a backward of ``(p - 1)**2``.

    Returns ``p``, its value before the step, the step's error (``None`` if none),
    ``torch.is_grad_enabled()`` at each in-place call the step made, and whether ``p``
    still uses the memory it had before the step.
    """
    p = nn.Parameter(torch.randn(3, 3, device=device))
    before = p.detach().clone()
    address = p.data_ptr()
    optimizer = cls([p], **options)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = (p - 1).square().sum()
        loss.backward()
        return loss

    closure()
    if cls.__name__ == "SparseAdam":  # it accepts sparse gradients only
        assert p.grad is not None
        p.grad = p.grad.to_sparse()
    needs_closure = inspect.signature(cls.step).parameters["closure"].default is not None
    with _InPlaceGradModes() as modes:
        error = _error(lambda: optimizer.step(closure) if needs_closure else optimizer.step())
    in_place = p.data_ptr() == address
    return p, before, error, modes.seen, in_place


@claim(
    "ng.optimizer-init",
    "`step()` of every optimizer class that `torch.optim` exports, with its default options "
    "(`differentiable=False` among them), and every in-place initializer of `torch.nn.init` "
    "(its public functions whose names end in `_`) update a leaf parameter in place without a "
    "`torch.no_grad()` block around them, where `p.zero_()` raises, and leave it a leaf that "
    "requires grad, because `step()` runs its in-place updates with tracking off; with "
    "`differentiable=True`, where an optimizer accepts it, `step()` runs them with tracking "
    "on and raises `RuntimeError` (`a leaf Variable that requires grad is being used in an "
    "in-place operation`).",
    torch_versions=">=2.2",  # the records of other releases (evidence page)
)
@deterministic
def _ng_optimizer_init(obs: Observer) -> None:
    p = nn.Parameter(torch.randn(3, device=obs.device))
    with obs.expect_raises("p.zero_()", RuntimeError, "a leaf Variable that requires grad"):
        p.zero_()
    classes = _optimizer_classes()
    obs.expect(
        "{'SGD', 'Adam', 'AdamW'} <= {cls.__name__ for cls in optimizer classes}",
        {"SGD", "Adam", "AdamW"} <= {cls.__name__ for cls in classes},
        True,
    )
    for cls in classes:
        p, before, error, seen, in_place = _step(cls, obs.device)
        name = cls.__name__
        obs.expect(f"{name}([p]).step(): error", error, None)
        obs.expect(f"{name}: p changed", not torch.equal(before, p.detach()), True)
        obs.expect(f"{name}: p.data_ptr() unchanged (in place)", in_place, True)
        obs.expect(
            f"{name}: p.is_leaf, p.requires_grad", (p.is_leaf, p.requires_grad), (True, True)
        )
        obs.expect(f"{name}: in-place calls seen", len(seen) > 0, True)
        obs.expect(f"{name}: torch.is_grad_enabled() at each in-place call", set(seen), {False})
        if "differentiable" in inspect.signature(cls.__init__).parameters:
            _, _, error, _, _ = _step(cls, obs.device, differentiable=True)
            obs.expect(
                f"{name}([p], differentiable=True).step(): error",
                error,
                "a leaf Variable that requires grad is being used in an in-place operation.",
            )
    for name in _init_functions():
        p = nn.Parameter(torch.full(_INIT_SHAPES.get(name, (3, 3)), 7.0, device=obs.device))
        address = p.data_ptr()
        error = _error(lambda name=name, p=p: getattr(nn.init, name)(p, *_INIT_ARGS.get(name, ())))
        obs.expect(f"nn.init.{name}(p): error", error, None)
        obs.expect(f"nn.init.{name}(p): p changed", bool((p != 7.0).any()), True)
        obs.expect(
            f"nn.init.{name}(p): p.data_ptr() unchanged (in place)", p.data_ptr() == address, True
        )
        obs.expect(
            f"nn.init.{name}: p.is_leaf, p.requires_grad",
            (p.is_leaf, p.requires_grad),
            (True, True),
        )


@claim(
    "ng.manual-step",
    "A hand-written gradient-descent step, `p -= lr * p.grad` inside `torch.no_grad()`, "
    "updates the parameter in place to the values `torch.optim.SGD([p], lr=lr).step()` gives "
    "(`[3.0, -1.0]` becomes `[1.5, -0.5]` for the loss `(p**2).sum()` and `lr=0.25`), and `p` "
    "stays the same `nn.Parameter`, a leaf that requires grad.",
)
@deterministic
def _ng_manual_step(obs: Observer) -> None:
    def descend(p: nn.Parameter, lr: float) -> torch.Tensor:
        with torch.no_grad():
            assert p.grad is not None
            p -= lr * p.grad
        return p

    by_hand = nn.Parameter(torch.tensor([3.0, -1.0], device=obs.device))
    by_sgd = nn.Parameter(torch.tensor([3.0, -1.0], device=obs.device))
    for q in (by_hand, by_sgd):
        (q**2).sum().backward()
    after = descend(by_hand, 0.25)
    torch.optim.SGD([by_sgd], lr=0.25).step()
    obs.expect(
        "with torch.no_grad(): p -= 0.25 * p.grad; p.tolist()", by_hand.tolist(), [1.5, -0.5]
    )
    obs.expect("torch.optim.SGD([p], lr=0.25).step(); p.tolist()", by_sgd.tolist(), [1.5, -0.5])
    obs.expect("p after the step is the same object", after is by_hand, True)
    obs.expect(
        "isinstance(p, nn.Parameter), p.is_leaf, p.requires_grad",
        (isinstance(after, nn.Parameter), after.is_leaf, after.requires_grad),
        (True, True, True),
    )


@claim(
    "ng.detach-clone",
    "`t.detach().clone()` has its own storage (its `data_ptr()` differs from `t`'s) and does "
    "not require grad, so changing it in place leaves `t` unchanged and a later `backward()` "
    "through `t` works.",
)
@deterministic
def _ng_detach_clone(obs: Observer) -> None:
    w = torch.randn(3, device=obs.device, requires_grad=True)
    t = w.exp()  # exp saves its result t for backward
    kept = t.detach().clone()
    copy = t.detach().clone()
    obs.expect(
        "copy = t.detach().clone(); copy.data_ptr() != t.data_ptr()",
        copy.data_ptr() != t.data_ptr(),
        True,
    )
    obs.expect("copy.requires_grad", copy.requires_grad, False)
    copy.zero_()
    obs.expect("copy.zero_(); torch.equal(t, t_before)", torch.equal(t.detach(), kept), True)
    error = _error(lambda: t.sum().backward())
    obs.expect("t.sum().backward(): error", error, None)
    obs.expect(
        "w.grad == t (the derivative of exp)",
        w.grad is not None and torch.equal(w.grad, kept),
        True,
    )
