"""Claims about ``torch.func`` (``grad``, ``vmap``, ``functional_call``) and the switches.

The checks look the functions up as ``torch.func.grad`` (not imported by name), so that a
patched ``torch.func`` is what they check.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim

__all__: list[str] = []


def _outcome(compute: Callable[[], object]) -> object:
    """The value ``compute()`` returns, or ``"ErrorType: first line"`` if it raises."""
    try:
        return compute()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def _square_sum(x: torch.Tensor) -> torch.Tensor:
    return (x**2).sum()


@claim(
    "fn.grad-no-grad",
    "`torch.func.grad(f)(x)` computes the gradient inside `torch.no_grad()` and inside "
    "`torch.inference_mode()` too, for an `x` that does not require grad: for "
    "`f(x) = (x ** 2).sum()` it returns `2 * x`, a tensor that does not require grad; for an "
    "`x` that requires grad, the `2 * x` it returns requires grad (it has a `grad_fn`) with "
    "gradients enabled and does not under `torch.no_grad()`.",
    torch_versions=">=2.12",  # the records of other releases (evidence page)
)
@deterministic
def _fn_grad_no_grad(obs: Observer) -> None:
    x = torch.randn(3)
    obs.expect("x.requires_grad", x.requires_grad, False)
    for name, block in (("no_grad", torch.no_grad), ("inference_mode", torch.inference_mode)):
        with block():
            g = _outcome(lambda: torch.func.grad(_square_sum)(x))
        if isinstance(g, torch.Tensor):
            g = (torch.equal(g, 2 * x), g.requires_grad)
        obs.expect(f"with torch.{name}(): (grad == 2 * x, requires_grad)", g, (True, False))
    x.requires_grad_(True)
    for name, block in (("enable_grad", torch.enable_grad), ("no_grad", torch.no_grad)):
        with block():
            g = _outcome(lambda: torch.func.grad(_square_sum)(x))
        if isinstance(g, torch.Tensor):
            g = (torch.equal(g, 2 * x), g.requires_grad, g.grad_fn is not None)
        enabled = name == "enable_grad"
        obs.expect(
            f"x.requires_grad_(); with torch.{name}(): (grad == 2 * x, requires_grad, has grad_fn)",
            g,
            (True, enabled, enabled),
        )


@claim(
    "fn.inner-no-grad",
    "A `with torch.no_grad():` block inside the function is respected by `torch.func.grad`: "
    "for `f(x) = (y * x).sum()` with `y = 2 * x` computed in the block, `torch.func.grad(f)(x)` is "
    "`2 * x` (`y` is a constant), not `4 * x`.",
)
@deterministic
def _fn_inner_no_grad(obs: Observer) -> None:
    def f(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            y = x * 2
        return (y * x).sum()

    x = torch.randn(3)
    g = torch.func.grad(f)(x)
    obs.expect("torch.equal(torch.func.grad(f)(x), 2 * x)", torch.equal(g, 2 * x), True)
    obs.expect("torch.equal(torch.func.grad(f)(x), 4 * x)", torch.equal(g, 4 * x), False)


@claim(
    "fn.frozen",
    "`torch.func.grad` differentiates with respect to the tensors it is given, whatever their "
    "`requires_grad`: with the parameters of a frozen `nn.Linear(3, 1)` passed through "
    "`torch.func.functional_call`, it returns their gradients (`x` for the weight, 1 for the "
    "bias), and the parameters' `.grad` stays `None`.",
)
@deterministic
def _fn_frozen(obs: Observer) -> None:
    layer = nn.Linear(3, 1).requires_grad_(False)
    params = dict(layer.named_parameters())
    x = torch.randn(3)

    def loss(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.func.functional_call(layer, p, (x,)).sum()

    grads = torch.func.grad(loss)(params)
    obs.expect(
        "{p.requires_grad for p in layer.parameters()}",
        {p.requires_grad for p in layer.parameters()},
        {False},
    )
    obs.expect("torch.equal(grads['weight'], x[None])", torch.equal(grads["weight"], x[None]), True)
    obs.expect("grads['bias'].tolist()", grads["bias"].tolist(), [1.0])
    obs.expect("layer.weight.grad is None", layer.weight.grad is None, True)


@claim(
    "fn.functional-call-mode",
    "`torch.func.functional_call` runs the module in its own mode: a `Dropout(0.5)` in train "
    "mode zeroes elements, and after `eval()` it returns its input unchanged.",
)
@deterministic
def _fn_functional_call_mode(obs: Observer) -> None:
    dropout = nn.Dropout(0.5)
    ones = torch.ones(100)
    obs.expect(
        "train mode: zeros in the output",
        bool((torch.func.functional_call(dropout, {}, (ones,)) == 0).any()),
        True,
    )
    dropout.eval()
    obs.expect(
        "eval mode: output == input",
        torch.equal(torch.func.functional_call(dropout, {}, (ones,)), ones),
        True,
    )


@claim(
    "fn.vmap-dropout",
    "`torch.func.vmap` over a `Dropout(0.5)` in train mode raises `RuntimeError` (`vmap: called "
    'random operation while in randomness error mode`) with the default `randomness="error"`; '
    'in eval mode it runs; with `randomness="different"` the samples\' masks differ, with '
    '`"same"` they are all equal.',
)
@deterministic
def _fn_vmap_dropout(obs: Observer) -> None:
    dropout = nn.Dropout(0.5)
    batch = torch.ones(8, 16)
    with obs.expect_raises(
        "torch.func.vmap(dropout)(batch) in train mode", RuntimeError, "randomness error mode"
    ):
        torch.func.vmap(dropout)(batch)
    different = torch.func.vmap(dropout, randomness="different")(batch)
    same = torch.func.vmap(dropout, randomness="same")(batch)
    obs.expect(
        "randomness='different': rows differ",
        not all(torch.equal(r, different[0]) for r in different),
        True,
    )
    obs.expect("randomness='same': rows equal", all(torch.equal(r, same[0]) for r in same), True)
    dropout.eval()
    obs.expect(
        "eval mode: torch.func.vmap(dropout)(batch) == batch",
        torch.equal(torch.func.vmap(dropout)(batch), batch),
        True,
    )


@claim(
    "fn.vmap-batchnorm",
    "`torch.func.vmap` over a `BatchNorm1d` in train mode raises `RuntimeError` (`Batch norm "
    "got a batched tensor as input while the running_mean or running_var, which will be "
    "updated in place, were not batched`), whose advice is to set `track_running_stats` to "
    "`False`; in eval mode it runs, and so does one built with `track_running_stats=False` in "
    "train mode.",
)
@deterministic
def _fn_vmap_batchnorm(obs: Observer) -> None:
    bn = nn.BatchNorm1d(4)
    batch = torch.randn(3, 2, 4)  # 3 samples for vmap, each a batch of 2
    with obs.expect_raises(
        "torch.func.vmap(bn)(batch) in train mode",
        RuntimeError,
        "Batch norm got a batched tensor as input",
    ):
        torch.func.vmap(bn)(batch)
    with obs.expect_raises(
        "torch.func.vmap(bn)(batch) in train mode",
        RuntimeError,
        "`track_running_stats` to be False",
    ):
        torch.func.vmap(bn)(batch)
    bn.eval()
    obs.expect(
        "eval mode: torch.func.vmap(bn)(batch).shape",
        tuple(torch.func.vmap(bn)(batch).shape),
        (3, 2, 4),
    )
    untracked = nn.BatchNorm1d(4, track_running_stats=False).train()
    obs.expect(
        "BatchNorm1d(4, track_running_stats=False), train mode: torch.func.vmap(bn)(batch).shape",
        _outcome(lambda: tuple(torch.func.vmap(untracked)(batch).shape)),
        (3, 2, 4),
    )
