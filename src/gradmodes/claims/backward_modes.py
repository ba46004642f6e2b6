"""Claims about ``backward()`` called inside ``no_grad`` / ``inference_mode``, and about
models built, converted or loaded under ``inference_mode`` that are then trained (issue 10
topic 10)."""

from __future__ import annotations

import copy
import io

import torch
from torch import nn

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim

__all__: list[str] = []

_INPLACE = "Inplace update to inference tensor outside InferenceMode is not allowed"
_SAVED = "Inference tensors cannot be saved for backward"


@claim(
    "bwd.no-grad",
    "`loss.backward()` called inside `torch.no_grad()` for a `loss` recorded with gradients "
    "enabled runs the backward: the parameters get the same gradients as from a backward "
    "outside the block, and those gradients do not require grad.",
)
@deterministic
def _bwd_no_grad(obs: Observer) -> None:
    layer = nn.Linear(3, 2)
    x = torch.randn(4, 3)
    layer(x).square().sum().backward()
    expected = [p.grad.clone() for p in layer.parameters()]  # type: ignore[union-attr]
    layer.zero_grad()
    loss = layer(x).square().sum()
    with torch.no_grad():
        loss.backward()
    grads = [p.grad for p in layer.parameters()]
    obs.expect("inside no_grad: {p.grad is None}", {g is None for g in grads}, {False})
    obs.expect(
        "inside no_grad: gradients equal those from outside",
        all(torch.equal(g, e) for g, e in zip(grads, expected, strict=True)),  # type: ignore[arg-type]
        True,
    )
    obs.expect("{p.grad.requires_grad}", {g.requires_grad for g in grads}, {False})  # type: ignore[union-attr]


@claim(
    "bwd.inference-mode",
    "`loss.backward()` called inside `torch.inference_mode()` runs too and gives the same "
    "gradients, but each `.grad` it creates is an inference tensor: the next backward, "
    "outside the mode, which adds into that `.grad` in place, raises `RuntimeError` "
    "(`Inplace update to inference tensor outside InferenceMode is not allowed`), and it "
    "does not when `zero_grad()` (which sets `.grad` to `None`) runs first.",
)
@deterministic
def _bwd_inference_mode(obs: Observer) -> None:
    layer = nn.Linear(3, 2)
    x = torch.randn(4, 3)
    layer(x).square().sum().backward()
    expected = layer.weight.grad.clone()  # type: ignore[union-attr]
    layer.zero_grad()
    loss = layer(x).square().sum()
    with torch.inference_mode():
        loss.backward()
    grad = layer.weight.grad
    obs.expect("torch.equal(weight.grad, grad from outside)", torch.equal(grad, expected), True)  # type: ignore[arg-type]
    obs.expect("torch.is_inference(weight.grad)", torch.is_inference(grad), True)  # type: ignore[arg-type]
    with obs.expect_raises("next backward outside the mode", RuntimeError, _INPLACE):
        layer(x).square().sum().backward()
    layer.zero_grad()
    loss = layer(x).square().sum()
    with torch.inference_mode():
        loss.backward()
    layer.zero_grad()
    layer(x).square().sum().backward()
    obs.expect(
        "zero_grad() first: torch.is_inference(weight.grad)",
        torch.is_inference(layer.weight.grad),  # type: ignore[arg-type]
        False,
    )


def _built_inside(make: type[nn.Module] | object, *args: object) -> nn.Module:
    with torch.inference_mode():
        return make(*args)  # type: ignore[operator,no-any-return]


@claim(
    "bwd.built-inside",
    "A module built under `torch.inference_mode()` has parameters that are inference tensors "
    "and require grad; trained outside the mode on an input that does not require grad, "
    "`nn.Linear(3, 2)` gives its bias a gradient and its weight none, without an error (its "
    "weight enters through a transposed view, which, taken outside the mode, does not require "
    "grad); on an input that requires grad its forward raises `RuntimeError` (`Inference "
    "tensors cannot be saved for backward`), and `optimizer.step()` on its parameters "
    "raises `RuntimeError` (`Inplace update to inference tensor outside InferenceMode is not "
    "allowed`).",
)
@deterministic
def _bwd_built_inside(obs: Observer) -> None:
    layer = _built_inside(nn.Linear, 3, 2)
    obs.expect(
        "{(torch.is_inference(p), p.requires_grad)}",
        {(torch.is_inference(p), p.requires_grad) for p in layer.parameters()},
        {(True, True)},
    )
    obs.expect("layer.weight.t().requires_grad", layer.weight.t().requires_grad, False)
    layer(torch.randn(4, 3)).sum().backward()
    obs.expect(
        "(weight.grad is None, bias.grad is None)",
        (layer.weight.grad is None, layer.bias.grad is None),
        (True, False),
    )
    with obs.expect_raises("layer(x that requires grad)", RuntimeError, _SAVED):
        layer(torch.randn(4, 3, requires_grad=True))
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    with obs.expect_raises("optimizer.step()", RuntimeError, _INPLACE):
        optimizer.step()


