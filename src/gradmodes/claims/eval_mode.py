"""Claims about ``model.eval()`` / ``model.train()`` (claims.md section A)."""

from __future__ import annotations

import inspect
import itertools

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gradmodes.claims._common import deterministic, mlp_saved_bytes
from gradmodes.claims._registry import Observer, claim
from gradmodes.matrix import behaviour_matrix
from gradmodes.models import SimpleModel, mlp
from gradmodes.probes import count_saved, observe

__all__: list[str] = []


def _saved_during(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``module(x)`` and the tensors autograd saved for backward while it ran."""
    saved: list[torch.Tensor] = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        output = module(x)
    return output, saved


@claim(
    "eval.flag",
    "`eval()` is `train(False)`: it sets `training = False` on the module and every "
    "submodule, recursively, and returns the module itself; `train()` sets `training = True` "
    "on all of them in the same way.",
)
@deterministic
def _eval_flag(obs: Observer) -> None:
    calls: list[bool] = []

    class Spy(nn.Module):
        def train(self, mode: bool = True) -> Spy:
            calls.append(mode)
            return super().train(mode)

    spy = Spy()
    spy.eval()
    obs.expect("spy.eval(); calls", calls, [False])

    # Two levels of nesting: SimpleModel's children and a Sequential inside a Sequential.
    model = nn.Sequential(SimpleModel(), nn.Sequential(nn.Dropout(), nn.Sequential(spy))).to(
        obs.device
    )
    model.train()
    obs.expect("model.eval() is model", model.eval() is model, True)
    obs.expect(
        "{m.training for m in model.modules()}", {m.training for m in model.modules()}, {False}
    )
    obs.record("len(list(model.modules()))", len(list(model.modules())))
    obs.expect("model.train() is model", model.train() is model, True)
    obs.expect(
        "model.train(); {m.training for m in model.modules()}",
        {m.training for m in model.modules()},
        {True},
    )
    obs.expect("model.train(False) is model", model.train(False) is model, True)
    obs.expect(
        "{m.training for m in model.modules()}", {m.training for m in model.modules()}, {False}
    )


@claim(
    "eval.submodule",
    "`model.bn.eval()` switches only `model.bn` (and its own submodules) to eval mode: the "
    "model and its other submodules keep `training = True`, so Dropout stays active while "
    "BatchNorm stops updating its running statistics.",
)
@deterministic
def _eval_submodule(obs: Observer) -> None:
    model = SimpleModel().to(obs.device)
    model.bn.eval()
    flags = {name: module.training for name, module in model.named_modules()}
    obs.expect(
        "{name: m.training for name, m in model.named_modules()}",
        flags,
        {"": True, "dropout": True, "bn": False, "linear": True},
    )
    seen = observe(model, torch.randn(16, 10, device=obs.device))
    obs.expect("observe(model, x).dropout_active", seen.dropout_active, True)
    obs.expect("observe(model, x).bn_stats_updated", seen.bn_stats_updated, False)


@claim(
    "eval.dropout",
    "In eval mode `nn.Dropout(p)` returns its input unchanged; in train mode it zeroes a "
    "random subset of the elements (a fraction close to `p`) and multiplies the remaining "
    "elements by `1/(1-p)` (checked: `p` = 0.1, 0.3, 0.5 and 0.9).",
)
@deterministic
def _eval_dropout(obs: Observer) -> None:
    x = torch.rand(10_000, device=obs.device) + 1.0  # no zeros: a zero in y was dropped
    obs.record("x.numel()", x.numel())
    for p in (0.1, 0.3, 0.5, 0.9):
        dropout = nn.Dropout(p)
        obs.expect(
            f"torch.equal(nn.Dropout({p}).eval()(x), x)", torch.equal(dropout.eval()(x), x), True
        )
        y = dropout.train()(x)
        kept = y != 0
        dropped = (y == 0).float().mean().item()
        obs.record(
            f"y = nn.Dropout({p}).train()(x); round((y == 0).float().mean().item(), 4)",
            round(dropped, 4),
        )
        # 10000 Bernoulli(p) draws: standard deviation at most 0.005, so 0.02 is 4 of them.
        obs.expect(
            f"abs((y == 0).float().mean().item() - {p}) < 0.02", abs(dropped - p) < 0.02, True
        )
        obs.expect(
            f"torch.allclose(y[y != 0], x[y != 0] / (1 - {p}))",
            torch.allclose(y[kept], x[kept] / (1 - p)),
            True,
        )


@claim(
    "eval.bn-uses-running",
    "In eval mode `BatchNorm1d` normalises with its `running_mean` and `running_var`; in "
    "train mode it normalises with the batch's own mean and (biased) variance.",
)
@deterministic
def _eval_bn_uses_running(obs: Observer) -> None:
    bn = nn.BatchNorm1d(4).to(obs.device)
    with torch.no_grad():  # non-trivial statistics and affine parameters
        bn.running_mean.uniform_(-1.0, 1.0)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    x = torch.randn(8, 4, device=obs.device) * 3.0 + 1.0
    w, b, eps = bn.weight.detach(), bn.bias.detach(), bn.eps
    running = (x - bn.running_mean) / (bn.running_var + eps).sqrt() * w + b
    batch = (x - x.mean(0)) / (x.var(0, unbiased=False) + eps).sqrt() * w + b

    y_eval = bn.eval()(x).detach()
    obs.expect(
        "y_eval = bn.eval()(x); "
        "torch.allclose(y_eval, (x - bn.running_mean) / (bn.running_var + eps).sqrt() * w + b, "
        "atol=1e-5)",
        torch.allclose(y_eval, running, atol=1e-5),
        True,
    )
    y_train = bn.train()(x).detach()
    obs.expect(
        "y_train = bn.train()(x); "
        "torch.allclose(y_train, (x - x.mean(0)) / (x.var(0, unbiased=False) + eps).sqrt() * w "
        "+ b, atol=1e-5)",
        torch.allclose(y_train, batch, atol=1e-5),
        True,
    )
    obs.expect(
        "torch.allclose(y_eval, y_train, atol=1e-5)",
        torch.allclose(y_eval, y_train, atol=1e-5),
        False,
    )


@claim(
    "eval.bn-no-update",
    "In eval mode a `BatchNorm1d` forward leaves `running_mean`, `running_var` and "
    "`num_batches_tracked` unchanged; in train mode it updates all three (running averages "
    "with `momentum = 0.1`, using the batch's unbiased variance, and the counter by 1).",
)
@deterministic
def _eval_bn_no_update(obs: Observer) -> None:
    bn = nn.BatchNorm1d(4).to(obs.device)
    x = torch.randn(8, 4, device=obs.device) * 3.0 + 1.0

    def state() -> tuple[torch.Tensor, torch.Tensor, int]:
        return bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked)

    mean0, var0, count0 = state()
    bn.eval()(x)
    mean1, var1, count1 = state()
    obs.expect("bn.eval()(x); torch.equal(bn.running_mean, mean0)", torch.equal(mean1, mean0), True)
    obs.expect("torch.equal(bn.running_var, var0)", torch.equal(var1, var0), True)
    obs.expect("int(bn.num_batches_tracked)", count1, count0)

    bn.train()(x)
    mean2, var2, count2 = state()
    obs.expect(
        "bn.train()(x); torch.allclose(bn.running_mean, 0.9 * mean0 + 0.1 * x.mean(0))",
        torch.allclose(mean2, 0.9 * mean0 + 0.1 * x.mean(0)),
        True,
    )
    obs.expect(
        "torch.allclose(bn.running_var, 0.9 * var0 + 0.1 * x.var(0, unbiased=True))",
        torch.allclose(var2, 0.9 * var0 + 0.1 * x.var(0, unbiased=True)),
        True,
    )
    obs.expect("int(bn.num_batches_tracked)", count2, count0 + 1)


@claim(
    "eval.keeps-autograd",
    "`model.eval()` does not turn off gradient tracking: outputs still have a `grad_fn`, "
    "`backward()` still gives every parameter a `.grad`, and activations are still saved for "
    "backward (for `Linear`-`ReLU`-`Linear` the saved tensors reference exactly as many bytes, "
    "and keep exactly as much distinct storage alive, as in train mode).",
)
@deterministic
def _eval_keeps_autograd(obs: Observer) -> None:
    model = SimpleModel().to(obs.device).eval()
    x = torch.randn(16, 10, device=obs.device)
    seen = observe(model, x, backward=True)
    obs.expect(
        "seen = observe(SimpleModel().eval(), x, backward=True); seen.has_grad_fn",
        seen.has_grad_fn,
        True,
    )
    obs.expect("seen.backward_ok", seen.backward_ok, True)
    obs.expect(
        "seen.params_with_grad",
        seen.params_with_grad,
        tuple(name for name, _ in model.named_parameters()),
    )
    obs.expect("seen.saved_bytes > 0", seen.saved_bytes > 0, True)
    # BatchNorm also saves its batch mean and inverse std in train mode (2 * 10 float32),
    # and empty tensors in eval mode: the difference for SimpleModel is 80 bytes.
    obs.record("seen.saved_bytes", seen.saved_bytes)
    obs.record("observe(model.train(), x).saved_bytes", observe(model.train(), x).saved_bytes)

    net = mlp(64).to(obs.device)
    x64 = torch.randn(32, 64, device=obs.device)
    expected = (mlp_saved_bytes(32, 64)["all"], 32 * 64 * 4)  # the ReLU output is new storage
    for mode in ("train", "eval"):
        seen = observe(net.train(mode == "train"), x64)
        obs.expect(
            f"net = mlp(64); x64 = torch.randn(32, 64); net.{mode}(); "
            "(observe(net, x64).saved_bytes, observe(net, x64).saved_storage_bytes)",
            (seen.saved_bytes, seen.saved_storage_bytes),
            expected,
        )


@claim(
    "eval.orthogonal",
    "Neither switch sets the other: `model.eval()` leaves `torch.is_grad_enabled()` as it "
    "was, `torch.no_grad()` leaves `model.training` as it was, and a model made only of "
    "`Linear`, `ReLU` and `LayerNorm` gives identical outputs in train and eval mode.",
)
@deterministic
def _eval_orthogonal(obs: Observer) -> None:
    with torch.enable_grad():  # grad mode as found afterwards, whatever eval() did to it
        _eval_orthogonal_checks(obs)


def _eval_orthogonal_checks(obs: Observer) -> None:
    model = SimpleModel().to(obs.device)
    model.eval()
    obs.expect("model.eval(); torch.is_grad_enabled()", torch.is_grad_enabled(), True)
    with torch.no_grad():
        model.train().eval()
        obs.expect(
            "with torch.no_grad(): model.eval(); torch.is_grad_enabled()",
            torch.is_grad_enabled(),
            False,
        )
    model.train()
    with torch.no_grad():
        obs.expect("with torch.no_grad(): model.training", model.training, True)
    net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.LayerNorm(8), nn.Linear(8, 2))
    net = net.to(obs.device)
    x = torch.randn(4, 8, device=obs.device)
    obs.expect(
        "torch.equal(net.train()(x), net.eval()(x))",
        torch.equal(net.train()(x), net.eval()(x)),
        True,
    )


class _ForgetsTraining(nn.Module):
    """Calls ``F.dropout`` without ``training=``: the default ``training=True`` always applies."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, 0.5)


class _UsesTraining(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, 0.5, training=self.training)


@claim(
    "eval.custom",
    "A custom module sees the mode only through `self.training`: after `model.eval()`, "
    "`F.dropout(x, p)` called without `training=self.training` (its `training` argument "
    "defaults to `True`) still zeroes elements, while "
    "`F.dropout(x, p, training=self.training)` returns its input unchanged.",
)
@deterministic
def _eval_custom(obs: Observer) -> None:
    default = inspect.signature(F.dropout).parameters["training"].default
    obs.expect("inspect.signature(F.dropout).parameters['training'].default", default, True)
    x = torch.ones(100, device=obs.device)
    forgets, uses = _ForgetsTraining().eval(), _UsesTraining().eval()
    # observe() cannot see a functional dropout (no module to hook): look at the output.
    obs.expect(
        "forgets.eval(); bool((forgets(x) == 0).any())  # F.dropout(x, 0.5)",
        bool((forgets(x) == 0).any()),
        True,
    )
    obs.expect(
        "uses.eval(); torch.equal(uses(x), x)  # F.dropout(x, 0.5, training=self.training)",
        torch.equal(uses(x), x),
        True,
    )


@claim(
    "eval.bn-batch1",
    "In train mode `BatchNorm1d` raises `ValueError` (`Expected more than 1 value per channel "
    "when training`) for an input with one value per channel (a batch of one sample of shape "
    "`(1, C)`), while in eval mode it accepts it.",
)
@deterministic
def _eval_bn_batch1(obs: Observer) -> None:
    bn = nn.BatchNorm1d(3).to(obs.device)
    x = torch.randn(1, 3, device=obs.device)
    with obs.expect_raises(
        "bn.train()(torch.randn(1, 3))", ValueError, "Expected more than 1 value per channel"
    ):
        bn.train()(x)
    obs.expect("bn.eval()(torch.randn(1, 3)).shape", bn.eval()(x).shape, torch.Size([1, 3]))


@claim(
    "eval.forget-train",
    "A validation helper that calls `model.eval()` but never `model.train()` leaves the model "
    "in eval mode, so the next training forward runs with Dropout off and BatchNorm statistics "
    "frozen; a helper that saves `was_training = model.training` and ends with "
    "`model.train(was_training)` leaves Dropout and BatchNorm working as before.",
)
@deterministic
def _eval_forget_train(obs: Observer) -> None:
    x = torch.randn(16, 10, device=obs.device)

    def validate_forgetting(model: nn.Module) -> None:
        model.eval()
        with torch.inference_mode():
            model(x)

    def validate_restoring(model: nn.Module) -> None:
        was_training = model.training
        model.eval()
        with torch.inference_mode():
            model(x)
        model.train(was_training)

    for validate, works in ((validate_forgetting, False), (validate_restoring, True)):
        model = SimpleModel().to(obs.device).train()
        validate(model)
        name = validate.__name__
        obs.expect(f"model.train(); {name}(model); model.training", model.training, works)
        seen = observe(model, x, backward=True)
        obs.expect(
            "seen = observe(model, x, backward=True); seen.dropout_active",
            seen.dropout_active,
            works,
        )
        obs.expect("seen.bn_stats_updated", seen.bn_stats_updated, works)


@claim(
    "eval.bn-momentum",
    "In train mode a `BatchNorm1d(C, momentum=m)` forward sets `running_mean` to "
    "`(1 - m) * running_mean + m * batch_mean` and `running_var` to "
    "`(1 - m) * running_var + m * batch_var`, where `batch_var` is the batch's unbiased "
    "variance.",
)
@deterministic
def _eval_bn_momentum(obs: Observer) -> None:
    m = 0.3
    bn = nn.BatchNorm1d(4, momentum=m).to(obs.device)
    for step in range(2):  # the second step starts from non-default statistics
        x = torch.randn(8, 4, device=obs.device) * 3.0 + 1.0
        mean0, var0 = bn.running_mean.clone(), bn.running_var.clone()
        bn.train()(x)
        obs.expect(
            f"step {step}: allclose(running_mean, 0.7 * old + 0.3 * x.mean(0))",
            torch.allclose(bn.running_mean, (1 - m) * mean0 + m * x.mean(0)),
            True,
        )
        obs.expect(
            f"step {step}: allclose(running_var, 0.7 * old + 0.3 * x.var(0, unbiased=True))",
            torch.allclose(bn.running_var, (1 - m) * var0 + m * x.var(0, unbiased=True)),
            True,
        )
        obs.expect(
            f"step {step}: allclose(running_var, 0.7 * old + 0.3 * x.var(0, unbiased=False))",
            torch.allclose(bn.running_var, (1 - m) * var0 + m * x.var(0, unbiased=False)),
            False,
        )


@claim(
    "eval.bn-cumulative",
    "With `momentum=None`, `BatchNorm1d` keeps a cumulative average instead of an "
    "exponential one: after n train-mode batches `num_batches_tracked` is n and "
    "`running_mean` and `running_var` are the plain averages of the n batch means and "
    "unbiased batch variances.",
)
@deterministic
def _eval_bn_cumulative(obs: Observer) -> None:
    bn = nn.BatchNorm1d(4, momentum=None).to(obs.device).train()
    batches = [torch.randn(8, 4, device=obs.device) * (i + 1) + i for i in range(5)]
    for x in batches:
        bn(x)
    means = torch.stack([x.mean(0) for x in batches]).mean(0)
    variances = torch.stack([x.var(0, unbiased=True) for x in batches]).mean(0)
    obs.expect("num_batches_tracked after 5 batches", int(bn.num_batches_tracked), 5)
    obs.expect(
        "allclose(running_mean, mean of the 5 batch means)",
        torch.allclose(bn.running_mean, means, atol=1e-5),
        True,
    )
    obs.expect(
        "allclose(running_var, mean of the 5 unbiased batch variances)",
        torch.allclose(bn.running_var, variances, atol=1e-5),
        True,
    )


@claim(
    "eval.bn-no-track",
    "`BatchNorm1d(C, track_running_stats=False)` has no running statistics (`running_mean`, "
    "`running_var` and `num_batches_tracked` are `None`) and normalises with the batch's own "
    "statistics in eval mode too: its eval output equals its train output, with gradients "
    "enabled it saves as many bytes for backward in eval mode as in train mode (the batch mean "
    "and inverse standard deviation included), and in eval mode a batch of one sample of shape "
    "`(1, C)` raises the same `ValueError` as in train mode.",
)
@deterministic
def _eval_bn_no_track(obs: Observer) -> None:
    bn = nn.BatchNorm1d(4, track_running_stats=False).to(obs.device)
    obs.expect(
        "(bn.running_mean, bn.running_var, bn.num_batches_tracked)",
        (bn.running_mean, bn.running_var, bn.num_batches_tracked),
        (None, None, None),
    )
    x = torch.randn(8, 4, device=obs.device) * 3.0 + 1.0
    obs.expect(
        "torch.equal(bn.train()(x), bn.eval()(x))", torch.equal(bn.train()(x), bn.eval()(x)), True
    )
    mean, var = x.mean(0), x.var(0, unbiased=False)
    obs.expect(
        "eval: allclose(y, (x - x.mean(0)) / sqrt(x.var(0, unbiased=False) + eps) * w + b)",
        torch.allclose(
            bn.eval()(x).detach(),
            (x - mean) / torch.sqrt(var + bn.eps) * bn.weight.detach() + bn.bias.detach(),
            atol=1e-5,
        ),
        True,
    )
    train, evaluation = observe(bn.train(), x), observe(bn.eval(), x)
    obs.expect(
        "observe(bn.eval(), x).saved_bytes - observe(bn.train(), x).saved_bytes",
        evaluation.saved_bytes - train.saved_bytes,
        0,
    )
    _, saved = _saved_during(bn.eval(), x)
    others = [t for t in saved if t is not x and t is not bn.weight]
    obs.expect(
        "bn.eval(): the other saved tensors are (x.mean(0), 1 / sqrt(x.var(0, unbiased=False) "
        "+ eps))",
        len(others) == 2
        and torch.allclose(others[0], mean, atol=1e-5)
        and torch.allclose(others[1], 1 / torch.sqrt(var + bn.eps), atol=1e-5),
        True,
    )
    with obs.expect_raises(
        "eval: bn(torch.randn(1, 4))", ValueError, "Expected more than 1 value per channel"
    ):
        bn.eval()(torch.randn(1, 4, device=obs.device))


@claim(
    "eval.bn-saved",
    "With gradients enabled, a `BatchNorm1d(C)` forward on a float32 input in train mode saves "
    "`2 * C` more float32 values for backward (the batch mean and inverse standard deviation) "
    "than the same forward in eval mode; for `SimpleModel` in the behaviour matrix this is the "
    "whole difference between the bytes referenced by the saved tensors in the train and eval "
    "rows under `grad` with trainable parameters.",
)
@deterministic
def _eval_bn_saved(obs: Observer) -> None:
    for channels in (10, 7):
        bn = nn.BatchNorm1d(channels).to(obs.device)
        x = torch.randn(16, channels, device=obs.device)
        train, evaluation = observe(bn.train(), x), observe(bn.eval(), x)
        obs.expect(
            f"bn = nn.BatchNorm1d({channels}); "
            "observe(bn.train(), x).saved_bytes - observe(bn.eval(), x).saved_bytes",
            train.saved_bytes - evaluation.saved_bytes,
            2 * channels * 4,
        )
        # Which values: besides its input, weight and running statistics, train mode saves
        # the batch mean and inverse standard deviation, eval mode two empty tensors.
        known = (x, bn.weight, bn.running_mean, bn.running_var)
        for mode in ("train", "eval"):
            bn.train(mode == "train")
            _, saved = _saved_during(bn, x)
            others = [t for t in saved if not any(t is k for k in known)]
            if mode == "train":
                inverse_std = 1 / torch.sqrt(x.var(0, unbiased=False) + bn.eps)
                obs.expect(
                    f"BatchNorm1d({channels}).train(): the other saved tensors are "
                    "(x.mean(0), 1 / sqrt(x.var(0, unbiased=False) + eps))",
                    len(others) == 2
                    and torch.allclose(others[0], x.mean(0), atol=1e-6)
                    and torch.allclose(others[1], inverse_std, atol=1e-5),
                    True,
                )
            else:
                obs.expect(
                    f"BatchNorm1d({channels}).eval(): numel of the other saved tensors",
                    [t.numel() for t in others],
                    [0, 0],
                )
    x = torch.randn(16, 10, device=obs.device)
    rows = behaviour_matrix(lambda: SimpleModel().to(obs.device), x)
    saved = {(r.training, r.grad_mode, r.requires_grad): r.saved_bytes for r in rows}
    obs.expect(
        "saved[(True, 'grad', True)] - saved[(False, 'grad', True)]",
        saved[(True, "grad", True)] - saved[(False, "grad", True)],
        2 * 10 * 4,
    )


@claim(
    "eval.per-module",
    "Each module has its own `training` flag: a new `nn.Dropout`, `nn.BatchNorm1d`, "
    "`nn.Linear`, `nn.Sequential` or `SimpleModel` starts with `training = True`, "
    "`model.eval()` sets the flags of the submodules the model has when it is called, and a "
    "submodule assigned afterwards keeps `training = True` (a Dropout among them keeps "
    "zeroing elements) until the next `eval()` or `train()` call.",
)
@deterministic
def _eval_per_module(obs: Observer) -> None:
    fresh = {
        "nn.Dropout()": nn.Dropout(),
        "nn.BatchNorm1d(10)": nn.BatchNorm1d(10),
        "nn.Linear(10, 1)": nn.Linear(10, 1),
        "nn.Sequential()": nn.Sequential(),
        "SimpleModel()": SimpleModel(),
    }
    for code, module in fresh.items():
        obs.expect(f"{code}.training", module.training, True)

    model = nn.Sequential(SimpleModel()).to(obs.device).eval()
    model.extra = nn.Dropout(0.5)  # assigned after eval()
    model[0].late = nn.Dropout(0.5)  # nested, also after eval()
    flags = {name: m.training for name, m in model.named_modules()}
    obs.expect(
        "model.eval(); model.extra = nn.Dropout(0.5); model[0].late = nn.Dropout(0.5); "
        "{name: m.training for name, m in model.named_modules()}",
        flags,
        {
            "": False,
            "0": False,
            "0.dropout": False,
            "0.bn": False,
            "0.linear": False,
            "0.late": True,
            "extra": True,
        },
    )
    x = torch.ones(1000, device=obs.device)
    obs.expect("bool((model.extra(x) == 0).any())", bool((model.extra(x) == 0).any()), True)
    model.eval()
    obs.expect(
        "model.eval(); {m.training for m in model.modules()}",
        {m.training for m in model.modules()},
        {False},
    )
    obs.expect("torch.equal(model.extra(x), x)", torch.equal(model.extra(x), x), True)


@claim(
    "eval.no-parentheses",
    "`model.eval` without parentheses only looks the method up: it calls nothing, and every "
    "module of the model stays in training mode.",
)
@deterministic
def _eval_no_call(obs: Observer) -> None:
    model = SimpleModel().to(obs.device)
    method = model.eval  # no call
    obs.expect("callable(model.eval)", callable(method), True)
    obs.expect(
        "model.eval; {m.training for m in model.modules()}",
        {m.training for m in model.modules()},
        {True},
    )
    seen = observe(model, torch.randn(16, 10, device=obs.device))
    obs.expect("observe(model, x).dropout_active", seen.dropout_active, True)
    obs.expect("observe(model, x).bn_stats_updated", seen.bn_stats_updated, True)


def _dropout_classes() -> dict[str, type[nn.Module]]:
    """The dropout module classes of ``torch.nn``, by name: subclasses of ``_DropoutNd``."""
    base = nn.modules.dropout._DropoutNd
    return {
        name: value
        for name, value in sorted(vars(nn).items())
        if isinstance(value, type) and issubclass(value, base) and value is not base
    }


_DROPOUT_INPUT = {  # an input shape each class takes, and the mask it saves in train mode
    "AlphaDropout": ((4, 8, 5), (4, 8, 5)),
    "Dropout": ((4, 8, 5), (4, 8, 5)),
    "Dropout1d": ((4, 8, 5), (4, 8, 1)),
    "Dropout2d": ((4, 8, 5, 5), (4, 8, 1, 1)),
    "Dropout3d": ((4, 8, 3, 3, 3), (4, 8, 1, 1, 1)),
    "FeatureAlphaDropout": ((4, 8, 5, 5), (4, 8, 1, 1)),
}


@claim(
    "eval.dropout-saved",
    "In train mode, with `p` = 0.2, 0.5 or 0.8 and a batched input, each dropout module class "
    "of `torch.nn` (`AlphaDropout`, `Dropout`, `Dropout1d`, `Dropout2d`, `Dropout3d`, "
    "`FeatureAlphaDropout`) saves one mask tensor for backward when its input requires grad "
    "(of the input's shape for `Dropout` and `AlphaDropout`, one value per sample and channel "
    "for the others; on the CPU, of the input's dtype) and nothing when its input does not; "
    "in eval mode each returns its input itself and saves nothing; with `p=0` each returns its "
    "input itself and saves nothing in train mode too.",
)
@deterministic
def _eval_dropout_saved(obs: Observer) -> None:
    classes = _dropout_classes()
    obs.expect("sorted dropout classes of torch.nn", sorted(classes), sorted(_DROPOUT_INPUT))
    for (name, cls), p in itertools.product(classes.items(), (0.2, 0.5, 0.8)):
        shape, mask = _DROPOUT_INPUT[name]
        layer = cls(p)
        x = torch.randn(shape, device=obs.device, requires_grad=True)
        _, saved = _saved_during(layer.train(), x)
        obs.expect(
            f"nn.{name}({p}).train(), x.requires_grad: saved shapes",
            [tuple(t.shape) for t in saved],
            [mask],
        )
        if obs.device.type == "cpu":
            obs.expect(f"nn.{name}({p}): saved dtype", saved[0].dtype, x.dtype)
        _, saved = _saved_during(layer.train(), x.detach())
        obs.expect(f"nn.{name}({p}).train(), input without grad: len(saved)", len(saved), 0)
        output, saved = _saved_during(layer.eval(), x)
        obs.expect(f"nn.{name}({p}).eval()(x) is x", output is x, True)
        obs.expect(f"nn.{name}({p}).eval(): len(saved)", len(saved), 0)
    for name, cls in classes.items():
        x = torch.randn(_DROPOUT_INPUT[name][0], device=obs.device, requires_grad=True)
        output, saved = _saved_during(cls(0.0).train(), x)
        obs.expect(
            f"nn.{name}(0.0).train(): (output is x, len(saved))",
            (output is x, len(saved)),
            (True, 0),
        )


@claim(
    "eval.dropout-random",
    "In train mode `nn.Dropout` draws a new random mask on every call, so repeated calls on "
    "the same input give different outputs (checked: 10 calls of `nn.Dropout(0.5)` on 1000 "
    "ones, and two calls of `SimpleModel` on one batch); in eval mode repeated calls give equal "
    "outputs.",
)
@deterministic
def _eval_dropout_random(obs: Observer) -> None:
    dropout = nn.Dropout(0.5).train()
    ones = torch.ones(1000, device=obs.device)
    masks = {tuple((dropout(ones) != 0).tolist()) for _ in range(10)}
    obs.expect("len({mask of dropout(x) for 10 calls})", len(masks), 10)
    dropout.eval()
    obs.expect(
        "nn.Dropout(0.5).eval(): torch.equal(dropout(x), dropout(x))",
        torch.equal(dropout(ones), dropout(ones)),
        True,
    )
    model = SimpleModel().to(obs.device)
    x = torch.randn(16, 10, device=obs.device)
    obs.expect(
        "model.train(); torch.equal(model(x), model(x))",
        torch.equal(model.train()(x), model(x)),
        False,
    )
    obs.expect(
        "model.eval(); torch.equal(model(x), model(x))",
        torch.equal(model.eval()(x), model(x)),
        True,
    )


@claim(
    "eval.dropout-memory",
    "For `Linear(64, 64)`-`ReLU`-`Dropout(0.5)`-`Linear(64, 64)` on a `(32, 64)` float32 input "
    "on the CPU, every parameter trainable, the tensors a forward saves for backward reference "
    "49152 bytes in 24576 bytes of distinct storage besides the parameters and input in train "
    "mode, and 40960 bytes in 8192 in eval mode: eval mode keeps neither the Dropout mask nor "
    "the Dropout output.",
)
@deterministic
def _eval_dropout_memory(obs: Observer) -> None:
    net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 64))
    x = torch.randn(32, 64)  # on the CPU, whatever the device: a CUDA mask is smaller
    outputs: dict[str, int] = {}
    for index, name in ((1, "relu"), (2, "dropout")):
        net[index].register_forward_hook(
            lambda _m, _a, out, name=name: outputs.__setitem__(
                name, out.untyped_storage().data_ptr()
            )
        )
    existing = {t.untyped_storage().data_ptr() for t in (*net.parameters(), x)}
    for mode in ("train", "eval"):
        net.train(mode == "train")
        with count_saved(exclude=[*net.parameters(), x]) as saved:
            net(x)
        # Which storages: a second forward, whose outputs the forward hooks record.
        _, tensors = _saved_during(net, x)
        kept = {
            t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
            for t in tensors
            if t.untyped_storage().data_ptr() not in existing
        }
        others = sorted(n for ptr, n in kept.items() if ptr not in outputs.values())
        figures = (saved.bytes, saved.storage_bytes)
        if mode == "train":
            obs.expect("train: (saved.bytes, saved.storage_bytes)", figures, (49152, 24576))
            obs.expect(
                "train: the ReLU and Dropout outputs are kept",
                {outputs["relu"], outputs["dropout"]} <= set(kept),
                True,
            )
            obs.expect("train: bytes of the other storages kept (the mask)", others, [8192])
        else:
            obs.expect("eval: (saved.bytes, saved.storage_bytes)", figures, (40960, 8192))
            obs.expect(
                "eval: the Dropout output is the ReLU output",
                outputs["dropout"] == outputs["relu"],
                True,
            )
            obs.expect(
                "eval: the storages kept are the ReLU output's only",
                set(kept) == {outputs["relu"]},
                True,
            )


