"""Claims about ``requires_grad = False``, i.e. freezing (claims.md section B)."""

from __future__ import annotations

import torch
from torch import nn

from gradmodes.claims._common import deterministic, mlp_saved_bytes
from gradmodes.claims._registry import Observer, claim
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
    obs.expect("parameters given a .grad", seen.params_with_grad, ("linear.weight", "linear.bias"))
    model(x).sum().backward()
    obs.expect("model.bn.weight.grad is None", model.bn.weight.grad is None, True)
    obs.expect(
        "isinstance(model.linear.weight.grad, torch.Tensor)",
        isinstance(model.linear.weight.grad, torch.Tensor),
        True,
    )


@claim(
    "rg.memory",
    "With an input that does not require grad, `Linear(64, 64)`-`ReLU`-`Linear(64, 64)` on a "
    "float32 batch of 32 saves 40960 bytes for backward when all parameters are trainable, "
    "8192 bytes when only the last `Linear` is trainable, and 0 bytes when all are frozen.",
)
@deterministic
def _rg_memory(obs: Observer) -> None:
    net = mlp(64).to(obs.device)
    x = torch.randn(32, 64, device=obs.device)
    expected = mlp_saved_bytes(32, 64)
    obs.expect("expected bytes from shapes", expected, {"all": 40960, "last": 8192, "none": 0})
    obs.expect("all trainable: saved_bytes", observe(net, x).saved_bytes, expected["all"])
    net[0].requires_grad_(False)
    obs.expect("only net[2] trainable: saved_bytes", observe(net, x).saved_bytes, expected["last"])
    net.requires_grad_(False)
    obs.expect("all frozen: saved_bytes", observe(net, x).saved_bytes, expected["none"])


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
    "`linear2` trainable too, whereas exact module-prefix matching (module name `linear` or "
    "starting with `linear.`) keeps only the module `linear` trainable.",
)
@deterministic
def _rg_name_match(obs: Observer) -> None:
    model = _Named()
    for name, param in model.named_parameters():
        if "linear" not in name:
            param.requires_grad = False
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    obs.expect(
        "substring: trainable",
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
    for name, param in model.named_parameters():
        module = name.rpartition(".")[0]
        if not (module == "linear" or module.startswith("linear.")):
            param.requires_grad = False
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    obs.expect("exact prefix: trainable", trainable, ["linear.weight", "linear.bias"])


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
            f"{name}: [frozen 0.weight, 0.bias, trainable 1.weight, 1.bias] changed",
            changed,
            [False, False, True, True],
        )
