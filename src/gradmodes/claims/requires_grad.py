"""Claims about ``requires_grad = False``, i.e. freezing (claims.md section B)."""

from __future__ import annotations

import itertools

import torch
from torch import nn

from gradmodes.claims._common import deterministic, mlp_saved_bytes
from gradmodes.claims._registry import Observer, claim
from gradmodes.freeze import freeze, unfreeze
from gradmodes.models import SimpleModel, mlp
from gradmodes.probes import observe

__all__: list[str] = []


@claim(
    "rg.leaf-only",
    "Assigning `y.requires_grad` (to `False`, or even to `True`) or calling "
    "`y.requires_grad_(False)` on a non-leaf tensor `y` raises `RuntimeError` ('you can only "
    "change requires_grad flags of leaf variables'), while on a leaf tensor the flag can be "
    "switched either way.",
)
@deterministic
def _rg_leaf_only(obs: Observer) -> None:
    w = torch.randn(3, device=obs.device, requires_grad=True)
    y = w * 2
    obs.expect("y.is_leaf", y.is_leaf, False)
    message = "you can only change requires_grad flags of leaf variables"
    with obs.expect_raises("y.requires_grad = False", RuntimeError, message):
        y.requires_grad = False
    with obs.expect_raises("y.requires_grad = True", RuntimeError, message):
        y.requires_grad = True
    with obs.expect_raises("y.requires_grad_(False)", RuntimeError, message):
        y.requires_grad_(False)
    w.requires_grad = False
    obs.expect("w.requires_grad = False; w.requires_grad", w.requires_grad, False)
    w.requires_grad_(True)
    obs.expect("w.requires_grad_(True); w.requires_grad", w.requires_grad, True)


@claim(
    "rg.recorded-if-any",
    "An operation is recorded (its output gets a `grad_fn`) when at least one of its inputs "
    "requires grad: a frozen `Linear` fed by a trainable layer's output still records its "
    "operation, and the same frozen `Linear` fed a tensor that does not require grad records "
    "nothing.",
)
@deterministic
def _rg_recorded_if_any(obs: Observer) -> None:
    trainable, frozen = nn.Linear(4, 4).to(obs.device), nn.Linear(4, 4).to(obs.device)
    frozen.requires_grad_(False)
    x = torch.randn(2, 4, device=obs.device)
    y = frozen(trainable(x))
    obs.expect("frozen(trainable(x)).grad_fn is not None", y.grad_fn is not None, True)
    obs.record("type(frozen(trainable(x)).grad_fn).__name__", type(y.grad_fn).__name__)
    obs.expect("frozen(x).grad_fn is None", frozen(x).grad_fn is None, True)


@claim(
    "rg.no-grad-field",
    "After `backward()`, parameters with `requires_grad=False` keep `.grad` as `None`, while "
    "the trainable ones get a gradient.",
)
@deterministic
def _rg_no_grad_field(obs: Observer) -> None:
    model = SimpleModel().to(obs.device)
    model.bn.requires_grad_(False)
    x = torch.randn(16, 10, device=obs.device)
    seen = observe(model, x, backward=True)
    obs.expect(
        "model.bn.requires_grad_(False); observe(model, x, backward=True).params_with_grad",
        seen.params_with_grad,
        ("linear.weight", "linear.bias"),
    )
    model(x).sum().backward()
    obs.expect(
        "model(x).sum().backward(); model.bn.weight.grad is None",
        model.bn.weight.grad is None,
        True,
    )
    obs.expect(
        "isinstance(model.linear.weight.grad, torch.Tensor)",
        isinstance(model.linear.weight.grad, torch.Tensor),
        True,
    )


@claim(
    "rg.memory",
    "With an input that does not require grad, `Linear(64, 64)`-`ReLU`-`Linear(64, 64)` on a "
    "float32 batch of 32 saves 40960 bytes for backward when all parameters are trainable, "
    "32768 bytes when only the first `Linear` is trainable (the frozen last one still saves its "
    "weight to pass gradients back), 8192 bytes when only the last `Linear` is trainable, and "
    "0 bytes when all are frozen.",
)
@deterministic
def _rg_memory(obs: Observer) -> None:
    net = mlp(64).to(obs.device)
    x = torch.randn(32, 64, device=obs.device)
    expected = mlp_saved_bytes(32, 64)
    obs.expect(
        "mlp_saved_bytes(32, 64)",
        expected,
        {"all": 40960, "first": 32768, "last": 8192, "none": 0},
    )
    obs.expect(
        "net = mlp(64); observe(net, x).saved_bytes", observe(net, x).saved_bytes, expected["all"]
    )
    net[2].requires_grad_(False)
    obs.expect(
        "net[2].requires_grad_(False); observe(net, x).saved_bytes",
        observe(net, x).saved_bytes,
        expected["first"],
    )
    net[2].requires_grad_(True)
    net[0].requires_grad_(False)
    obs.expect(
        "net[0].requires_grad_(False); observe(net, x).saved_bytes",
        observe(net, x).saved_bytes,
        expected["last"],
    )
    net.requires_grad_(False)
    obs.expect(
        "net.requires_grad_(False); observe(net, x).saved_bytes",
        observe(net, x).saved_bytes,
        expected["none"],
    )


