"""Claims about ``torch.compile`` and the switches: graphs, guards and recompiles.

Each check starts and ends with ``torch._dynamo.reset()``, so that no graph cached by
another check (or page) counts, and counts graphs with dynamo's own
``torch._dynamo.testing.CompileCounter``. The backend is ``"eager"`` (dynamo's graph
run as it is) unless a claim names another; inductor, the default backend, is not run
here: its C++ compiles take minutes on a busy build machine. ``torch._dynamo`` is
imported by the checks, not by this module: importing it takes seconds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from gradmodes.claims._common import deterministic, time_limited
from gradmodes.claims._registry import Observer, claim
from gradmodes.compiling import dynamo_log
from gradmodes.freeze import freeze
from gradmodes.models import SimpleModel

__all__: list[str] = []

GRAD_MODE = "GLOBAL_STATE changed: grad_mode"


@contextmanager
def _fresh_dynamo() -> Iterator[None]:
    torch._dynamo.reset()
    try:
        yield
    finally:
        torch._dynamo.reset()


def _counter(backend: str | None = None) -> Any:
    """Dynamo's ``CompileCounter`` (a backend that counts frames), or one that then runs
    ``backend`` and keeps the graphs (``CompileCounterWithBackend``)."""
    from torch._dynamo.testing import CompileCounter, CompileCounterWithBackend

    return CompileCounter() if backend is None else CompileCounterWithBackend(backend)


def _compile_check(run: Callable[[Observer], None]) -> Callable[[Observer], None]:
    """A compile check: seeded, on fresh dynamo caches, stopped after 120 s."""

    @functools.wraps(run)
    def fresh(obs: Observer) -> None:

        with _fresh_dynamo():
            run(obs)

    return time_limited(120)(deterministic(fresh))


@claim(
    "co.grad-mode",
    'A `SimpleModel` compiled with `torch.compile(model, backend="eager")` and called with '
    "gradients enabled, then under `torch.no_grad()`, is compiled twice (dynamo's "
    "`CompileCounter` counts 2 frames), the second time because the guard "
    "`GLOBAL_STATE changed: grad_mode` failed; two more calls, one in each mode, compile "
    "nothing, and only the output computed with gradients enabled requires grad.",
    torch_versions=">=2.5",  # the records of other releases (evidence page)
)
@_compile_check
def _co_grad_mode(obs: Observer) -> None:
    counter = _counter()
    compiled = torch.compile(SimpleModel(), backend=counter)
    x = torch.randn(16, 10)
    with dynamo_log() as log:
        y = compiled(x)
        with torch.no_grad():
            y_no_grad = compiled(x)
    obs.expect("counter.frame_count after a call and a no_grad call", counter.frame_count, 2)
    obs.expect("log.recompiles", log.recompiles, [(GRAD_MODE,)])
    compiled(x)
    with torch.no_grad():
        compiled(x)
    obs.expect("counter.frame_count after one more call in each mode", counter.frame_count, 2)
    obs.expect("y.requires_grad", y.requires_grad, True)
    obs.expect("y_no_grad.requires_grad", y_no_grad.requires_grad, False)


@claim(
    "co.inference-mode",
    "Called under `torch.inference_mode()` after a call with gradients enabled and one under "
    "`torch.no_grad()`, the compiled `SimpleModel` is compiled a third time: the no_grad graph's "
    "guard on the input's dispatch keys failed (`dispatch key set mismatch`), and its output "
    "is an inference tensor.",
    torch_versions=">=2.5",  # the records of other releases (evidence page)
)
@_compile_check
def _co_inference_mode(obs: Observer) -> None:
    counter = _counter()
    compiled = torch.compile(SimpleModel(), backend=counter)
    x = torch.randn(16, 10)
    compiled(x)
    with torch.no_grad():
        compiled(x)
    with dynamo_log() as log, torch.inference_mode():
        y = compiled(x)
    obs.expect("counter.frame_count", counter.frame_count, 3)
    newest = log.recompiles[0][0] if log.recompiles else ""
    obs.expect(
        "'dispatch key set mismatch' in the no_grad graph's failed guard",
        "dispatch key set mismatch" in newest,
        True,
    )
    obs.expect("torch.is_inference(y)", torch.is_inference(y), True)


@claim(
    "co.eval",
    "After `model.eval()`, the compiled `SimpleModel` is compiled again because a guard on a "
    "layer's `training` flag failed (`self._modules['bn'].training == True`), and its output "
    "equals the uncompiled model's in eval mode; after `model.train()` it uses the first graph "
    "again (no third compile); and three epochs of a training call with gradients enabled "
    "followed by `model.eval()` and a call under `torch.no_grad()` compile two graphs in all.",
    torch_versions=">=2.8",  # the records of other releases (evidence page)
)
@_compile_check
def _co_eval(obs: Observer) -> None:
    model = SimpleModel()
    counter = _counter()
    compiled = torch.compile(model, backend=counter)
    x = torch.randn(16, 10)
    compiled(x)
    model.eval()
    with dynamo_log() as log:
        y = compiled(x)
    obs.expect("counter.frame_count after model.eval()", counter.frame_count, 2)
    obs.expect("log.recompiles", log.recompiles, [("self._modules['bn'].training == True",)])
    obs.expect("torch.equal(compiled(x), model(x)) in eval mode", torch.equal(y, model(x)), True)
    model.train()
    compiled(x)
    obs.expect("counter.frame_count after model.train()", counter.frame_count, 2)
    torch._dynamo.reset()
    counter = _counter()
    compiled = torch.compile(model, backend=counter)
    for _ in range(3):
        model.train()
        compiled(x).sum().backward()
        model.eval()
        with torch.no_grad():
            compiled(x)
    obs.expect("counter.frame_count after three train/validate epochs", counter.frame_count, 2)


@claim(
    "co.requires-grad",
    "Freezing the compiled `SimpleModel`'s parameters (`requires_grad=False`) after a call "
    "makes dynamo compile it again (`requires_grad mismatch` on a parameter), and the output "
    "then does not require grad; an input that requires grad also compiles a new graph.",
    torch_versions=">=2.12",  # the records of other releases (evidence page)
)
@_compile_check
def _co_requires_grad(obs: Observer) -> None:
    model = SimpleModel()
    counter = _counter()
    compiled = torch.compile(model, backend=counter)
    x = torch.randn(16, 10)
    compiled(x)
    freeze(model)
    with dynamo_log() as log:
        y = compiled(x)
    obs.expect("counter.frame_count after freeze(model)", counter.frame_count, 2)
    newest = log.recompiles[0][0] if log.recompiles else ""
    obs.expect(
        "'requires_grad mismatch' in the failed guard", "requires_grad mismatch" in newest, True
    )
    obs.expect("y.requires_grad", y.requires_grad, False)
    y_input = compiled(x.clone().requires_grad_())
    obs.expect("counter.frame_count after an input that requires grad", counter.frame_count, 3)
    obs.expect("y_input.requires_grad", y_input.requires_grad, True)


@claim(
    "co.inner-block",
    'A `with torch.no_grad():` block inside a function compiled with `backend="aot_eager"` '
    "stays in one graph, without a graph break, as the calls `torch._C._set_grad_enabled(False)` "
    "and `torch._C._set_grad_enabled(True)`: the result computed in the block does not require "
    "grad, and the gradient through the compiled function equals the uncompiled one's.",
)
@_compile_check
def _co_inner_block(obs: Observer) -> None:
    w = torch.randn(3, requires_grad=True)

    def f(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            scale = (x * w).sum()
        return (x * w).sum() * scale, scale

    x = torch.randn(3)
    counter = _counter("aot_eager")
    torch._dynamo.utils.counters.clear()
    out, scale = torch.compile(f, backend=counter)(x)
    obs.expect("counter.frame_count", counter.frame_count, 1)
    breaks = sum(torch._dynamo.utils.counters["graph_break"].values())
    obs.expect("graph breaks (torch._dynamo.utils.counters)", breaks, 0)
    code = counter.graphs[0].code
    obs.expect(
        "'_set_grad_enabled(False)' and then '_set_grad_enabled(True)' in the graph",
        0 <= code.find("_set_grad_enabled(False)") < code.find("_set_grad_enabled(True)"),
        True,
    )
    obs.expect("scale.requires_grad", scale.requires_grad, False)
    (compiled_grad,) = torch.autograd.grad(out, w)
    (eager_grad,) = torch.autograd.grad(f(x)[0], w)
    obs.expect(
        "torch.allclose(compiled_grad, eager_grad)", torch.allclose(compiled_grad, eager_grad), True
    )


@claim(
    "co.wrapper",
    "`torch.compile(model)` returns an `OptimizedModule` that holds the model as `_orig_mod`: "
    "its `eval()` and `train()` set the model's own flags, and its `state_dict()` keys start "
    "with `_orig_mod.`, so loading them into an uncompiled model raises `RuntimeError` "
    "(`Missing key(s) in state_dict`).",
)
@_compile_check
def _co_wrapper(obs: Observer) -> None:
    model = SimpleModel()
    compiled = torch.compile(model, backend="eager")
    obs.expect("type(compiled).__name__", type(compiled).__name__, "OptimizedModule")
    obs.expect("compiled._orig_mod is model", compiled._orig_mod is model, True)
    compiled.eval()
    obs.expect(
        "after compiled.eval(): {m.training for m in model.modules()}",
        {m.training for m in model.modules()},
        {False},
    )
    compiled.train()
    obs.expect(
        "after compiled.train(): {m.training for m in model.modules()}",
        {m.training for m in model.modules()},
        {True},
    )
    keys = list(compiled.state_dict())
    obs.expect("compiled.state_dict() keys", keys, [f"_orig_mod.{k}" for k in model.state_dict()])
    with obs.expect_raises(
        "SimpleModel().load_state_dict(compiled.state_dict())", RuntimeError, "Missing key(s)"
    ):
        SimpleModel().load_state_dict(compiled.state_dict())


@claim(
    "co.recompile-limit",
    'After four `nn.Sequential` models compiled with `torch.compile(model, backend="eager")` '
    "were each called with gradients enabled and under `torch.no_grad()` (8 graphs), a fifth "
    "one compiled the same way and called the same way compiles nothing (0 frames), still "
    "returns the model's output, and dynamo logs `torch._dynamo hit config.recompile_limit "
    "(8)`: the graphs of the four earlier models count toward the fifth's limit.",
    torch_versions=">=2.7",  # the records of other releases (evidence page)
)
@_compile_check
def _co_recompile_limit(obs: Observer) -> None:
    x = torch.randn(2, 4)
    frames = []
    with dynamo_log() as log:
        for _ in range(5):
            counter = _counter()
            model = nn.Sequential(nn.Linear(4, 4))
            compiled = torch.compile(model, backend=counter)
            compiled(x)
            with torch.no_grad():
                out = compiled(x)
            frames.append(counter.frame_count)
    obs.expect("the fifth model's output == model(x)", torch.equal(out, model(x)), True)
    obs.expect("torch._dynamo.config.recompile_limit", torch._dynamo.config.recompile_limit, 8)
    obs.expect("frames compiled for each of the five models", frames, [2, 2, 2, 2, 0])
    obs.expect("log.warnings", log.warnings, ["torch._dynamo hit config.recompile_limit (8)"])
