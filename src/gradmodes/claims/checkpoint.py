"""Claims of the checkpointing page: `torch.utils.checkpoint` with frozen inputs and layers,
both `use_reentrant` settings, Dropout and BatchNorm inside, and the grad modes.

Every check calls ``torch.utils.checkpoint.checkpoint`` through the module attribute, so
a patched ``checkpoint`` is the one checked.
"""

from __future__ import annotations

import functools
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.utils.checkpoint
from torch import nn

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim
from gradmodes.models import mlp
from gradmodes.probes import count_saved

__all__: list[str] = []

NONE_REQUIRE_GRAD = "None of the inputs have requires_grad=True. Gradients will be None"
PASS_EXPLICITLY = "the use_reentrant parameter should be passed explicitly"
DIFFERENT_NUMBER = "A different number of tensors was saved during the original forward"
VARIANTS = (True, False)


@contextmanager
def _warnings() -> Iterator[list[str]]:
    """The messages of the warnings raised in the block (each once, in order)."""
    seen: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield seen
    seen.extend(dict.fromkeys(str(w.message) for w in caught))


def _ckpt(function: Callable[..., torch.Tensor], *args: torch.Tensor, **kwargs: object):
    return torch.utils.checkpoint.checkpoint(function, *args, **kwargs)


def _grads(module: nn.Module) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.clone() for p in module.parameters()]


def _same(a: list[torch.Tensor | None], b: list[torch.Tensor | None]) -> bool:
    return len(a) == len(b) and all(
        (x is None and y is None) or (x is not None and y is not None and torch.equal(x, y))
        for x, y in zip(a, b, strict=True)
    )


def _linear_and_head(device: torch.device) -> tuple[nn.Linear, nn.Linear, torch.Tensor]:
    return nn.Linear(4, 4).to(device), nn.Linear(4, 1).to(device), torch.randn(8, 4, device=device)


@claim(
    "ckpt.reentrant-frozen-input",
    "With `use_reentrant=True`, when no tensor input of the checkpointed function requires "
    "grad, `checkpoint` warns `None of the inputs have requires_grad=True`, adding `Gradients "
    "will be None`, its output does not require grad, and `backward()` gives the parameters inside "
    "the function no `.grad`, even when the loss also goes through a trainable layer after it.",
)
@deterministic
def _ckpt_reentrant_frozen_input(obs: Observer) -> None:
    inner, head, x = _linear_and_head(obs.device)
    with _warnings() as seen:
        y = _ckpt(inner, x, use_reentrant=True)
    obs.expect("warnings of checkpoint(inner, x, use_reentrant=True)", seen, [NONE_REQUIRE_GRAD])
    obs.expect("y.requires_grad", y.requires_grad, False)
    head(y).sum().backward()
    obs.expect("inner.weight.grad is None", inner.weight.grad is None, True)
    obs.expect("head.weight.grad is None", head.weight.grad is None, False)


@claim(
    "ckpt.non-reentrant-frozen-input",
    "With `use_reentrant=False`, for an input that does not require grad, `checkpoint` warns "
    "nothing and `backward()` gives the parameters inside the function exactly the gradients "
    "they get without checkpointing.",
)
@deterministic
def _ckpt_non_reentrant_frozen_input(obs: Observer) -> None:
    inner, head, x = _linear_and_head(obs.device)
    head(inner(x)).sum().backward()
    expected = _grads(inner)
    inner.zero_grad(set_to_none=True)
    with _warnings() as seen:
        y = _ckpt(inner, x, use_reentrant=False)
    obs.expect("warnings of checkpoint(inner, x, use_reentrant=False)", seen, [])
    head(y).sum().backward()
    obs.expect(
        "inner's gradients equal those without checkpoint", _same(_grads(inner), expected), True
    )