class _Named(nn.Module):
    """Modules whose names contain ``linear`` in three different ways."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(4)
        self.nonlinear = nn.Linear(4, 4)
        self.linear2 = nn.Linear(4, 4)
        self.linear = nn.Linear(4, 1)


@claim(
    "rg.name-match",
    "Freezing by substring as the original answer does (`if 'linear' not in name: "
    "param.requires_grad = False`) leaves the parameters of modules named `nonlinear` and "
    "`linear2` trainable too, whereas exact module-prefix matching (`freeze(model)` then "
    "`unfreeze(model, 'linear')`) keeps only the module `linear` trainable.",
)
@deterministic
def _rg_name_match(obs: Observer) -> None:
    model = _Named()
    for name, param in model.named_parameters():
        if "linear" not in name:
            param.requires_grad = False
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    obs.expect(
        "for name, param in model.named_parameters(): "
        "if 'linear' not in name: param.requires_grad = False; "
        "[name for name, p in model.named_parameters() if p.requires_grad]",
        trainable,
        [
            "nonlinear.weight",
            "nonlinear.bias",
            "linear2.weight",
            "linear2.bias",
            "linear.weight",
            "linear.bias",
        ],
    )

    model = _Named()
    freeze(model)
    unfreeze(model, "linear")
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    obs.expect(
        "freeze(model); unfreeze(model, 'linear'); "
        "[name for name, p in model.named_parameters() if p.requires_grad]",
        trainable,
        ["linear.weight", "linear.bias"],
    )


@claim(
    "rg.optimizer-skips",
    "Optimizers skip parameters whose `.grad` is `None`: a frozen parameter handed to `SGD` "
    "(with momentum and weight decay) or to `AdamW` is unchanged by `step()`, while the "
    "trainable parameters change.",
)
@deterministic
def _rg_optimizer_skips(obs: Observer) -> None:
    x = torch.randn(8, 4, device=obs.device)
    for name, make in (
        ("SGD", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1)),
        ("AdamW", lambda ps: torch.optim.AdamW(ps, lr=0.1, weight_decay=0.1)),
    ):
        model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1)).to(obs.device)
        model[0].requires_grad_(False)
        optimizer = make(model.parameters())  # all parameters, frozen ones included
        obs.expect(
            "[name for name, p in model.named_parameters() if not p.requires_grad]",
            [n for n, p in model.named_parameters() if not p.requires_grad],
            ["0.weight", "0.bias"],
        )
        before = [p.detach().clone() for p in model.parameters()]
        for _ in range(2):
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
        changed = [
            not torch.equal(old, new.detach())
            for old, new in zip(before, model.parameters(), strict=True)
        ]
        obs.expect(
            f"optimizer = torch.optim.{name}(model.parameters(), ...); for _ in range(2): "
            "optimizer.zero_grad(); model(x).sum().backward(); optimizer.step(); "
            "[not torch.equal(p0, p) for p0, p in zip(before, model.parameters())]",
            changed,
            [False, False, True, True],
        )


@claim(
    "rg.default",
    "`torch.randn(...)` and `torch.tensor(...)` create tensors with `requires_grad=False`, "
    "while an `nn.Parameter(...)`, and so every parameter of a newly built layer, has "
    "`requires_grad=True`.",
)
@deterministic
def _rg_default(obs: Observer) -> None:
    obs.expect(
        "torch.randn(2).requires_grad", torch.randn(2, device=obs.device).requires_grad, False
    )
    obs.expect("torch.tensor([1.0]).requires_grad", torch.tensor([1.0]).requires_grad, False)
    obs.expect(
        "nn.Parameter(torch.zeros(2)).requires_grad",
        nn.Parameter(torch.zeros(2)).requires_grad,
        True,
    )
    layer = nn.Linear(2, 2)
    obs.expect(
        "{p.requires_grad for p in nn.Linear(2, 2).parameters()}",
        {p.requires_grad for p in layer.parameters()},
        {True},
    )


@claim(
    "rg.middle-frozen",
    "Freezing a middle layer does not stop gradients from flowing through it: in "
    "`Linear`-`Linear`-`Linear` with the middle one frozen, `backward()` gives a `.grad` to "
    "the first and the last layer's parameters and none to the middle one's.",
)
@deterministic
def _rg_middle_frozen(obs: Observer) -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 1)).to(obs.device)
    model[1].requires_grad_(False)
    seen = observe(model, torch.randn(8, 4, device=obs.device), backward=True)
    obs.expect(
        "model[1].requires_grad_(False); observe(model, x, backward=True).params_with_grad",
        seen.params_with_grad,
        ("0.weight", "0.bias", "2.weight", "2.bias"),
    )


@claim(
    "rg.requires_grad_",
    "`module.requires_grad_(False)` sets `requires_grad=False` on every parameter of the "
    "module and of its submodules, leaves buffers untouched (even a buffer that requires "
    "grad), and returns the module itself.",
)
@deterministic
def _rg_requires_grad_(obs: Observer) -> None:
    model = SimpleModel().to(obs.device)
    model.register_buffer("extra", torch.zeros(2, device=obs.device, requires_grad=True))
    obs.expect("model.requires_grad_(False) is model", model.requires_grad_(False) is model, True)
    obs.expect(
        "{p.requires_grad for p in model.parameters()}",
        {p.requires_grad for p in model.parameters()},
        {False},
    )
    obs.expect(
        "model.register_buffer('extra', torch.zeros(2, requires_grad=True)); "
        "model.requires_grad_(False); model.extra.requires_grad",
        model.extra.requires_grad,
        True,
    )
    obs.expect("model.bn.running_mean.requires_grad", model.bn.running_mean.requires_grad, False)


@claim(
    "rg.bn-stats-still-update",
    "Freezing a BatchNorm's parameters does not freeze its running statistics: in train mode "
    "a forward still updates them; `bn.eval()` stops the updates, but the next `model.train()` "
    "puts `bn` back in train mode because it recurses into every submodule.",
)
@deterministic
def _rg_bn_stats_still_update(obs: Observer) -> None:
    model = SimpleModel().to(obs.device).train()
    model.bn.requires_grad_(False)
    x = torch.randn(16, 10, device=obs.device)
    obs.expect(
        "model.bn.requires_grad_(False); observe(model.train(), x).bn_stats_updated",
        observe(model, x).bn_stats_updated,
        True,
    )
    model.bn.eval()
    obs.expect(
        "model.bn.eval(); observe(model, x).bn_stats_updated",
        observe(model, x).bn_stats_updated,
        False,
    )
    model.train()
    obs.expect("model.train(); model.bn.training", model.bn.training, True)
    obs.expect("observe(model, x).bn_stats_updated", observe(model, x).bn_stats_updated, True)


@claim(
    "rg.dropout-still-active",
    "Freezing every parameter does not turn Dropout off: in train mode a fully frozen "
    "`SimpleModel`'s Dropout still zeroes elements, and two forwards of the same input give "
    "different outputs.",
)
@deterministic
def _rg_dropout_still_active(obs: Observer) -> None:
    model = SimpleModel().to(obs.device).train().requires_grad_(False)
    x = torch.randn(16, 10, device=obs.device)
    obs.expect(
        "model.requires_grad_(False); observe(model.train(), x).dropout_active",
        observe(model, x).dropout_active,
        True,
    )
    obs.expect("torch.equal(model(x), model(x))", torch.equal(model(x), model(x)), False)


@claim(
    "rg.all-frozen-backward",
    "If neither the input nor any parameter requires grad, `loss.backward()` raises "
    "`RuntimeError` ('element 0 of tensors does not require grad and does not have a "
    "grad_fn'); setting `loss.requires_grad = True` first makes `backward()` run, but every "
    "parameter's `.grad` stays `None`.",
)
@deterministic
def _rg_all_frozen_backward(obs: Observer) -> None:
    model = nn.Linear(4, 1).to(obs.device).requires_grad_(False)
    loss = model(torch.randn(8, 4, device=obs.device)).sum()
    with obs.expect_raises(
        "loss.backward()", RuntimeError, "element 0 of tensors does not require grad"
    ):
        loss.backward()
    loss.requires_grad = True
    loss.backward()
    obs.expect(
        "loss.requires_grad = True; loss.backward(): {p.grad for p in model.parameters()}",
        {p.grad for p in model.parameters()},
        {None},
    )


@claim(
    "rg.momentum-drift",
    "A parameter frozen after it already had a gradient keeps a zero `.grad` tensor if "
    "`optimizer.zero_grad(set_to_none=False)` was used, and `SGD` with momentum, or with "
    "weight decay, then still changes it on `step()`; after the default `zero_grad()` "
    "(`set_to_none=True`) its `.grad` is `None` and `step()` leaves it unchanged.",
)
@deterministic
def _rg_momentum_drift(obs: Observer) -> None:
    x = torch.randn(8, 4, device=obs.device)
    for option, value in (("momentum", 0.9), ("weight_decay", 0.1)):
        for set_to_none in (False, True):
            layer = nn.Linear(4, 1).to(obs.device)
            optimizer = torch.optim.SGD(layer.parameters(), lr=0.1, **{option: value})
            layer(x).sum().backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=set_to_none)
            layer.weight.requires_grad_(False)  # frozen after one training step
            before = layer.weight.detach().clone()
            layer(x).sum().backward()
            optimizer.step()
            grad = layer.weight.grad
            obs.expect(
                f"optimizer = torch.optim.SGD(layer.parameters(), lr=0.1, {option}={value}); "
                "layer(x).sum().backward(); optimizer.step(); "
                f"optimizer.zero_grad(set_to_none={set_to_none}); "
                "layer.weight.requires_grad_(False); layer(x).sum().backward(); "
                "layer.weight.grad is None",
                grad is None,
                set_to_none,
            )
            if grad is not None:
                obs.expect("bool((layer.weight.grad == 0).all())", bool((grad == 0).all()), True)
            obs.expect(
                "optimizer.step(); not torch.equal(before, layer.weight)",
                not torch.equal(before, layer.weight),
                not set_to_none,
            )


@claim(
    "rg.reversible",
    "`requires_grad = False` is a flag, not a permanent change: after setting it back to "
    "`True` the parameter gets a `.grad` from `backward()` again and the optimizer updates it.",
)
@deterministic
def _rg_reversible(obs: Observer) -> None:
    layer = nn.Linear(4, 1).to(obs.device)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.randn(8, 4, device=obs.device)
    layer.weight.requires_grad = False
    layer(x).sum().backward()
    obs.expect(
        "layer.weight.requires_grad = False; layer.weight.grad is None",
        layer.weight.grad is None,
        True,
    )
    layer.weight.requires_grad = True
    before = layer.weight.detach().clone()
    layer(x).sum().backward()
    obs.expect(
        "layer.weight.requires_grad = True; layer.weight.grad is None",
        layer.weight.grad is None,
        False,
    )
    optimizer.step()
    obs.expect(
        "optimizer.step(); torch.equal(before, layer.weight)",
        torch.equal(before, layer.weight),
        False,
    )


def _linear_stack(width: int = 64, depth: int = 4) -> nn.Sequential:
    """``depth`` ``Linear(width, width)`` layers with a ``ReLU`` between each two."""
    layers: list[nn.Module] = []
    for i in range(depth):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(width, width))
    return nn.Sequential(*layers)


@claim(
    "rg.memory-depth",
    "In a stack of four `Linear(64, 64)` layers with a `ReLU` between each two, on a float32 "
    "batch of 32 that does not require grad, the bytes saved for backward fall with each "
    "further layer frozen from the input side (the first k layers frozen, k = 0 to 4), down "
    "to 0 when all four are frozen, whereas freezing the last k layers instead (k = 1 to 3) "
    "leaves more bytes saved than freezing the first k.",
)
@deterministic
def _rg_memory_depth(obs: Observer) -> None:
    x = torch.randn(32, 64, device=obs.device)
    net = _linear_stack().to(obs.device)
    linears = [module for module in net if isinstance(module, nn.Linear)]

    def saved_with(frozen: list[nn.Module]) -> int:
        net.requires_grad_(True)
        for layer in frozen:
            layer.requires_grad_(False)
        return observe(net, x).saved_bytes

    first = [saved_with(linears[:k]) for k in range(5)]
    last = [saved_with(linears[4 - k :]) for k in range(5)]
    obs.record("saved bytes, first k frozen, k = 0..4", first)
    obs.record("saved bytes, last k frozen, k = 0..4", last)
    obs.expect(
        "first k frozen: strictly decreasing",
        all(a > b for a, b in itertools.pairwise(first)),
        True,
    )
    obs.expect("all four frozen: saved bytes", first[4], 0)
    obs.expect(
        "k = 1..3: last k frozen saves more bytes than first k frozen",
        [last[k] > first[k] for k in (1, 2, 3)],
        [True, True, True],
    )