@claim(
    "bwd.built-inside-layers",
    "Built under `torch.inference_mode()` and trained outside it on an input that does not "
    "require grad, `nn.Conv1d(2, 2, 3)` and `nn.LayerNorm(3)` raise `RuntimeError` "
    "(`Inference tensors cannot be saved for backward`) in their forward, `nn.BatchNorm1d(3)` "
    "in train mode raises `RuntimeError` (`Inplace update to inference tensor outside "
    "InferenceMode is not allowed`) when it updates its running statistics, and "
    "`nn.Embedding(5, 3)` trains (its weight gets a gradient).",
)
@deterministic
def _bwd_built_inside_layers(obs: Observer) -> None:
    cases = {
        "Conv1d(2, 2, 3)": (nn.Conv1d, (2, 2, 3), torch.randn(1, 2, 5), _SAVED),
        "LayerNorm(3)": (nn.LayerNorm, (3,), torch.randn(2, 3), _SAVED),
        "BatchNorm1d(3)": (nn.BatchNorm1d, (3,), torch.randn(4, 3), _INPLACE),
    }
    for name, (cls, args, x, message) in cases.items():
        module = _built_inside(cls, *args)
        with obs.expect_raises(f"{name}: module(x)", RuntimeError, message):
            module(x)
    embedding = _built_inside(nn.Embedding, 5, 3)
    embedding(torch.tensor([1, 2])).sum().backward()
    obs.expect("Embedding: weight.grad is not None", embedding.weight.grad is not None, True)


@claim(
    "bwd.loaded",
    "`model.load_state_dict(state)` called under `torch.inference_mode()` copies the values "
    "into the model's own parameters, which stay normal tensors and train afterwards; a "
    "state dict loaded with `torch.load` under `torch.inference_mode()` holds inference "
    "tensors, `load_state_dict` of it outside the mode also gives normal parameters, and "
    "`load_state_dict(state, assign=True)` of it raises `RuntimeError` (`Setting "
    "requires_grad=True on inference tensor outside InferenceMode is not allowed`).",
)
@deterministic
def _bwd_loaded(obs: Observer) -> None:
    source = nn.Linear(3, 2)
    model = nn.Linear(3, 2)
    with torch.inference_mode():
        model.load_state_dict(source.state_dict())
    obs.expect("values copied", torch.equal(model.weight, source.weight), True)
    obs.expect(
        "{torch.is_inference(p)}", {torch.is_inference(p) for p in model.parameters()}, {False}
    )
    model(torch.randn(4, 3, requires_grad=True)).sum().backward()
    obs.expect("weight.grad is not None", model.weight.grad is not None, True)

    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    with torch.inference_mode():
        state = torch.load(buffer)
    obs.expect(
        "torch.load under inference_mode: {is_inference}",
        {torch.is_inference(v) for v in state.values()},
        {True},
    )
    fresh = nn.Linear(3, 2)
    fresh.load_state_dict(state)
    obs.expect(
        "load_state_dict outside: {is_inference}",
        {torch.is_inference(p) for p in fresh.parameters()},
        {False},
    )
    with obs.expect_raises(
        "load_state_dict(state, assign=True)",
        RuntimeError,
        "Setting requires_grad=True on inference tensor outside InferenceMode is not allowed",
    ):
        nn.Linear(3, 2).load_state_dict(state, assign=True)


@claim(
    "bwd.converted",
    "`model.double()` called under `torch.inference_mode()` on a float32 model replaces its "
    "parameters by inference tensors, so that training it outside the mode raises "
    "`RuntimeError` (`Inference tensors cannot be saved for backward`), while "
    "`model.to(torch.float32)` on it leaves the parameters as they were; `copy.deepcopy` of "
    "a model built under `torch.inference_mode()` gives normal parameters that train.",
)
@deterministic
def _bwd_converted(obs: Observer) -> None:
    model = nn.Linear(3, 2)
    weight = model.weight
    with torch.inference_mode():
        model.to(torch.float32)
    obs.expect("to(torch.float32): model.weight is weight", model.weight is weight, True)
    obs.expect("to(torch.float32): torch.is_inference", torch.is_inference(model.weight), False)
    with torch.inference_mode():
        model.double()
    obs.expect(
        "double(): {torch.is_inference(p)}",
        {torch.is_inference(p) for p in model.parameters()},
        {True},
    )
    with obs.expect_raises("double(): training forward", RuntimeError, _SAVED):
        model(torch.randn(4, 3, dtype=torch.float64, requires_grad=True))
    copied = copy.deepcopy(_built_inside(nn.Linear, 3, 2))
    obs.expect(
        "deepcopy: {torch.is_inference(p)}",
        {torch.is_inference(p) for p in copied.parameters()},
        {False},
    )
    copied(torch.randn(4, 3, requires_grad=True)).sum().backward()
    obs.expect(
        "deepcopy: {p.grad is not None}", {p.grad is not None for p in copied.parameters()}, {True}
    )