@claim(
    "ckpt.default",
    "From torch 2.3, `checkpoint` called without `use_reentrant` warns `the use_reentrant "
    "parameter should be passed explicitly` and runs the reentrant variant: for an input that "
    "does not require grad it also warns `None of the inputs have requires_grad=True`, and the "
    "parameters inside get no gradient.",
    torch_versions=">=2.3",  # the records of other releases (evidence page)
)
@deterministic
def _ckpt_default(obs: Observer) -> None:
    inner, head, x = _linear_and_head(obs.device)
    with _warnings() as seen:
        y = _ckpt(inner, x)
    obs.expect("number of warnings of checkpoint(inner, x)", len(seen), 2)
    obs.expect(f"{PASS_EXPLICITLY!r} in the first warning", PASS_EXPLICITLY in seen[0], True)
    obs.expect("the second warning", seen[1], NONE_REQUIRE_GRAD)
    head(y).sum().backward()
    obs.expect("inner.weight.grad is None", inner.weight.grad is None, True)


@claim(
    "ckpt.frozen-layers",
    "When every parameter inside the checkpointed function is frozen and its input requires "
    "grad, `checkpoint` with either `use_reentrant` setting gives the input exactly the "
    "gradient it gets without checkpointing, without a warning, and the frozen parameters keep "
    "`.grad` `None`.",
)
@deterministic
def _ckpt_frozen_layers(obs: Observer) -> None:
    net = mlp(8).to(obs.device).requires_grad_(False)
    x = torch.randn(4, 8, device=obs.device, requires_grad=True)
    (expected,) = torch.autograd.grad(net(x).square().sum(), x)
    for reentrant in VARIANTS:
        x.grad = None
        where = f"use_reentrant={reentrant}"
        with _warnings() as seen:
            y = _ckpt(net, x, use_reentrant=reentrant)
        obs.expect(f"{where}: warnings", seen, [])
        obs.expect(f"{where}: output requires grad", y.requires_grad, True)
        y.square().sum().backward()
        obs.expect(
            f"{where}: x.grad equals the gradient without checkpoint",
            x.grad is not None and torch.equal(x.grad, expected),
            True,
        )
        obs.expect(
            f"{where}: every frozen p.grad is None",
            all(p.grad is None for p in net.parameters()),
            True,
        )


@claim(
    "ckpt.recompute",
    "With either `use_reentrant` setting, `backward()` runs the checkpointed function again: "
    "for `mlp(8)`, a forward hook on its first layer fires once in the forward pass and once "
    "more during `backward()`; with `use_reentrant=True` so do forward hooks on its last layer "
    "and on the whole function, while with `use_reentrant=False` the recomputation stops as "
    "soon as it has recomputed every tensor backward needs, inside the last layer, so that a "
    "forward hook on the last layer, like one on the whole function, fires only once.",
)
@deterministic
def _ckpt_recompute(obs: Observer) -> None:
    for reentrant in VARIANTS:
        net = mlp(8).to(obs.device)
        calls: dict[str, list[str]] = {"net[0]": [], "net[2]": [], "net": []}
        for name, module in (("net[0]", net[0]), ("net[2]", net[2]), ("net", net)):
            module.register_forward_hook(lambda *_, seen=calls[name]: seen.append("call"))
        x = torch.randn(4, 8, device=obs.device, requires_grad=True)
        y = _ckpt(net, x, use_reentrant=reentrant)
        where = f"use_reentrant={reentrant}"
        for name, seen in calls.items():
            obs.expect(f"{where}: {name} hook calls after the forward", len(seen), 1)
        y.sum().backward()
        for name, seen in calls.items():
            again = name == "net[0]" or reentrant
            obs.expect(f"{where}: {name} hook calls after backward()", len(seen), 2 if again else 1)


def _relu_output_alive(
    net: nn.Sequential, run: Callable[[], torch.Tensor]
) -> tuple[torch.Tensor, bool]:
    """Run ``run()``; whether the ReLU's first output is still alive after it."""
    refs: list[weakref.ref[torch.Tensor]] = []
    handle = net[1].register_forward_hook(lambda _m, _a, out: refs.append(weakref.ref(out)))
    try:
        y = run()
    finally:
        handle.remove()
    return y, refs[0]() is not None


