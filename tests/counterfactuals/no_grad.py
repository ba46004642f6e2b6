"""Counterfactual torches for the claims of ``gradmodes/claims/no_grad.py``."""

from __future__ import annotations

import asyncio.events
import contextvars
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import torch
import torch.utils._contextlib as contextlib_
from torch import nn

from counterfactuals import counterfactual
from counterfactuals._undo import on_undo

Patch = pytest.MonkeyPatch


def _wrap_method(patch: Patch, owner: type, name: str, wrapper: Callable[..., Any]) -> None:
    """Replace ``owner.name`` by ``wrapper(original, *args, **kwargs)``."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def method(*args: Any, **kwargs: Any) -> Any:
        return wrapper(original, *args, **kwargs)

    patch.setattr(owner, name, method)


# --- what runs inside the block -----------------------------------------------------------


@counterfactual("ng.outputs", "no_grad() records the graph like enable_grad()")
def _no_grad_records(patch: Patch) -> None:
    # Also inside torch: nn.init's no_grad blocks then fail, so checks that build a model
    # first are attacked by the patches below instead.
    patch.setattr(torch, "no_grad", torch.enable_grad)


@counterfactual("ng.memory", "modules record their forward even under no_grad")
def _modules_record(patch: Patch) -> None:
    def call(original: Callable[..., Any], self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        with torch.enable_grad():
            return original(self, *args, **kwargs)

    _wrap_method(patch, nn.Module, "__call__", call)


@counterfactual("ng.backward-error", "inference_mode() records the graph, like mode=False")
def _inference_mode_records(patch: Patch) -> None:
    def enter(self: Any) -> None:
        self._inference_mode_context = torch._C._InferenceMode(False)
        self._inference_mode_context.__enter__()

    patch.setattr(torch.inference_mode, "__enter__", enter)


@counterfactual("ng.backward-error", "backward() of a tensor without grad_fn does nothing")
def _backward_silent(patch: Patch) -> None:
    def backward(original: Callable[..., Any], self: torch.Tensor, *args: Any, **kw: Any) -> Any:
        return original(self, *args, **kw) if self.requires_grad else None

    _wrap_method(patch, torch.Tensor, "backward", backward)


@counterfactual("ng.outputs", "exp() records its result under no_grad")
def _exp_records(patch: Patch) -> None:
    def exp(original: Callable[..., Any], self: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or not self.requires_grad:
            return original(self)
        with torch.enable_grad():
            return original(self)

    _wrap_method(patch, torch.Tensor, "exp", exp)


@counterfactual("ng.returns-self", "float() of a float32 tensor returns a new copy")
def _float_copies(patch: Patch) -> None:
    patch.setattr(
        torch.Tensor, "float", lambda self, *args, **kwargs: self.to(torch.float32, copy=True)
    )


@counterfactual("ng.returns-self", "contiguous() of a contiguous tensor returns a new copy")
def _contiguous_copies(patch: Patch) -> None:
    patch.setattr(torch.Tensor, "contiguous", lambda self, *args, **kwargs: self.clone())


@counterfactual("ng.views", "views taken under no_grad do not require grad")
def _views_detached(patch: Patch) -> None:
    def getitem(original: Callable[..., Any], self: torch.Tensor, index: Any) -> Any:
        view = original(self, index)
        return view if torch.is_grad_enabled() else view.detach()

    _wrap_method(patch, torch.Tensor, "__getitem__", getitem)


@counterfactual("ng.views", "detach() returns a copy with storage of its own")
def _detach_copies(patch: Patch) -> None:
    detach = torch.Tensor.detach
    patch.setattr(torch.Tensor, "detach", lambda self: detach(self).clone())


@counterfactual("ng.views", "an in-place change to a no_grad view is allowed later")
def _view_inplace_allowed(patch: Patch) -> None:
    def mul_(original: Callable[..., Any], self: torch.Tensor, *args: Any) -> Any:
        with torch.no_grad():  # not recorded, so nothing to refuse
            return original(self, *args)

    _wrap_method(patch, torch.Tensor, "mul_", mul_)


@counterfactual("ng.memory", "ReLU saves its input instead of its output")
def _relu_saves_input(patch: Patch) -> None:
    # clamp(min=0) computes ReLU, and its backward needs its input: one more storage.
    patch.setattr(
        torch.nn.functional, "relu", lambda input, inplace=False: torch.clamp(input, min=0)
    )


@counterfactual("ng.flags-unchanged", "no_grad() reports every parameter as frozen inside")
def _frozen_inside(patch: Patch) -> None:
    flag = torch._C.TensorBase.requires_grad
    patch.setattr(
        nn.Parameter,
        "requires_grad",
        property(
            lambda self: flag.__get__(self) and torch.is_grad_enabled(),
            lambda self, value: flag.__set__(self, value),
        ),
    )


@counterfactual("ng.flags-unchanged", "tracking stays off after a no_grad block")
def _no_grad_not_undone(patch: Patch) -> None:
    on_undo(patch, functools.partial(torch._C._set_grad_enabled, torch.is_grad_enabled()))
    patch.setattr(torch.no_grad, "__exit__", lambda self, *exc: None)


# --- Dropout, BatchNorm, factories ---------------------------------------------------------


@counterfactual("ng.no-mode-change", "Dropout is the identity while tracking is off")
def _dropout_off_without_grad(patch: Patch) -> None:
    dropout = torch.nn.functional.dropout

    def patched(input: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return input if not torch.is_grad_enabled() else dropout(input, *args, **kwargs)

    patch.setattr(torch.nn.functional, "dropout", patched)


@counterfactual("ng.no-mode-change", "BatchNorm keeps its statistics while tracking is off")
def _batch_norm_frozen_without_grad(patch: Patch) -> None:
    batch_norm = torch.nn.functional.batch_norm

    def patched(
        input: torch.Tensor,
        running_mean: torch.Tensor | None,
        running_var: torch.Tensor | None,
        weight: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
        training: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        training = training and torch.is_grad_enabled()
        return batch_norm(input, running_mean, running_var, weight, bias, training, *args, **kwargs)

    patch.setattr(torch.nn.functional, "batch_norm", patched)


@counterfactual("ng.no-mode-change", "BatchNorm2d keeps its statistics while tracking is off")
def _batch_norm_2d_frozen_without_grad(patch: Patch) -> None:
    # BatchNorm1d (SimpleModel's) unchanged: only a check over every BatchNorm class sees it.
    def forward(original: Callable[..., Any], self: nn.Module, input: torch.Tensor) -> Any:
        if torch.is_grad_enabled():
            return original(self, input)
        training, self.training = self.training, False
        try:
            return original(self, input)
        finally:
            self.training = training

    _wrap_method(patch, nn.BatchNorm2d, "forward", forward)


@counterfactual("ng.factory", "nn.Parameter(...) follows the grad mode")
def _parameter_follows_grad_mode(patch: Patch) -> None:
    new = nn.Parameter.__new__

    def patched(cls: type, data: torch.Tensor | None = None, requires_grad: bool = True) -> Any:
        return new(cls, data, requires_grad and torch.is_grad_enabled())

    patch.setattr(nn.Parameter, "__new__", staticmethod(patched))


@counterfactual("ng.factory", "torch.randn(..., requires_grad=True) follows the grad mode")
def _randn_follows_grad_mode(patch: Patch) -> None:
    randn = torch.randn

    def patched(*args: Any, requires_grad: bool = False, **kwargs: Any) -> torch.Tensor:
        return randn(*args, requires_grad=requires_grad and torch.is_grad_enabled(), **kwargs)

    patch.setattr(torch, "randn", patched)


# --- in-place updates, optimizers, nn.init -------------------------------------------------


@counterfactual("ng.inplace-leaf", "add_() on a leaf that requires grad is allowed anywhere")
def _leaf_inplace_allowed(patch: Patch) -> None:
    def add_(original: Callable[..., Any], self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        with torch.no_grad():
            return original(self, *args, **kwargs)

    _wrap_method(patch, torch.Tensor, "add_", add_)


@counterfactual("ng.optimizer-init", "SGD.step() updates with tracking on, like differentiable")
def _sgd_step_tracked(patch: Patch) -> None:
    step = inspect.unwrap(torch.optim.SGD.step)

    def patched(self: torch.optim.Optimizer, closure: Any = None) -> Any:
        with torch.enable_grad():
            return step(self, closure)

    patch.setattr(torch.optim.SGD, "step", patched)


@counterfactual("ng.optimizer-init", "nn.init.zeros_() updates without switching tracking off")
def _zeros_tracked(patch: Patch) -> None:
    patch.setattr(torch.nn.init, "zeros_", lambda tensor: tensor.zero_())


@counterfactual("ng.optimizer-init", "differentiable=True steps with tracking off as well")
def _differentiable_ignored(patch: Patch) -> None:
    def init(original: Callable[..., Any], self: Any, params: Any, defaults: dict) -> None:
        original(self, params, {**defaults, "differentiable": False})

    _wrap_method(patch, torch.optim.Optimizer, "__init__", init)


@counterfactual("ng.optimizer-init", "Adam.step() gives p new memory instead of updating it")
def _adam_replaces_data(patch: Patch) -> None:
    def step(self: torch.optim.Optimizer, closure: Any = None) -> None:
        for group in self.param_groups:  # the old optimizers' way: a new tensor behind p
            for p in group["params"]:
                if p.grad is not None:
                    p.data = p.data - group["lr"] * p.grad

    patch.setattr(torch.optim.Adam, "step", step)


@counterfactual("ng.optimizer-init", "nn.init.orthogonal_() gives p new memory, not in place")
def _orthogonal_replaces_data(patch: Patch) -> None:
    def orthogonal_(tensor: torch.Tensor, gain: float = 1, generator: Any = None) -> torch.Tensor:
        with torch.no_grad():
            q, _ = torch.linalg.qr(torch.randn(tensor.shape[0], tensor.shape[1]))
            tensor.data = (q * gain).to(tensor.device)
        return tensor

    patch.setattr(torch.nn.init, "orthogonal_", orthogonal_)


@counterfactual("ng.manual-step", "SGD defaults to weight_decay=0.01")
def _sgd_weight_decay(patch: Patch) -> None:
    def init(original: Callable[..., Any], self: Any, params: Any, *args: Any, **kwargs: Any):
        kwargs.setdefault("weight_decay", 0.01)
        original(self, params, *args, **kwargs)

    _wrap_method(patch, torch.optim.SGD, "__init__", init)


@counterfactual("ng.manual-step", "`p -= x` makes a new tensor instead of updating p")
def _isub_out_of_place(patch: Patch) -> None:
    patch.setattr(torch.Tensor, "__isub__", lambda self, other: self - other)


@counterfactual("ng.detach-clone", "clone() shares storage with its source (a lazy copy)")
def _clone_shares(patch: Patch) -> None:
    patch.setattr(torch.Tensor, "clone", lambda self, *args, **kwargs: self.view_as(self))


# --- decorators ----------------------------------------------------------------------------


@counterfactual("ng.decorator", "the decorator form returns the function unchanged")
@counterfactual("ng.decorator-bare", "the decorator form returns the function unchanged")
def _decorator_ignored(patch: Patch) -> None:
    patch.setattr(contextlib_, "context_decorator", lambda ctx, func: func)


@counterfactual("ng.decorator-bare", "bare @torch.no_grad returns the function undecorated")
def _bare_no_grad_ignored(patch: Patch) -> None:
    def new(cls: type, orig_func: Any = None) -> Any:
        return object.__new__(cls) if orig_func is None else orig_func

    patch.setattr(contextlib_._NoParamDecoratorContextManager, "__new__", staticmethod(new))


@counterfactual("ng.decorator-bare", "bare @torch.inference_mode returns it undecorated")
def _bare_inference_mode_ignored(patch: Patch) -> None:
    def new(cls: type, mode: Any = True) -> Any:
        return object.__new__(cls) if isinstance(mode, bool) else mode

    patch.setattr(torch.inference_mode, "__new__", staticmethod(new))


@counterfactual("ng.decorator-async", "the decorators run a coroutine's body in their mode")
def _decorators_wrap_coroutines(patch: Patch) -> None:
    decorate = contextlib_.context_decorator

    def patched(ctx: Any, func: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(func):
            return decorate(ctx, func)
        factory = ctx if callable(ctx) else lambda: ctx

        @functools.wraps(func)
        async def run(*args: Any, **kwargs: Any) -> Any:
            with factory():
                return await func(*args, **kwargs)

        return run

    patch.setattr(contextlib_, "context_decorator", patched)


@counterfactual("ng.decorator-async", "the decorators run an async generator's steps in their mode")
def _decorators_wrap_async_generators(patch: Patch) -> None:
    decorate = contextlib_.context_decorator

    def patched(ctx: Any, func: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.isasyncgenfunction(func):
            return decorate(ctx, func)
        factory = ctx if callable(ctx) else lambda: ctx

        @functools.wraps(func)
        async def run(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            steps = func(*args, **kwargs)
            while True:
                with factory():
                    try:
                        item = await steps.__anext__()
                    except StopAsyncIteration:
                        return
                yield item

        return run

    patch.setattr(contextlib_, "context_decorator", patched)


_GRAD_MODE: contextvars.ContextVar[bool] = contextvars.ContextVar("counterfactual_grad_mode")


@counterfactual("ng.await-leak", "each asyncio task has its own grad mode (a context variable)")
def _grad_mode_per_task(patch: Patch) -> None:
    # Every step of a task runs in the task's own contextvars.Context: keep the grad mode
    # there, as decimal keeps its context, instead of in the thread.
    run = asyncio.events.Handle._run

    def patched(self: asyncio.events.Handle) -> None:
        callback, thread_mode = self._callback, torch.is_grad_enabled()  # type: ignore[attr-defined]

        def step(*args: Any) -> Any:
            torch._C._set_grad_enabled(_GRAD_MODE.get(thread_mode))
            try:
                return callback(*args)
            finally:
                _GRAD_MODE.set(torch.is_grad_enabled())
                torch._C._set_grad_enabled(thread_mode)

        self._callback = step  # type: ignore[attr-defined]
        try:
            run(self)
        finally:
            self._callback = callback  # type: ignore[attr-defined]

    patch.setattr(asyncio.events.Handle, "_run", patched)


@counterfactual("ng.await-leak", "inference_mode() is no_grad() (no inference mode)")
def _inference_mode_is_no_grad(patch: Patch) -> None:
    patch.setattr(
        torch, "inference_mode", lambda mode=True: torch.no_grad() if mode else torch.enable_grad()
    )


@counterfactual("ng.decorator-generator", "the mode stays on between a generator's yields")
def _generator_wrapped_whole(patch: Patch) -> None:
    def wrap(ctx_factory: Callable[[], Any], func: Callable[..., Iterator[Any]]) -> Any:
        @functools.wraps(func)
        def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with ctx_factory():
                return (yield from func(*args, **kwargs))

        return generator

    patch.setattr(contextlib_, "_wrap_generator", wrap)


@counterfactual("ng.decorator-generator", "the decorator only wraps creating the generator")
def _generator_creation_only(patch: Patch) -> None:
    def wrap(ctx_factory: Callable[[], Any], func: Callable[..., Iterator[Any]]) -> Any:
        @functools.wraps(func)
        def create(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with ctx_factory():
                return func(*args, **kwargs)

        return create

    patch.setattr(contextlib_, "_wrap_generator", wrap)


# --- set_grad_enabled, enable_grad, threads ------------------------------------------------


@counterfactual("ng.set-grad-enabled", "a bare set_grad_enabled(False) switches nothing")
def _bare_set_grad_enabled_inert(patch: Patch) -> None:
    # set_grad_enabled acts only in `with` (or as a decorator); no_grad, which calls it
    # bare, switches the mode itself.
    def init(self: Any, mode: bool) -> None:
        self.prev = torch.is_grad_enabled()
        self.mode = mode

    def enter(self: Any) -> None:
        self.prev = torch.is_grad_enabled()
        torch._C._set_grad_enabled(False)

    patch.setattr(torch.set_grad_enabled, "__init__", init)
    patch.setattr(torch.no_grad, "__enter__", enter)
    patch.setattr(
        torch.no_grad, "__exit__", lambda self, *exc: torch._C._set_grad_enabled(self.prev)
    )


@counterfactual("ng.enable-grad", "enable_grad() inside no_grad() switches nothing")
@counterfactual("ng.enable-grad-helper", "enable_grad() inside no_grad() switches nothing")
def _enable_grad_inert(patch: Patch) -> None:
    patch.setattr(torch.enable_grad, "__enter__", lambda self: None)
    patch.setattr(torch.enable_grad, "__exit__", lambda self, *exc: None)


@counterfactual("ng.enable-grad-helper", "enable_grad() also leaves inference mode")
def _enable_grad_leaves_inference_mode(patch: Patch) -> None:
    def enter(self: Any) -> None:
        self.guard = torch._C._InferenceMode(False)
        self.guard.__enter__()
        self.prev = torch.is_grad_enabled()
        torch._C._set_grad_enabled(True)

    def exit_(self: Any, *exc: Any) -> None:
        torch._C._set_grad_enabled(self.prev)
        self.guard.__exit__(None, None, None)

    patch.setattr(torch.enable_grad, "__enter__", enter)
    patch.setattr(torch.enable_grad, "__exit__", exit_)


@counterfactual("ng.thread-local", "a new thread starts in the grad mode of its parent")
def _threads_inherit_grad_mode(patch: Patch) -> None:
    start = threading.Thread.start

    def patched(self: threading.Thread) -> None:
        mode, run = torch.is_grad_enabled(), self.run

        def run_in_mode() -> None:
            torch._C._set_grad_enabled(mode)
            run()

        self.run = run_in_mode  # type: ignore[method-assign]
        start(self)

    patch.setattr(threading.Thread, "start", patched)


@counterfactual("ng.thread-local", "a new thread starts in the inference mode of its parent")
def _threads_inherit_inference_mode(patch: Patch) -> None:
    start = threading.Thread.start

    def patched(self: threading.Thread) -> None:
        inference, run = torch.is_inference_mode_enabled(), self.run

        def run_in_mode() -> None:
            with torch.inference_mode(inference):
                run()

        self.run = run_in_mode  # type: ignore[method-assign]
        start(self)

    patch.setattr(threading.Thread, "start", patched)
