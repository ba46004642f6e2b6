"""Claims of the parameter-efficient fine-tuning page: a LoRA adapter over a frozen base.

The model is ``mlp(64)`` (``Linear(64, 64)``-``ReLU``-``Linear(64, 64)``, 8320 parameters)
with :func:`gradmodes.lora.add_lora` rank-4 adapters on both ``Linear`` layers, on a
float32 batch of 32 that does not require grad. Every figure is an exact byte count.
"""

from __future__ import annotations

import warnings

import torch
import torch.utils.checkpoint
from torch import nn

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim
from gradmodes.lora import add_lora
from gradmodes.models import mlp
from gradmodes.probes import count_saved

__all__: list[str] = []

NONE_REQUIRE_GRAD = "None of the inputs have requires_grad=True. Gradients will be None"


def _model(kind: str, device: torch.device) -> nn.Module:
    """``"full"``: every parameter trainable; ``"lora"``: frozen base with adapters."""
    torch.manual_seed(0)
    model = mlp(64).to(device)
    if kind == "lora":
        add_lora(model, "0", "2", rank=4)
    return model


def _trainable(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def _bytes(tensors: list[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


@claim(
    "lora.frozen",
    "After `add_lora(mlp(64), '0', '2', rank=4)`, 1024 of the model's 9344 parameters are "
    "trainable, the adapters' `lora_a` and `lora_b`; the base layers' weights and biases have "
    "`requires_grad=False`, every module's train/eval mode is as it was, and before training "
    "the adapted model computes exactly what the base model computes.",
)
@deterministic
def _lora_frozen(obs: Observer) -> None:
    base = _model("full", obs.device)
    model = _model("lora", obs.device)
    obs.expect("trainable parameters", sum(p.numel() for p in _trainable(model)), 1024)
    obs.expect("all parameters", sum(p.numel() for p in model.parameters()), 9344)
    obs.expect(
        "names of the trainable parameters",
        [n for n, p in model.named_parameters() if p.requires_grad],
        ["0.lora_a", "0.lora_b", "2.lora_a", "2.lora_b"],
    )
    obs.expect(
        "{m.training for m in model.modules()}", {m.training for m in model.modules()}, {True}
    )
    evaluated = add_lora(_model("full", obs.device).eval(), "2", rank=4)
    obs.expect(
        "add_lora(model.eval(), '2'): {m.training for m in model.modules()}",
        {m.training for m in evaluated.modules()},
        {False},
    )
    x = torch.randn(32, 64, device=obs.device)
    obs.expect("torch.equal(model(x), base(x))", torch.equal(model(x), base(x)), True)


@claim(
    "lora.grads",
    "After one `backward()` of the adapted `mlp(64)`, only the adapters have a `.grad`: "
    "4096 bytes of gradients, where fine-tuning every parameter of `mlp(64)` holds 33280.",
)
@deterministic
def _lora_grads(obs: Observer) -> None:
    x = torch.randn(32, 64, device=obs.device)
    for kind, expected in (("full", 33280), ("lora", 4096)):
        model = _model(kind, obs.device)
        model(x).square().mean().backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        obs.expect(f"{kind}: bytes of .grad", _bytes(grads), expected)
        obs.expect(
            f"{kind}: parameters with a .grad are the trainable ones",
            len(grads) == len(_trainable(model)),
            True,
        )


@claim(
    "lora.adam",
    "`torch.optim.Adam` over the adapters of `mlp(64)` holds 8208 bytes of state after one "
    "step, `exp_avg` and `exp_avg_sq` (twice the adapters' 4096 bytes) and a 4-byte `step` per "
    "parameter, where over every parameter of `mlp(64)` it holds 66576.",
)
@deterministic
def _lora_adam(obs: Observer) -> None:
    x = torch.randn(32, 64, device=obs.device)
    for kind, expected in (("full", 66576), ("lora", 8208)):
        model = _model(kind, obs.device)
        optimizer = torch.optim.Adam(_trainable(model))
        model(x).square().mean().backward()
        optimizer.step()
        state = [t for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t)]
        keys = sorted({k for s in optimizer.state.values() for k in s})
        obs.expect(f"{kind}: state keys", keys, ["exp_avg", "exp_avg_sq", "step"])
        obs.expect(f"{kind}: bytes of optimizer state", _bytes(state), expected)
        trainable = _trainable(model)
        obs.expect(
            f"{kind}: 2 * trainable bytes + 4 per parameter",
            2 * _bytes(list(trainable)) + 4 * len(trainable),
            expected,
        )


@claim(
    "lora.activations",
    "The adapters do not shrink what the forward keeps for backward: the adapted `mlp(64)` "
    "saves tensors that reference 45056 bytes and hold 9216 bytes of storage besides the "
    "input and the parameters, against 40960 and 8192 for fine-tuning every parameter, because "
    "each adapted layer still saves its input for `lora_a`'s gradient.",
)
@deterministic
def _lora_activations(obs: Observer) -> None:
    x = torch.randn(32, 64, device=obs.device)
    for kind, referenced, storage in (("full", 40960, 8192), ("lora", 45056, 9216)):
        model = _model(kind, obs.device)
        with count_saved(exclude=[x, *model.parameters()]) as saved:
            model(x)
        obs.expect(f"{kind}: bytes referenced by saved tensors", saved.bytes, referenced)
        obs.expect(f"{kind}: storage bytes besides x and parameters", saved.storage_bytes, storage)


@claim(
    "lora.checkpoint",
    "Checkpointing the adapted `mlp(64)` with `use_reentrant=True` on an input that does not "
    "require grad warns `None of the inputs have requires_grad=True` and leaves the adapters "
    "without gradients, unless the input is made to require grad; with `use_reentrant=False` "
    "they get exactly the gradients they get without checkpointing, and the saved tensors "
    "reference 8192 bytes (the input) and hold no storage besides the input and the "
    "parameters.",
)
@deterministic
def _lora_checkpoint(obs: Observer) -> None:
    x = torch.randn(32, 64, device=obs.device)
    model = _model("lora", obs.device)
    model(x).square().mean().backward()
    expected = [p.grad.clone() for p in _trainable(model) if p.grad is not None]
    for reentrant, needs_grad in ((True, False), (True, True), (False, False)):
        model.zero_grad(set_to_none=True)
        inputs = x.clone().requires_grad_(needs_grad)
        where = f"use_reentrant={reentrant}, input requires_grad={needs_grad}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with count_saved(exclude=[inputs, *model.parameters()]) as saved:
                y = torch.utils.checkpoint.checkpoint(model, inputs, use_reentrant=reentrant)
        seen = [str(w.message) for w in caught]
        obs.expect(
            f"{where}: warnings", seen, [NONE_REQUIRE_GRAD] if reentrant and not needs_grad else []
        )
        obs.expect(f"{where}: output requires grad", y.requires_grad, not seen)
        if y.requires_grad:
            y.square().mean().backward()
        grads = [p.grad for p in _trainable(model)]
        obs.expect(
            f"{where}: adapter gradients equal those without checkpoint",
            all(g is not None and torch.equal(g, e) for g, e in zip(grads, expected, strict=True)),
            not seen,
        )
        if not reentrant:
            obs.expect(f"{where}: bytes referenced by saved tensors", saved.bytes, 8192)
            obs.expect(f"{where}: storage bytes besides x and parameters", saved.storage_bytes, 0)