@claim(
    "ckpt.memory",
    "For `mlp(64)` (`Linear(64, 64)`-`ReLU`-`Linear(64, 64)`) on a float32 batch of 32 that "
    "does not require grad, checkpointed with `use_reentrant=False`, the tensors saved for "
    "backward reference 8192 bytes (the input) and hold no storage besides the input and the "
    "parameters, and the ReLU output is freed after the forward; without checkpointing they "
    "reference 40960 bytes and hold 8192 bytes of other storage, the ReLU output, alive until "
    "backward.",
)
@deterministic
def _ckpt_memory(obs: Observer) -> None:
    net = mlp(64).to(obs.device)
    x = torch.randn(32, 64, device=obs.device)
    exclude = [x, *net.parameters()]
    for checkpointed in (False, True):
        if checkpointed:
            forward = functools.partial(_ckpt, net, x, use_reentrant=False)
        else:
            forward = functools.partial(net, x)
        with count_saved(exclude=exclude) as saved:
            y, alive = _relu_output_alive(net, forward)
        where = "checkpoint(net, x, use_reentrant=False)" if checkpointed else "net(x)"
        obs.expect(
            f"{where}: bytes referenced by saved tensors",
            saved.bytes,
            8192 if checkpointed else 40960,
        )
        obs.expect(
            f"{where}: storage bytes besides x and parameters",
            saved.storage_bytes,
            0 if checkpointed else 8192,
        )
        obs.expect(f"{where}: ReLU output alive after the forward", alive, not checkpointed)
        y.sum().backward()


def _dropout_block(device: torch.device) -> nn.Sequential:
    return nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 1)).to(device)


@claim(
    "ckpt.dropout-rng",
    "With either `use_reentrant` setting, a `Dropout` inside the checkpointed function zeroes "
    "the same elements in the recomputation as in the forward pass (the default "
    "`preserve_rng_state=True`), so the gradients equal those without checkpointing; with "
    "`preserve_rng_state=False` the recomputation draws a new mask and the gradients differ, "
    "without an error or a warning.",
    torch_versions="!=2.4.*",  # the records of other releases (evidence page)
)
@deterministic
def _ckpt_dropout_rng(obs: Observer) -> None:
    block = _dropout_block(obs.device)
    x = torch.randn(16, 8, device=obs.device, requires_grad=True)
    torch.manual_seed(1)
    block(x).sum().backward()
    expected = _grads(block)
    for reentrant in VARIANTS:
        for preserve in (True, False):
            block.zero_grad(set_to_none=True)
            torch.manual_seed(1)
            with _warnings() as seen:
                y = _ckpt(block, x, use_reentrant=reentrant, preserve_rng_state=preserve)
                y.sum().backward()
            where = f"use_reentrant={reentrant}, preserve_rng_state={preserve}"
            obs.expect(
                f"{where}: gradients equal those without checkpoint",
                _same(_grads(block), expected),
                preserve,
            )
            obs.expect(f"{where}: warnings", seen, [])


def _bn_block(device: torch.device) -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).to(device)


@claim(
    "ckpt.batchnorm-twice",
    "With either `use_reentrant` setting, a `BatchNorm1d` in train mode inside the "
    "checkpointed function updates its running statistics twice per training step, in the "
    "forward and in the recomputation: `num_batches_tracked` grows by 2 and `running_mean` "
    "ends where two forward passes on that batch put it; in eval mode it updates nothing and "
    "the gradients equal those without checkpointing.",
)
@deterministic
def _ckpt_batchnorm_twice(obs: Observer) -> None:
    x = torch.randn(8, 4, device=obs.device, requires_grad=True)
    twice = _bn_block(obs.device)
    state = {k: v.clone() for k, v in twice.state_dict().items()}
    twice(x), twice(x)
    for reentrant in VARIANTS:
        block = _bn_block(obs.device)
        block.load_state_dict(state)
        _ckpt(block, x, use_reentrant=reentrant).sum().backward()
        where = f"train, use_reentrant={reentrant}"
        obs.expect(f"{where}: num_batches_tracked", block[1].num_batches_tracked.item(), 2)
        obs.expect(
            f"{where}: running_mean equals after two forwards",
            torch.equal(block[1].running_mean, twice[1].running_mean),
            True,
        )
        block.eval()
        plain = _bn_block(obs.device)
        plain.load_state_dict(block.state_dict())
        plain.eval()
        plain(x).sum().backward()
        before = block[1].running_mean.clone()
        block.zero_grad(set_to_none=True)
        _ckpt(block, x, use_reentrant=reentrant).sum().backward()
        where = f"eval, use_reentrant={reentrant}"
        obs.expect(f"{where}: num_batches_tracked", block[1].num_batches_tracked.item(), 2)
        obs.expect(
            f"{where}: running_mean unchanged", torch.equal(block[1].running_mean, before), True
        )
        obs.expect(
            f"{where}: gradients equal those without checkpoint",
            _same(_grads(block), _grads(plain)),
            True,
        )