@claim(
    "eval.bn-defaults",
    "A new `BatchNorm1d(C)`, `BatchNorm2d(C)` or `BatchNorm3d(C)` has `momentum = 0.1`, "
    "`eps = 1e-5`, `running_mean` all zeros, `running_var` all ones, `num_batches_tracked` 0, "
    "`weight` all ones and `bias` all zeros.",
)
@deterministic
def _eval_bn_defaults(obs: Observer) -> None:
    for cls in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
        bn = cls(3)
        name = cls.__name__
        obs.expect(f"{name}(3).momentum", bn.momentum, 0.1)
        obs.expect(f"{name}(3).eps", bn.eps, 1e-5)
        obs.expect(f"{name}(3).running_mean", bn.running_mean.tolist(), [0.0, 0.0, 0.0])
        obs.expect(f"{name}(3).running_var", bn.running_var.tolist(), [1.0, 1.0, 1.0])
        obs.expect(f"{name}(3).num_batches_tracked", int(bn.num_batches_tracked), 0)
        obs.expect(f"{name}(3).weight", bn.weight.tolist(), [1.0, 1.0, 1.0])
        obs.expect(f"{name}(3).bias", bn.bias.tolist(), [0.0, 0.0, 0.0])


@claim(
    "eval.bn2d-one-image",
    "In train mode `BatchNorm2d` accepts a batch of one image of shape `(1, C, H, W)` with "
    "`H * W > 1`, normalising each channel over its `H * W` values, and raises the `ValueError` "
    "`Expected more than 1 value per channel when training` for shape `(1, C, 1, 1)`.",
)
@deterministic
def _eval_bn2d_one_image(obs: Observer) -> None:
    bn = nn.BatchNorm2d(3).to(obs.device).train()
    x = torch.randn(1, 3, 4, 4, device=obs.device) * 2.0 + 1.0
    try:
        y: torch.Tensor | None = bn(x).detach()
    except ValueError as exc:  # a BatchNorm that counted samples would refuse it
        obs.record("bn2d.train()(x of shape (1, 3, 4, 4)) raised", str(exc))
        y = None
    obs.expect("bn2d.train()(x of shape (1, 3, 4, 4)) is accepted", y is not None, True)
    assert y is not None
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    obs.expect(
        "bn2d.train()(x of shape (1, 3, 4, 4)): allclose(y, (x - mean) / sqrt(var + eps))",
        torch.allclose(y, (x - mean) / torch.sqrt(var + bn.eps), atol=1e-5),
        True,
    )
    with obs.expect_raises(
        "bn2d.train()(torch.randn(1, 3, 1, 1))",
        ValueError,
        "Expected more than 1 value per channel",
    ):
        bn(torch.randn(1, 3, 1, 1, device=obs.device))


