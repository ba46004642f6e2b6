"""Cross-cutting claims: the recommended patterns and ``detach`` (claims.md section E)."""

from __future__ import annotations

import torch
from torch import nn

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim
from gradmodes.freeze import freeze, freeze_batchnorm, unfreeze_batchnorm
from gradmodes.matrix import behaviour_matrix
from gradmodes.models import SimpleModel
from gradmodes.modes import evaluating
from gradmodes.probes import observe

__all__: list[str] = []


@claim(
    "x.standard",
    "The standard evaluation pattern (`was_training = model.training`, `model.eval()`, the "
    "forward under `torch.inference_mode()`, then `model.train(was_training)`) turns Dropout "
    "off, leaves BatchNorm statistics unchanged, records no graph, saves 0 bytes for backward, "
    "gives identical outputs on repeated calls and restores the previous mode; use `no_grad` "
    "instead when the outputs must later be saved for backward, which inference tensors "
    "cannot be.",
)
@deterministic
def _x_standard(obs: Observer) -> None:
    model = SimpleModel().to(obs.device)
    x = torch.randn(16, 10, device=obs.device)
    was_training = model.training
    model.eval()
    seen = observe(model, x, grad_mode="inference_mode")
    with torch.inference_mode():
        first, second = model(x), model(x)
    model.train(was_training)
    obs.expect(
        "model.eval(); seen = observe(model, x, grad_mode='inference_mode'); seen.dropout_active",
        seen.dropout_active,
        False,
    )
    obs.expect("seen.bn_stats_updated", seen.bn_stats_updated, False)
    obs.expect("seen.has_grad_fn", seen.has_grad_fn, False)
    obs.expect("seen.saved_bytes", seen.saved_bytes, 0)
    obs.expect(
        "with torch.inference_mode(): torch.equal(model(x), model(x))",
        torch.equal(first, second),
        True,
    )
    obs.expect("model.train(was_training); model.training", model.training, True)

    w = torch.randn(1, device=obs.device, requires_grad=True)
    with obs.expect_raises(
        "with torch.inference_mode(): out = model(x); out * w",
        RuntimeError,
        "Inference tensors cannot be saved for backward",
    ):
        _ = first * w
    model.eval()
    with torch.no_grad():
        out = model(x)
    model.train(was_training)
    obs.expect(
        "with torch.no_grad(): out = model(x); (out * w).grad_fn is not None",
        (out * w).grad_fn is not None,
        True,
    )


