"""Cross-cutting claims: the recommended patterns, ``detach``, and the smaller facts the
comparison, recipes and pitfalls pages rely on (claims.md section E)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable

import torch
from torch import nn

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim
from gradmodes.freeze import BATCHNORM_TYPES, freeze, freeze_batchnorm, unfreeze_batchnorm
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
    "gives identical outputs on repeated calls and sets `model.training` back to its previous "
    "value; with "
    "`torch.no_grad()` in place of `inference_mode` the outputs and all of this are the same, "
    "and only those outputs can later be saved for backward, which inference tensors cannot "
    "be.",
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
    seen_no_grad = observe(model, x, grad_mode="no_grad")
    with torch.no_grad():
        out = model(x)
    model.train(was_training)
    obs.expect(
        "model.eval(); seen = observe(model, x, grad_mode='no_grad'); "
        "(seen.dropout_active, seen.bn_stats_updated, seen.has_grad_fn, seen.saved_bytes)",
        (
            seen_no_grad.dropout_active,
            seen_no_grad.bn_stats_updated,
            seen_no_grad.has_grad_fn,
            seen_no_grad.saved_bytes,
        ),
        (False, False, False, 0),
    )
    obs.expect("with torch.no_grad(): torch.equal(model(x), first)", torch.equal(out, first), True)
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
    "`RuntimeError` (`modified by an inplace operation`).",
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
    "`freeze_batchnorm(model)` freezes the parameters of every BatchNorm layer of the model "
    "(every `torch.nn` class derived from `_BatchNorm`: `BatchNorm1d`, `BatchNorm2d`, "
    "`BatchNorm3d`, `SyncBatchNorm`, and a `Lazy` one once its first forward has initialized "
    "it, before which it raises `ValueError` and changes nothing) and keeps those layers in "
    "eval mode through later `model.train()` calls, so training forwards no longer change "
    "their running statistics while Dropout stays active, and `unfreeze_batchnorm(model)` "
    "undoes both.",
)
@deterministic
def _x_freeze_bn(obs: Observer) -> None:
    from torch.nn.modules.batchnorm import _BatchNorm

    in_torch = sorted(
        name
        for name, cls in vars(nn).items()
        if isinstance(cls, type) and issubclass(cls, _BatchNorm) and cls is not _BatchNorm
    )
    obs.expect(
        "the _BatchNorm subclasses in torch.nn are gradmodes.freeze.BATCHNORM_TYPES",
        in_torch,
        sorted(cls.__name__ for cls in BATCHNORM_TYPES),
    )
    shapes = {"1d": (8, 3), "2d": (8, 3, 2, 2), "3d": (8, 3, 2, 2, 2)}
    for cls in BATCHNORM_TYPES:
        lazy = cls.__name__.startswith("Lazy")
        bn = (cls() if lazy else cls(3)).to(obs.device)  # type: ignore[call-arg]
        net = nn.Sequential(nn.Dropout(0.5), bn).to(obs.device)
        x = torch.randn(shapes.get(cls.__name__[-2:], (8, 3)), device=obs.device) + 1.0
        if lazy:
            with obs.expect_raises(
                f"freeze_batchnorm(Sequential(Dropout, {cls.__name__}()))",
                ValueError,
                "has no parameters yet",
            ):
                freeze_batchnorm(net)
            obs.expect(f"{cls.__name__}: net.train(); bn.training", net.train()[1].training, True)
            net(x)  # the first forward initializes it
        obs.expect(f"freeze_batchnorm(net) with {cls.__name__}", freeze_batchnorm(net), ["1"])
        before = [bn.running_mean.clone(), bn.running_var.clone()]
        net.train()
        out = net(x)
        after = (bn.running_mean, bn.running_var)
        obs.expect(
            f"{cls.__name__}: net.train(); net(x): (bn.training, parameters' requires_grad, "
            "running statistics changed, Dropout active)",
            (
                bn.training,
                [p.requires_grad for p in bn.parameters()],
                [not torch.equal(old, new) for old, new in zip(before, after, strict=True)],
                net[0].training,
            ),
            (False, [False, False], [False, False], True),
        )
        obs.record(f"{cls.__name__}: out.shape", tuple(out.shape))
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


# --- The comparison page's training-mode demo --------------------------------------------


@claim(
    "x.seed-train-mode",
    "A newly built `SimpleModel` is in train mode, and so is each of its submodules; there its "
    "`Dropout(0.5)` turns a tensor of ones into zeros and twos only, and each forward changes "
    "its BatchNorm's `running_mean` and adds 1 to `num_batches_tracked`.",
)
@deterministic
def _x_seed_train_mode(obs: Observer) -> None:
    model = SimpleModel().to(obs.device)
    obs.expect(
        "model = SimpleModel(); {m.training for m in model.modules()}",
        {m.training for m in model.modules()},
        {True},
    )
    dropped = model.dropout(torch.ones(4, 10, device=obs.device))
    obs.expect(
        "set(model.dropout(torch.ones(4, 10)).unique().tolist())",
        set(dropped.unique().tolist()),
        {0.0, 2.0},
    )
    obs.record("(model.dropout(torch.ones(4, 10)) == 0).sum().item()", (dropped == 0).sum().item())
    before = model.bn.running_mean.clone()
    for forwards in (1, 2):
        model(torch.randn(16, 10, device=obs.device))
        obs.expect(
            f"after {forwards} forward(s): running_mean changed",
            not torch.equal(before, model.bn.running_mean),
            True,
        )
        before = model.bn.running_mean.clone()
        obs.expect(
            f"after {forwards} forward(s): model.bn.num_batches_tracked.item()",
            model.bn.num_batches_tracked.item(),
            forwards,
        )


# --- Facts of the eval-mode, requires-grad, no-grad and inference-mode pages --------------


@claim(
    "x.linear-saves-input",
    "With gradients enabled, an `nn.Linear(4, 3)` forward on a 2-D input that does not "
    "require grad saves that input for backward when the layer's weight requires grad (with "
    "its bias trainable or frozen), and saves nothing when the weight is frozen (with its "
    "bias trainable or frozen); so the trainable layer called on an inference tensor raises "
    "`RuntimeError` (`Inference tensors cannot be saved for backward`).",
)
@deterministic
def _x_linear_saves_input(obs: Observer) -> None:
    layer = nn.Linear(4, 3).to(obs.device)
    x = torch.randn(8, 4, device=obs.device)
    for trainable, bias in ((True, True), (True, False), (False, True), (False, False)):
        layer.weight.requires_grad_(trainable)
        layer.bias.requires_grad_(bias)
        packed: list[int] = []

        def pack(tensor: torch.Tensor, packed: list[int] = packed) -> torch.Tensor:
            packed.append(tensor.untyped_storage().data_ptr())
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            layer(x)
        obs.expect(
            f"layer.weight.requires_grad_({trainable}); layer.bias.requires_grad_({bias}); "
            "(x's storage saved, tensors saved)",
            (x.untyped_storage().data_ptr() in packed, len(packed) > 0),
            (trainable, trainable),
        )
    layer.requires_grad_(True)
    with torch.inference_mode():
        features = torch.randn(8, 4, device=obs.device)
    with obs.expect_raises(
        "with torch.inference_mode(): features = ...; layer(features)",
        RuntimeError,
        "Inference tensors cannot be saved for backward",
    ):
        layer(features)


def _error_of(run: Callable[[], object]) -> str | None:
    """The first line of the ``RuntimeError`` that ``run()`` raises; ``None`` if it raises none."""
    try:
        run()
    except RuntimeError as exc:
        return str(exc).splitlines()[0]
    return None


# --- Recipes: an EMA of the weights, serving, an input gradient ---------------------------


def _lerp_chain(tensor: torch.Tensor) -> int:
    """How many ``LerpBackward0`` nodes follow one another from ``tensor.grad_fn``."""
    depth, node = 0, tensor.grad_fn
    while node is not None and type(node).__name__ == "LerpBackward0":
        depth += 1
        node = next(
            (n for n, _ in node.next_functions if type(n).__name__ == "LerpBackward0"), None
        )
    return depth


@claim(
    "x.ema-graph",
    "Without `torch.no_grad()`, `e.lerp_(p, 0.1)` from each trainable parameter `p` into the "
    "matching parameter `e` of a frozen copy (`copy.deepcopy(model).requires_grad_(False)`) "
    "raises no error and makes `e` part of the graph: afterwards `e.requires_grad` is `True`, "
    "`e.is_leaf` is `False`, its `grad_fn` is a `LerpBackward0` linked to the one of the "
    "previous update (a chain one node longer per update, checked over 3 updates), and the "
    "copy's outputs have a `grad_fn`; the same updates under `torch.no_grad()` leave `e` a "
    "frozen leaf without `grad_fn`.",
)
@deterministic
def _x_ema_graph(obs: Observer) -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1)).to(obs.device)
    x = torch.randn(8, 4, device=obs.device)

    def update(ema_model: nn.Module) -> None:
        for ema_param, param in zip(ema_model.parameters(), model.parameters(), strict=True):
            ema_param.lerp_(param, 0.1)

    ema = copy.deepcopy(model).requires_grad_(False)
    for updates in (1, 2, 3):
        obs.expect(f"update {updates} without no_grad: error", _error_of(lambda: update(ema)), None)
        e = ema[0].weight
        obs.expect(
            f"after {updates}: (e.requires_grad, e.is_leaf, type(e.grad_fn).__name__, chain)",
            (e.requires_grad, e.is_leaf, type(e.grad_fn).__name__, _lerp_chain(e)),
            (True, False, "LerpBackward0", updates),
        )
    obs.expect(
        "all(e.requires_grad for e in ema.parameters())",
        all(e.requires_grad for e in ema.parameters()),
        True,
    )
    obs.expect("ema(x).grad_fn is not None", ema(x).grad_fn is not None, True)

    ema = copy.deepcopy(model).requires_grad_(False)
    with torch.no_grad():
        update(ema)
        update(ema)
    obs.expect(
        "with torch.no_grad(): update twice; {(e.requires_grad, e.is_leaf, e.grad_fn)}",
        {(e.requires_grad, e.is_leaf, e.grad_fn) for e in ema.parameters()},
        {(False, True, None)},
    )


class _Interleave(nn.Module):
    """Identity that interleaves two requests: its first call starts ``second`` in a new
    thread, lets it run until it reaches this module, and goes on; ``second`` waits there
    until ``resume`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.second: Callable[[], object] | None = None
        self.thread: threading.Thread | None = None
        self.reached = threading.Event()
        self.resume = threading.Event()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if threading.current_thread() is self.thread:
            self.reached.set()
            self.resume.wait(timeout=10)
        elif self.second is not None:
            second, self.second = self.second, None
            self.thread = threading.Thread(target=second)
            self.thread.start()
            self.reached.wait(timeout=10)
        return x


def _two_requests(
    obs: Observer, serve: Callable[[nn.Module, torch.Tensor], torch.Tensor], model: nn.Module
) -> tuple[bool, bool]:
    """Request A starts; inside A's forward, request B starts in another thread and waits
    inside its own forward; A finishes; then B finishes.

    Returns whether A's and B's Dropout passed their input through unchanged.
    """
    interleave = model[0]
    x = torch.ones(1, 1000, device=obs.device)
    out: dict[str, torch.Tensor] = {}
    interleave.reached.clear()
    interleave.resume.clear()
    interleave.second = lambda: out.setdefault("B", serve(model, x))
    out["A"] = serve(model, x)
    interleave.resume.set()
    if interleave.thread is not None:
        interleave.thread.join(timeout=10)
    obs.expect(
        "request B reached the forward during A's and both finished",
        (interleave.reached.is_set(), sorted(out)),
        (True, ["A", "B"]),
    )
    return torch.equal(out["A"], x), torch.equal(out["B"], x)


@claim(
    "x.shared-mode",
    "The `training` flag belongs to the module object, shared by every thread: when a request "
    "function that calls `model.eval()` and then `model.train(was_training)` serves a model "
    "left in train mode, the first of two overlapping requests switches the model back to "
    "train mode when it finishes, and the second, still inside its forward, runs the rest of "
    "it with Dropout on; when "
    "`model.eval()` is called once, before serving, and the request function does not "
    "change the mode, both requests run with Dropout off.",
)
@deterministic
def _x_shared_mode(obs: Observer) -> None:
    @torch.inference_mode()
    def toggling(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        was_training = model.training
        model.eval()
        try:
            return model(batch)
        finally:
            model.train(was_training)

    @torch.inference_mode()
    def fixed(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return model(batch)

    model = nn.Sequential(_Interleave(), nn.Dropout(0.5)).to(obs.device)  # left in train mode
    obs.expect(
        "toggling per request: (A's Dropout off, B's Dropout off)",
        _two_requests(obs, toggling, model),
        (True, False),
    )
    obs.record("afterwards model.training", model.training)
    model.eval()  # once, before serving
    obs.expect(
        "model.eval() once: (A's Dropout off, B's Dropout off)",
        _two_requests(obs, fixed, model),
        (True, True),
    )


def _helper_results(
    obs: Observer, helper: Callable[[nn.Module, torch.Tensor], torch.Tensor], name: str
) -> dict[str, object]:
    """Call ``helper(model, x)`` under each grad mode, for a normal and an inference ``x``.

    Each result is ``True`` when it returned the input gradient of ``Linear(10, 3)``'s
    summed output (``weight.sum(0)`` in every row) as a normal tensor, else the error.
    """
    model = nn.Linear(10, 3).to(obs.device).eval()
    expected = model.weight.detach().sum(0).expand(4, 10)
    x = torch.randn(4, 10, device=obs.device)
    with torch.inference_mode():
        inference_x = x.clone()
    results: dict[str, object] = {}
    for mode in ("inference_mode", "no_grad", "grad"):
        for which, batch in (("x", x), ("inference x", inference_x)):
            context = {
                "inference_mode": torch.inference_mode,
                "no_grad": torch.no_grad,
                "grad": torch.enable_grad,
            }[mode]
            try:
                with context():
                    grad = helper(model, batch)
                results[f"{name} under {mode}, {which}"] = (
                    not torch.is_inference(grad) and torch.allclose(grad, expected)
                ) or repr(grad)
            except RuntimeError as exc:
                results[f"{name} under {mode}, {which}"] = str(exc).splitlines()[0]
    return results


@claim(
    "x.input-gradient",
    "An input-gradient helper decorated with `@torch.enable_grad()` that takes "
    "`x.detach().requires_grad_()` raises `RuntimeError` (`element 0 of tensors does not "
    "require grad and does not have a grad_fn`) when called under `torch.inference_mode()`, "
    "for a normal or an inference-tensor input; with its body under "
    "`torch.inference_mode(False)` and `torch.enable_grad()` and its input cloned there, it "
    "returns the input gradient, as a normal tensor, under `inference_mode`, under `no_grad` "
    "and with gradients enabled, for both inputs (checked on `nn.Linear(10, 3)`).",
)
@deterministic
def _x_input_gradient(obs: Observer) -> None:
    # Both helpers are defined here, at check time, so that the decorators and context
    # managers are the ones torch has now.
    @torch.enable_grad()
    def enable_grad_only(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_()
        (grad,) = torch.autograd.grad(model(x).sum(), x)
        return grad

    def input_gradient(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(False), torch.enable_grad():
            x = x.clone().requires_grad_()
            (grad,) = torch.autograd.grad(model(x).sum(), x)
        return grad

    element_0 = "element 0 of tensors does not require grad and does not have a grad_fn"
    old = _helper_results(obs, enable_grad_only, "enable_grad_only")
    for key in sorted(old):
        obs.record(key, old[key])
    for which in ("x", "inference x"):
        key = f"enable_grad_only under inference_mode, {which}"
        obs.expect(key, old[key], element_0)
    for key in ("enable_grad_only under no_grad, x", "enable_grad_only under grad, x"):
        obs.expect(key, old[key], True)
    for key, result in _helper_results(obs, input_gradient, "input_gradient").items():
        obs.expect(key, result, True)
