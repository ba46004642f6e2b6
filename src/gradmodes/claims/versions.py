"""Claims about ``.data`` versus ``detach()``, version counters, and in-place updates between
forward and backward (issue 10 topic 9)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim

__all__: list[str] = []

_MODIFIED = (
    "one of the variables needed for gradient computation has been modified by an inplace operation"
)


def _raised(run: Callable[[], object]) -> str | None:
    """The first line of the RuntimeError ``run()`` raised; ``None`` if it raised none."""
    try:
        run()
    except RuntimeError as exc:
        return str(exc).splitlines()[0]
    return None


@claim(
    "ver.counter",
    "Each of `add_`, `mul_`, `zero_`, `copy_` and an indexed assignment `t[0] = 1.0` adds 1 "
    "to the `_version` of a tensor `t` that is not an inference tensor, also under "
    "`torch.no_grad()` and under `torch.inference_mode()`; an out-of-place operation leaves "
    "it as it was; a view (`t[1:]`) and `t.detach()` share `t`'s counter, while `t.data` has "
    "its own, which starts at 0; for a `t` that requires grad, both `t.detach()` and "
    "`t.data` share `t`'s storage and do not require grad; an inference tensor, such as "
    "`torch.zeros(4)` created inside `torch.inference_mode()`, has no counter: reading its "
    "`_version` raises `RuntimeError` (`Inference tensors do not track version counter`).",
)
@deterministic
def _ver_counter(obs: Observer) -> None:
    t = torch.zeros(4)
    steps = {
        "t.add_(1)": lambda: t.add_(1),
        "t.mul_(2)": lambda: t.mul_(2),
        "t.zero_()": lambda: t.zero_(),
        "t.copy_(torch.ones(4))": lambda: t.copy_(torch.ones(4)),
        "t[0] = 1.0": lambda: t.__setitem__(0, 1.0),
    }
    for context_name, context in (
        ("grad", torch.enable_grad),
        ("torch.no_grad()", torch.no_grad),
        ("torch.inference_mode()", torch.inference_mode),
    ):
        for step, run in steps.items():
            before = t._version
            with context():
                run()
            obs.expect(f"{context_name}: {step}; t._version - before", t._version - before, 1)
    before = t._version
    _ = t + 1, t.exp(), t.sum()
    obs.expect("t + 1, t.exp(), t.sum(): t._version - before", t._version - before, 0)
    view, detached, data = t[1:], t.detach(), t.data
    obs.expect("view._version == t._version", view._version, t._version)
    obs.expect("t.data._version", data._version, 0)
    before = t._version
    view.add_(1)
    obs.expect("view.add_(1): t._version - before", t._version - before, 1)
    detached.add_(1)
    obs.expect("detached.add_(1): t._version - before", t._version - before, 2)
    t.data.add_(1)
    obs.expect("t.data.add_(1): t._version - before", t._version - before, 2)
    w = torch.randn(3, requires_grad=True)
    for name, other in (("w.detach()", w.detach()), ("w.data", w.data)):
        obs.expect(
            f"{name}: (shares storage, requires_grad)",
            (other.data_ptr() == w.data_ptr(), other.requires_grad),
            (True, False),
        )
    with torch.inference_mode():
        inference = torch.zeros(4)
    with obs.expect_raises(
        "inference tensor: _version", RuntimeError, "Inference tensors do not track version counter"
    ):
        _ = inference._version


@claim(
    "ver.detach-error",
    "For `t = w.exp()` (exp saves its result for backward), `t.detach().mul_(2)` makes "
    "`t.sum().backward()` raise `RuntimeError` (`one of the variables needed for gradient "
    "computation has been modified by an inplace operation`, naming the tensor's version: "
    "`is at version 1; expected version 0 instead`).",
)
@deterministic
def _ver_detach_error(obs: Observer) -> None:
    w = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
    t = w.exp()
    t.detach().mul_(2)
    with obs.expect_raises("t.detach().mul_(2); t.sum().backward()", RuntimeError, _MODIFIED):
        t.sum().backward()
    t = w.exp()
    t.detach().mul_(2)
    with obs.expect_raises(
        "the message names the versions",
        RuntimeError,
        "is at version 1; expected version 0 instead",
    ):
        t.sum().backward()


@claim(
    "ver.data-silent",
    "The same change through `.data`, `t.data.mul_(2)`, raises nothing: `t.sum().backward()` "
    "runs and gives `w.grad == 2 * exp(w)`, twice the true gradient `exp(w)`.",
)
@deterministic
def _ver_data_silent(obs: Observer) -> None:
    w = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
    t = w.exp()
    t.data.mul_(2)
    obs.expect("t.data.mul_(2); t.sum().backward() raises", _raised(t.sum().backward), None)
    true = w.detach().exp()
    obs.expect("torch.allclose(w.grad, 2 * exp(w))", torch.allclose(w.grad, 2 * true), True)
    obs.expect("torch.allclose(w.grad, exp(w))", torch.allclose(w.grad, true), False)


@claim(
    "ver.update-between",
    "For `loss = nn.Linear(3, 1)(x).sum()` with an input `x` that requires grad, updating "
    "the weight in place before `loss.backward()` (with `p.add_(1)` under `torch.no_grad()`, "
    "or with `SGD.step()` after an earlier backward of another loss) makes that backward "
    "raise the `modified by an inplace operation` `RuntimeError`; `weight.data.add_(1)` "
    "raises nothing, and `x.grad` is then computed from the updated weight; computing both "
    "backward passes before `SGD.step()` raises nothing.",
)
@deterministic
def _ver_update_between(obs: Observer) -> None:
    x = torch.randn(4, 3, requires_grad=True)
    layer = nn.Linear(3, 1)
    loss = layer(x).sum()
    with torch.no_grad():
        layer.weight.add_(1)
    with obs.expect_raises("no_grad weight.add_(1); loss.backward()", RuntimeError, _MODIFIED):
        loss.backward()

    layer = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    first, second = layer(x).sum(), layer(x).square().sum()
    first.backward(retain_graph=True)
    optimizer.step()
    with obs.expect_raises("first.backward(); step(); second.backward()", RuntimeError, _MODIFIED):
        second.backward()
    layer = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    first, second = layer(x).sum(), layer(x).square().sum()
    obs.expect("(first + second).backward() raises", _raised((first + second).backward), None)
    obs.expect("optimizer.step() raises", _raised(optimizer.step), None)

    layer = nn.Linear(3, 1)
    x.grad = None
    loss = layer(x).sum()
    layer.weight.data.add_(1)
    obs.expect("weight.data.add_(1); loss.backward() raises", _raised(loss.backward), None)
    updated = layer.weight.detach().expand(4, 3)
    obs.expect(
        "weight.data.add_(1): torch.equal(x.grad, new weight)", torch.equal(x.grad, updated), True
    )