def _mode_block(device: torch.device) -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4), nn.Linear(4, 1)).to(
        device
    )


@claim(
    "ckpt.mode-switch",
    "Switching to eval mode between the forward pass and `backward()` makes the recomputation "
    "run in eval mode: for a block of `Linear`, `Dropout`, `BatchNorm1d` and `Linear`, "
    "`use_reentrant=True` silently gives gradients that differ from those of the train-mode "
    "forward, and `use_reentrant=False` makes `backward()` raise `CheckpointError` (`A "
    "different number of tensors was saved during the original forward and recomputation`).",
)
@deterministic
def _ckpt_mode_switch(obs: Observer) -> None:
    x = torch.randn(8, 4, device=obs.device, requires_grad=True)
    reference = _mode_block(obs.device)
    state = {k: v.clone() for k, v in reference.state_dict().items()}
    torch.manual_seed(1)
    reference(x).sum().backward()
    expected = _grads(reference)
    for reentrant in VARIANTS:
        block = _mode_block(obs.device)
        block.load_state_dict(state)
        torch.manual_seed(1)
        y = _ckpt(block, x, use_reentrant=reentrant)
        block.eval()
        where = f"use_reentrant={reentrant}, eval() before backward()"
        if reentrant:
            y.sum().backward()
            obs.expect(
                f"{where}: gradients equal the train-mode ones",
                _same(_grads(block), expected),
                False,
            )
        else:
            with obs.expect_raises(where, torch.utils.checkpoint.CheckpointError, DIFFERENT_NUMBER):
                y.sum().backward()


@claim(
    "ckpt.no-grad",
    "Under `torch.no_grad()` or `torch.inference_mode()`, `checkpoint` with either "
    "`use_reentrant` setting runs the function once, saves nothing for backward and returns "
    "an output that does not require grad, also for an input that requires grad; it warns "
    "nothing, except that with `use_reentrant=True` an input that does not require grad "
    "still gets the warning `None of the inputs have requires_grad=True`.",
)
@deterministic
def _ckpt_no_grad(obs: Observer) -> None:
    net = mlp(8).to(obs.device)
    calls: list[str] = []
    net.register_forward_hook(lambda *_: calls.append("forward"))
    for mode, context in (("no_grad", torch.no_grad), ("inference_mode", torch.inference_mode)):
        for reentrant in VARIANTS:
            for needs_grad in (True, False):
                x = torch.randn(4, 8, device=obs.device, requires_grad=needs_grad)
                calls.clear()
                with _warnings() as seen, count_saved() as saved, context():
                    y = _ckpt(net, x, use_reentrant=reentrant)
                where = f"{mode}, use_reentrant={reentrant}, x.requires_grad={needs_grad}"
                obs.expect(f"{where}: calls", len(calls), 1)
                obs.expect(f"{where}: saved tensors", saved.count, 0)
                warned = [NONE_REQUIRE_GRAD] if reentrant and not needs_grad else []
                obs.expect(f"{where}: warnings", seen, warned)
                obs.expect(f"{where}: output requires_grad", y.requires_grad, False)