@claim(
    "x.freeze-finetune",
    "Fine-tuning with a frozen backbone (`backbone.requires_grad_(False)`, an optimizer over "
    "the trainable parameters only, and the backbone's BatchNorm put back in eval mode after "
    "every `model.train()`, which switches it to train mode) updates only the head: the "
    "backbone's parameters and BatchNorm statistics stay unchanged over training steps.",
)
@deterministic
def _x_freeze_finetune(obs: Observer) -> None:
    backbone = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU())
    model = nn.Sequential(backbone, nn.Linear(8, 2)).to(obs.device)
    backbone.requires_grad_(False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for _ in range(3):
        model.train()
        obs.expect("model.train(); backbone[1].training", backbone[1].training, True)
        backbone.eval()
        optimizer.zero_grad()
        model(torch.randn(16, 8, device=obs.device)).square().mean().backward()
        optimizer.step()
    changed = sorted(k for k, v in model.state_dict().items() if not torch.equal(before[k], v))
    obs.expect(
        "sorted(k for k, v in model.state_dict().items() if not torch.equal(before[k], v))",
        changed,
        ["1.bias", "1.weight"],
    )


@claim(
    "x.detach",
    "`t.detach()` returns a tensor that shares storage with `t` and does not require grad; an "
    "in-place change to it is visible in `t`, and a later `backward()` that needs `t` raises "
    "`RuntimeError` ('modified by an inplace operation').",
)
@deterministic
def _x_detach(obs: Observer) -> None:
    w = torch.randn(3, device=obs.device, requires_grad=True)
    t = w.exp()  # exp saves its output for backward
    d = t.detach()
    obs.expect("d.data_ptr() == t.data_ptr()", d.data_ptr() == t.data_ptr(), True)
    obs.expect("d.requires_grad", d.requires_grad, False)
    d.zero_()
    obs.expect("d.zero_(); t.tolist()", t.tolist(), [0.0, 0.0, 0.0])
    obs.record("t._version", t._version)
    with obs.expect_raises("t.sum().backward()", RuntimeError, "modified by an inplace operation"):
        t.sum().backward()


@claim(
    "x.matrix",
    "`behaviour_matrix()` measures all 12 settings of {train, eval} x {`grad`, `no_grad`, "
    "`inference_mode`} x {all parameters trainable, all frozen} on `SimpleModel` with "
    "`observe()`: Dropout is active and BatchNorm statistics are updated exactly in train "
    "mode, whatever the grad mode, while the output requires grad, activations are saved and "
    "`backward()` works exactly under `grad` with trainable parameters.",
)
@deterministic
def _x_matrix(obs: Observer) -> None:
    x = torch.randn(16, 10, device=obs.device)
    rows = behaviour_matrix(lambda: SimpleModel().to(obs.device), x)
    settings = [(row.training, row.grad_mode, row.requires_grad) for row in rows]
    obs.expect("len(set(settings))", len(set(settings)), 12)
    for row in rows:
        recording = row.grad_mode == "grad" and row.requires_grad
        where = f"rows[{rows.index(row)}]"
        obs.record(
            f"({where}.training, {where}.grad_mode, {where}.requires_grad)",
            (row.training, row.grad_mode, row.requires_grad),
        )
        obs.expect(
            f"({where}.dropout_active, {where}.bn_stats_updated)",
            (row.dropout_active, row.bn_stats_updated),
            (row.training, row.training),
        )
        obs.expect(
            f"({where}.output_requires_grad, {where}.saved_bytes > 0, {where}.backward_ok)",
            (row.output_requires_grad, row.saved_bytes > 0, row.backward_ok),
            (recording, recording, recording),
        )
    # A few cells again, measured directly with observe() on a model set up by hand.
    for training, grad_mode, requires_grad in (
        (True, "grad", True),
        (False, "grad", True),
        (True, "no_grad", False),
        (False, "inference_mode", True),
    ):
        model = SimpleModel().to(obs.device).train(training).requires_grad_(requires_grad)
        seen = observe(model, x, grad_mode=grad_mode, backward=True)
        index = settings.index((training, grad_mode, requires_grad))
        row = rows[index]
        obs.expect(
            f"seen = observe(SimpleModel().train({training}).requires_grad_({requires_grad}), "
            f"x, grad_mode={grad_mode!r}, backward=True); "
            f"(rows[{index}].output_requires_grad, rows[{index}].saved_bytes, "
            f"rows[{index}].backward_ok) == "
            "(seen.output_requires_grad, seen.saved_bytes, seen.backward_ok)",
            (row.output_requires_grad, row.saved_bytes, row.backward_ok)
            == (seen.output_requires_grad, seen.saved_bytes, seen.backward_ok),
            True,
        )
        obs.record("seen.saved_bytes", seen.saved_bytes)


class _Prefixed(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
        self.linear2 = nn.Linear(2, 2)
        self.nonlinear = nn.Linear(2, 2)


@claim(
    "x.freeze-prefix",
    "`freeze(model, 'linear')` freezes the parameters of the module `linear` and of its "
    "submodules only, not those of `linear2` or `nonlinear`, returns the names it changed, "
    "and raises `ValueError` listing the valid module names for a prefix that matches no "
    "module.",
)
@deterministic
def _x_freeze_prefix(obs: Observer) -> None:
    model = _Prefixed()
    changed = freeze(model, "linear")
    obs.expect(
        "freeze(model, 'linear')",
        changed,
        ["linear.0.weight", "linear.0.bias", "linear.1.weight", "linear.1.bias"],
    )
    obs.expect(
        "[name for name, p in model.named_parameters() if p.requires_grad]",
        [name for name, p in model.named_parameters() if p.requires_grad],
        ["linear2.weight", "linear2.bias", "nonlinear.weight", "nonlinear.bias"],
    )
    obs.expect("freeze(model, 'linear')", freeze(model, "linear"), [])  # nothing left to change
    with obs.expect_raises(
        "freeze(model, 'lin')",
        ValueError,
        "valid module names: linear, linear.0, linear.1, linear2, nonlinear",
    ):
        freeze(model, "lin")


@claim(
    "x.freeze-bn",
    "`freeze_batchnorm(model)` freezes every BatchNorm's parameters and keeps those layers in "
    "eval mode through later `model.train()` calls, so training forwards no longer change "
    "their running statistics while Dropout stays active, and `unfreeze_batchnorm(model)` "
    "undoes both.",
)
@deterministic
def _x_freeze_bn(obs: Observer) -> None:
    model = SimpleModel().to(obs.device)
    x = torch.randn(16, 10, device=obs.device)
    obs.expect("freeze_batchnorm(model)", freeze_batchnorm(model), ["bn"])
    model.train()
    obs.expect("model.train(); model.bn.training", model.bn.training, False)
    obs.expect("model.bn.weight.requires_grad", model.bn.weight.requires_grad, False)
    seen = observe(model, x, backward=True)
    obs.expect(
        "seen = observe(model, x, backward=True); seen.bn_stats_updated",
        seen.bn_stats_updated,
        False,
    )
    obs.expect("seen.dropout_active", seen.dropout_active, True)
    obs.expect("seen.params_with_grad", seen.params_with_grad, ("linear.weight", "linear.bias"))
    obs.expect("unfreeze_batchnorm(model)", unfreeze_batchnorm(model), ["bn"])
    model.train()
    obs.expect("model.train(); model.bn.training", model.bn.training, True)
    obs.expect("model.bn.weight.requires_grad", model.bn.weight.requires_grad, True)
    obs.expect("observe(model, x).bn_stats_updated", observe(model, x).bn_stats_updated, True)


@claim(
    "x.evaluating",
    "`with evaluating(model):` runs its block with every submodule in eval mode and inference "
    "mode on, and afterwards gives each submodule back its own previous `training` flag, also "
    "when the block raises.",
)
@deterministic
def _x_evaluating(obs: Observer) -> None:
    model = SimpleModel().to(obs.device)
    model.bn.eval()  # kept in eval mode on purpose: model.train() would undo it
    flags = {name: m.training for name, m in model.named_modules()}
    obs.record(
        "model.bn.eval(); flags = {name: m.training for name, m in model.named_modules()}", flags
    )
    with evaluating(model):
        obs.expect(
            "with evaluating(model): {m.training for m in model.modules()}",
            {m.training for m in model.modules()},
            {False},
        )
        obs.expect(
            "with evaluating(model): torch.is_inference_mode_enabled()",
            torch.is_inference_mode_enabled(),
            True,
        )
    after = {name: m.training for name, m in model.named_modules()}
    obs.expect(
        "{name: m.training for name, m in model.named_modules()} == flags", after == flags, True
    )
    try:
        with evaluating(model):
            raise KeyError("x")
    except KeyError:
        pass
    after = {name: m.training for name, m in model.named_modules()}
    obs.expect(
        "with evaluating(model): raise KeyError('x'); "
        "{name: m.training for name, m in model.named_modules()} == flags",
        after == flags,
        True,
    )