@claim(
    "eval.drop-last",
    "A `DataLoader` with `batch_size=b` over n samples ends with a batch of `n % b` samples when "
    "b does not divide n (a batch of one when n is one more than a multiple of b), and "
    "`drop_last=True` leaves that last batch out (checked: n, b = 17, 8; 25, 6; 16, 8; 5, 2; "
    "with and without `shuffle=True`).",
)
@deterministic
def _eval_drop_last(obs: Observer) -> None:
    for (n, b), shuffle in itertools.product(((17, 8), (25, 6), (16, 8), (5, 2)), (False, True)):
        data = TensorDataset(torch.randn(n, 3))
        full = [b] * (n // b)
        where = f"n={n}, batch_size={b}, shuffle={shuffle}"
        obs.expect(
            f"{where}: batch sizes",
            _batch_sizes(DataLoader(data, batch_size=b, shuffle=shuffle)),
            full + ([n % b] if n % b else []),
        )
        obs.expect(
            f"{where}, drop_last=True: batch sizes",
            _batch_sizes(DataLoader(data, batch_size=b, shuffle=shuffle, drop_last=True)),
            full,
        )


def _batch_sizes(loader: DataLoader[tuple[torch.Tensor, ...]]) -> list[int]:
    return [len(batch[0]) for batch in loader]


@claim(
    "eval.bn-buffers",
    "A `BatchNorm1d`'s `running_mean`, `running_var` and `num_batches_tracked` are buffers, "
    "not parameters: they are listed by `named_buffers()` and not by `parameters()` (so an "
    "optimizer built from `model.parameters()` does not hold them), do not require grad, and "
    "have no `.grad` after `backward()`.",
)
@deterministic
def _eval_bn_buffers(obs: Observer) -> None:
    bn = nn.BatchNorm1d(4).to(obs.device)
    obs.expect(
        "[name for name, _ in bn.named_buffers()]",
        [name for name, _ in bn.named_buffers()],
        ["running_mean", "running_var", "num_batches_tracked"],
    )
    obs.expect(
        "[name for name, _ in bn.named_parameters()]",
        [name for name, _ in bn.named_parameters()],
        ["weight", "bias"],
    )
    optimizer = torch.optim.SGD(bn.parameters(), lr=0.1)
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    obs.expect(
        "any buffer in SGD(bn.parameters()).param_groups",
        any(id(b) in held for b in bn.buffers()),
        False,
    )
    bn.train()(torch.randn(8, 4, device=obs.device)).sum().backward()
    obs.expect(
        "[(b.requires_grad, b.grad) for b in bn.buffers()]",
        [(b.requires_grad, b.grad) for b in bn.buffers()],
        [(False, None)] * 3,
    )
