"""Claims about hooks and ``torch.autograd.grad`` with frozen tensors and inside grad-free
blocks (issue 10 topic 8)."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim

__all__: list[str] = []

_NO_HOOK = "cannot register a hook on a tensor that doesn't require gradient"


@claim(
    "hook.register-frozen",
    "`register_hook` and `register_post_accumulate_grad_hook` on a tensor that does not "
    "require grad (a frozen parameter, or a result computed under `torch.no_grad()`) raise "
    "`RuntimeError` (`cannot register a hook on a tensor that doesn't require gradient`); "
    "on a leaf that requires grad, `register_hook` also works inside `torch.no_grad()`.",
)
@deterministic
def _hook_register_frozen(obs: Observer) -> None:
    frozen = nn.Parameter(torch.randn(3), requires_grad=False)
    with obs.expect_raises("frozen.register_hook(fn)", RuntimeError, _NO_HOOK):
        frozen.register_hook(lambda grad: grad)
    with obs.expect_raises("frozen.register_post_accumulate_grad_hook(fn)", RuntimeError, _NO_HOOK):
        frozen.register_post_accumulate_grad_hook(lambda tensor: None)
    w = torch.randn(3, requires_grad=True)
    with torch.no_grad():
        y = w * 2
        with obs.expect_raises("no_grad result: y.register_hook(fn)", RuntimeError, _NO_HOOK):
            y.register_hook(lambda grad: grad)
        handle = w.register_hook(lambda grad: grad * 2)
    (w * 1.0).sum().backward()
    obs.expect(
        "inside no_grad: w.register_hook(lambda g: g * 2); w.grad", w.grad.tolist(), [2.0] * 3
    )
    handle.remove()


@claim(
    "hook.frozen-later",
    "A tensor hook and a post-accumulate-grad hook registered on a parameter that is frozen "
    "afterwards are not called while it stays frozen: a backward that gives the other "
    "parameters their gradients leaves the frozen one's `.grad` `None` and calls neither "
    "hook; unfrozen again, the parameter keeps its hooks, and the next backward calls both.",
)
@deterministic
def _hook_frozen_later(obs: Observer) -> None:
    layer = nn.Linear(3, 1)
    called: list[str] = []
    layer.weight.register_hook(lambda grad: called.append("register_hook"))
    layer.weight.register_post_accumulate_grad_hook(lambda p: called.append("post_accumulate"))
    layer.weight.requires_grad_(False)
    layer(torch.randn(4, 3)).sum().backward()
    obs.expect("layer.bias.grad is not None", layer.bias.grad is not None, True)
    obs.expect("layer.weight.grad is None", layer.weight.grad is None, True)
    obs.expect("hooks called", called, [])
    layer.weight.requires_grad_(True)
    layer(torch.randn(4, 3)).sum().backward()
    obs.expect("unfrozen again: hooks called", called, ["register_hook", "post_accumulate"])


_FIRING = "Full backward hook is firing when gradients are computed with respect to module outputs"


@claim(
    "hook.module-backward",
    "A full backward hook (`register_full_backward_hook`) on `nn.Linear(3, 2)` is called "
    "once per backward: with frozen parameters and an input that requires grad, `grad_input` "
    "holds the input's gradient; with trainable parameters and an input that does not "
    "require grad, `grad_input` is `(None,)` and torch warns (`Full backward hook is firing "
    "when gradients are computed with respect to module outputs since no inputs require "
    "gradients`); with frozen parameters and an input that does not require grad, or after "
    "a forward under `torch.no_grad()`, the output does not require grad, so no backward can "
    "run and the hook is not called.",
    torch_versions=">=2.8",  # the records of other releases (evidence page)
)
@deterministic
def _hook_module_backward(obs: Observer) -> None:
    layer = nn.Linear(3, 2)
    seen: list[tuple[object, ...]] = []

    def hook(module: nn.Module, grad_input: tuple[object, ...], grad_output: object) -> None:
        seen.append(tuple(None if g is None else tuple(g.shape) for g in grad_input))  # type: ignore[union-attr]

    layer.register_full_backward_hook(hook)
    x, xg = torch.randn(4, 3), torch.randn(4, 3, requires_grad=True)
    layer.requires_grad_(False)
    layer(xg).sum().backward()
    obs.expect("frozen parameters, x requires grad: grad_input shapes", seen, [((4, 3),)])
    seen.clear()
    layer.requires_grad_(True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer(x).sum().backward()
    obs.expect("trainable parameters, x does not require grad: grad_input", seen, [(None,)])
    obs.expect(
        "torch warns that the hook fires for the outputs",
        any(_FIRING in str(w.message) for w in caught),
        True,
    )
    seen.clear()
    layer.requires_grad_(False)
    obs.expect("frozen parameters, x: layer(x).requires_grad", layer(x).requires_grad, False)
    layer.requires_grad_(True)
    with torch.no_grad():
        out = layer(xg)
    obs.expect("under no_grad: layer(xg).requires_grad", out.requires_grad, False)
    obs.expect("hook calls", seen, [])


@claim(
    "hook.forward",
    "Forward hooks and forward pre-hooks of a module are called once per call under "
    "`torch.no_grad()` and under `torch.inference_mode()`, as with gradients enabled; a "
    "forward hook sees an output that requires grad only with gradients enabled.",
)
@deterministic
def _hook_forward(obs: Observer) -> None:
    layer = nn.Linear(3, 2)
    calls: list[tuple[str, bool]] = []
    layer.register_forward_pre_hook(lambda module, args: calls.append(("pre", False)))
    layer.register_forward_hook(lambda module, args, out: calls.append(("post", out.requires_grad)))
    x = torch.randn(4, 3)
    for name, context in (
        ("grad", torch.enable_grad),
        ("torch.no_grad()", torch.no_grad),
        ("torch.inference_mode()", torch.inference_mode),
    ):
        calls.clear()
        with context():
            layer(x)
        obs.expect(f"{name}: hook calls", calls, [("pre", False), ("post", name == "grad")])


@claim(
    "hook.grad-frozen",
    "`torch.autograd.grad(loss, [w, f])` with a tensor `f` that does not require grad "
    "raises `RuntimeError` (`One of the differentiated Tensors does not require grad`), also "
    "with `allow_unused=True` or `materialize_grads=True`.",
)
@deterministic
def _hook_grad_frozen(obs: Observer) -> None:
    w, f = torch.randn(3, requires_grad=True), torch.randn(3)
    for options in ({}, {"allow_unused": True}, {"materialize_grads": True}):
        loss = (w * f).sum()
        with obs.expect_raises(
            f"torch.autograd.grad(loss, [w, f], **{options})",
            RuntimeError,
            "One of the differentiated Tensors does not require grad",
        ):
            torch.autograd.grad(loss, [w, f], **options)  # type: ignore[arg-type]


@claim(
    "hook.grad-unused",
    "`torch.autograd.grad(loss, [w, u])` with a tensor `u` that requires grad but was not "
    "used to compute `loss` raises `RuntimeError` (`The differentiated Tensor at index 1 "
    "appears to not have been used in the graph`, telling to set `allow_unused=True`); "
    "with `allow_unused=True` it returns `None` for `u`, with `materialize_grads=True` "
    "zeros of `u`'s shape, and `materialize_grads=True` with `allow_unused=False` raises "
    "`ValueError`.",
    torch_versions=">=2.13",  # the records of other releases (evidence page)
)
@deterministic
def _hook_grad_unused(obs: Observer) -> None:
    w, u = torch.randn(3, requires_grad=True), torch.randn(2, requires_grad=True)

    def loss() -> torch.Tensor:
        return (w * 2).sum()

    with obs.expect_raises(
        "torch.autograd.grad(loss, [w, u])",
        RuntimeError,
        "The differentiated Tensor at index 1 appears to not have been used in the graph. "
        "Set allow_unused=True if this is the desired behavior.",
    ):
        torch.autograd.grad(loss(), [w, u])
    grads = torch.autograd.grad(loss(), [w, u], allow_unused=True)
    obs.expect("allow_unused=True: grads[1]", grads[1], None)
    grads = torch.autograd.grad(loss(), [w, u], materialize_grads=True)
    obs.expect("materialize_grads=True: grads[1].tolist()", grads[1].tolist(), [0.0, 0.0])
    with obs.expect_raises(
        "materialize_grads=True, allow_unused=False",
        ValueError,
        "Expected allow_unused to be True or not passed when materialize_grads=True",
    ):
        torch.autograd.grad(loss(), [w, u], allow_unused=False, materialize_grads=True)


@claim(
    "hook.grad-in-no-grad",
    "`torch.autograd.grad(loss, w)` for a `loss` recorded with gradients enabled works inside "
    "`torch.no_grad()` and inside `torch.inference_mode()`: it returns the same gradient as "
    "outside and leaves `w.grad` `None`; the gradient returned inside `torch.no_grad()` does "
    "not require grad, the one returned inside `torch.inference_mode()` is an inference "
    "tensor, and with `create_graph=True` the one returned inside `torch.no_grad()` has a "
    "`grad_fn`.",
)
@deterministic
def _hook_grad_in_no_grad(obs: Observer) -> None:
    w = torch.randn(3, requires_grad=True)

    def loss() -> torch.Tensor:
        return (w * w).sum()

    (outside,) = torch.autograd.grad(loss(), w)
    graph = loss()
    with torch.no_grad():
        (inside,) = torch.autograd.grad(graph, w)
    obs.expect("no_grad: torch.equal(grad, grad outside)", torch.equal(inside, outside), True)
    obs.expect("no_grad: grad.requires_grad", inside.requires_grad, False)
    graph = loss()
    with torch.inference_mode():
        (inference,) = torch.autograd.grad(graph, w)
    obs.expect("inference_mode: torch.equal", torch.equal(inference, outside), True)
    obs.expect("inference_mode: torch.is_inference(grad)", torch.is_inference(inference), True)
    graph = loss()
    with torch.no_grad():
        (second,) = torch.autograd.grad(graph, w, create_graph=True)
    obs.expect(
        "no_grad, create_graph=True: grad.grad_fn is not None", second.grad_fn is not None, True
    )
    obs.expect("w.grad is None", w.grad is None, True)
