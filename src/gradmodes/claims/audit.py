"""Claims behind the findings of :func:`gradmodes.audit` (the audit page)."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
import torch.optim.optimizer as optimizer_module
from torch import nn

from gradmodes.audit import RUNNING_STATS_TYPES
from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim
from gradmodes.probes import BN_STATS, DROPOUT_TYPES

__all__: list[str] = []


def _shape(cls: type[nn.Module]) -> tuple[int, ...]:
    """An input shape with 3 channels for a 1d, 2d or 3d normalisation layer."""
    dims = {"1d": (4, 3, 5), "2d": (4, 3, 5, 5), "3d": (4, 3, 2, 2, 2)}
    suffix = cls.__name__[-2:]
    if suffix in dims:
        return dims[suffix][:2] if cls.__name__.endswith("BatchNorm1d") else dims[suffix]
    return (4, 3)  # SyncBatchNorm: (N, C)


def _stats(module: nn.Module) -> list[torch.Tensor]:
    return [getattr(module, name).clone() for name in BN_STATS]


@claim(
    "audit.running-stats",
    "The running-statistics layers of `torch.nn` (`BatchNorm1d`, `BatchNorm2d`, `BatchNorm3d`, "
    "`SyncBatchNorm`, and `InstanceNorm1d`, `InstanceNorm2d`, `InstanceNorm3d` with "
    "`track_running_stats=True`; a `Lazy` variant becomes one of them at its first forward), "
    "at their default `momentum` (0.1) and with every parameter frozen, or with none "
    "(`affine=False`), change `running_mean` and "
    "`running_var` in each forward in training mode (the BatchNorm classes also count it in "
    "`num_batches_tracked`) and leave them unchanged in eval mode.",
)
@deterministic
def _audit_running_stats(obs: Observer) -> None:
    from torch.nn.modules.batchnorm import _NormBase

    in_torch = {
        cls
        for cls in vars(nn).values()
        if inspect.isclass(cls) and issubclass(cls, _NormBase) and cls is not _NormBase
    }
    obs.expect(
        "the _NormBase subclasses in torch.nn are gradmodes.audit.RUNNING_STATS_TYPES",
        sorted(cls.__name__ for cls in in_torch),
        sorted(cls.__name__ for cls in RUNNING_STATS_TYPES),
    )
    for cls in RUNNING_STATS_TYPES:
        for affine in (True, False):
            _check_running_stats(obs, cls, affine)


def _check_running_stats(obs: Observer, cls: type[nn.Module], affine: bool) -> None:
    options: dict[str, bool] = {"affine": affine, "track_running_stats": True}
    lazy = cls.__name__.startswith("Lazy")
    layer = (cls(**options) if lazy else cls(3, **options)).to(obs.device)  # type: ignore[call-arg]
    x = torch.randn(*_shape(cls), device=obs.device)
    name = f"{cls.__name__}(affine={affine})"
    obs.expect(f"{name}.momentum", layer.momentum, 0.1)
    if lazy:
        layer.train()(x)  # the first forward gives the layer its parameters
        obs.expect(
            f"type({name}) after its first forward",
            type(layer).__name__,
            cls.__name__.removeprefix("Lazy"),
        )
    layer.requires_grad_(False)
    obs.expect(f"{name}: len(list(parameters()))", len(list(layer.parameters())), 2 * affine)
    before = _stats(layer)
    layer.train()(x)
    obs.expect(
        f"{name}: requires_grad_(False); train(); forward: which of {BN_STATS} changed",
        [not torch.equal(a, b) for a, b in zip(before, _stats(layer), strict=True)],
        [True, True, "Batch" in cls.__name__],
    )
    before = _stats(layer)
    layer.eval()(x)
    obs.expect(
        f"{name}: eval(); forward: which of {BN_STATS} changed",
        [not torch.equal(a, b) for a, b in zip(before, _stats(layer), strict=True)],
        [False, False, False],
    )


def _optimizers() -> list[type[torch.optim.Optimizer]]:
    """Every optimizer class in ``torch.optim``, by name."""
    return sorted(
        {
            cls
            for cls in vars(torch.optim).values()
            if inspect.isclass(cls)
            and issubclass(cls, torch.optim.Optimizer)
            and cls is not torch.optim.Optimizer
        },
        key=lambda cls: cls.__name__,
    )


def _default(
    cls: type[torch.optim.Optimizer], params: list[nn.Parameter] | list[dict[str, object]]
) -> torch.optim.Optimizer:
    """``cls(params)`` with its default settings (``lr=1e-3`` where ``lr`` has no default,
    as for ``SGD`` before torch 2.2)."""
    lr = inspect.signature(cls).parameters.get("lr")
    required = lr is not None and lr.default is getattr(optimizer_module, "required", None)
    return cls(params, lr=1e-3) if required else cls(params)  # type: ignore[arg-type]


MOVED_WITH_ZERO_GRAD = {"ASGD", "Adam", "AdamW", "Adamax", "LBFGS", "Muon", "NAdam", "RAdam"}
MOVED_WITHOUT_GRAD = {"LBFGS"}


def _moves_frozen(
    make: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    set_to_none: bool,
    device: torch.device,
    sparse: bool = False,
) -> bool:
    """Two layers, one step with a gradient, ``zero_grad(set_to_none)``, the first layer's
    weight frozen, one more step: does it change the frozen weight?"""
    if sparse:
        layers = nn.ModuleList(nn.Embedding(4, 3, sparse=True) for _ in range(2)).to(device)
        index = torch.arange(4, device=device)

        def loss() -> torch.Tensor:
            return (layers[0](index) * layers[1](index)).square().sum()
    else:
        # Two matrices only: Muon takes 2-D parameters and nothing else.
        layers = nn.ModuleList(nn.Linear(4, 4, bias=False) for _ in range(2)).to(device)
        x = torch.randn(8, 4, device=device)

        def loss() -> torch.Tensor:
            return layers[1](layers[0](x)).square().sum()

    optimizer = make(list(layers.parameters()))

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=set_to_none)
        value = loss()
        value.backward()
        return value

    optimizer.step(closure)  # a step with a gradient (each optimizer calls the closure)
    optimizer.zero_grad(set_to_none=set_to_none)
    frozen = layers[0].weight.requires_grad_(False)
    before = frozen.detach().clone()
    optimizer.step(closure)
    return not torch.equal(before, frozen)


@claim(
    "audit.stale-grad",
    "Of the optimizer classes in `torch.optim`, with their default settings and after one step "
    "with a gradient, `ASGD`, `Adam`, `AdamW`, `Adamax`, `LBFGS`, `Muon`, `NAdam` and `RAdam` "
    "still change a parameter frozen with the zero `.grad` that `zero_grad(set_to_none=False)` "
    "leaves (so does `SGD` with momentum), the others leave it unchanged, and once its `.grad` "
    "is `None` only `LBFGS` changes it.",
    torch_versions=">=2.5",  # the records of other releases (evidence page)
)
@deterministic
def _audit_stale_grad(obs: Observer) -> None:
    classes = _optimizers()
    known = {
        "ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "Muon",
        "NAdam", "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam",
    }  # fmt: skip
    names = [cls.__name__ for cls in classes]
    obs.expect(
        "optimizer classes in torch.optim not known to this check", set(names) - known, set()
    )
    for cls in classes:
        for set_to_none, movers in ((False, MOVED_WITH_ZERO_GRAD), (True, MOVED_WITHOUT_GRAD)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. Muon's note on its learning rate
                moved = _moves_frozen(
                    functools.partial(_default, cls),
                    set_to_none,
                    obs.device,
                    cls.__name__ == "SparseAdam",
                )
            obs.expect(
                f"{cls.__name__}: step(); zero_grad(set_to_none={set_to_none}); "
                "weight.requires_grad_(False); step(): weight changed",
                moved,
                cls.__name__ in movers,
            )
    for set_to_none in (False, True):
        obs.expect(
            f"SGD(momentum=0.9): step(); zero_grad(set_to_none={set_to_none}); freeze; step(): "
            "weight changed",
            _moves_frozen(
                lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9), set_to_none, obs.device
            ),
            not set_to_none,
        )


def _layer(cls: type[torch.optim.Optimizer], device: torch.device) -> nn.Module:
    """A 4x4 layer that ``cls`` can train: sparse for SparseAdam, 2-D only for Muon."""
    if cls.__name__ == "SparseAdam":
        return nn.Embedding(4, 4, sparse=True).to(device)
    return nn.Linear(4, 4, bias=False).to(device)


def _forward(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(layer, nn.Embedding):
        return layer(torch.arange(4, device=x.device)) * x[:4]
    return layer(x)


@claim(
    "audit.not-in-optimizer",
    "Every optimizer class in `torch.optim` holds the parameter objects it was given: when a "
    "layer is assigned in place of `model.head` after the optimizer was built, no param group "
    "holds the new layer's parameters, and `step()` leaves them unchanged although "
    "`backward()` gives them a `.grad`, while it changes the other parameters.",
)
@deterministic
def _audit_not_in_optimizer(obs: Observer) -> None:
    x = torch.randn(8, 4, device=obs.device)
    for cls in _optimizers():
        model = nn.Module()
        model.body, model.head = _layer(cls, obs.device), _layer(cls, obs.device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Muon's notes on its settings
            optimizer = _default(cls, list(model.parameters()))
        model.head = _layer(cls, obs.device)  # a new head, after the optimizer was built
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        obs.expect(
            f"{cls.__name__}: id(model.head.weight) in held",
            id(model.head.weight) in held,
            False,
        )
        before = [p.detach().clone() for p in model.parameters()]

        def closure(
            model: nn.Module = model, optimizer: torch.optim.Optimizer = optimizer
        ) -> torch.Tensor:
            optimizer.zero_grad()
            model.head.zero_grad()
            loss = _forward(model.head, _forward(model.body, x)).square().sum()
            loss.backward()
            return loss

        closure()
        optimizer.step(closure)
        obs.expect(
            f"{cls.__name__}: backward(); step(): (body.weight.grad is not None, "
            "head.weight.grad is not None)",
            (model.body.weight.grad is not None, model.head.weight.grad is not None),
            (True, True),
        )
        obs.expect(
            f"{cls.__name__}: step(): (body.weight changed, head.weight changed)",
            tuple(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True)),
            (True, False),
        )


@claim(
    "audit.nothing-to-train",
    "With every parameter frozen, `backward()` of a loss computed from an input that requires "
    "grad gives no parameter a `.grad`, and the `step()` of every optimizer class in "
    "`torch.optim` given those parameters changes none of them.",
)
@deterministic
def _audit_nothing_to_train(obs: Observer) -> None:
    for cls in _optimizers():
        layers = nn.ModuleList([_layer(cls, obs.device), _layer(cls, obs.device)])
        layers.requires_grad_(False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Muon's notes on its settings
            optimizer = _default(cls, list(layers.parameters()))
        x = torch.randn(8, 4, device=obs.device, requires_grad=True)
        before = [p.detach().clone() for p in layers.parameters()]

        def closure(layers: nn.ModuleList = layers, x: torch.Tensor = x) -> torch.Tensor:
            loss = _forward(layers[1], _forward(layers[0], x)).square().sum()
            loss.backward()
            return loss

        closure()
        obs.expect(
            f"{cls.__name__}: all frozen; loss.backward(): [p.grad for p in parameters]",
            [p.grad for p in layers.parameters()],
            [None, None],
        )
        optimizer.step(closure)
        obs.expect(
            f"{cls.__name__}: step(): any parameter changed",
            any(not torch.equal(a, p) for a, p in zip(before, layers.parameters(), strict=True)),
            False,
        )


def _stepped_value(
    cls: type[torch.optim.Optimizer], listing: str, device: torch.device
) -> torch.Tensor:
    """A 3x3 parameter after one ``step()`` with a gradient of ones, the param groups listing
    it ``"once"``, ``"twice"`` in one group, or once more in a group ``"appended"`` by hand."""
    param = nn.Parameter(torch.linspace(-1.0, 1.0, 9, device=device).reshape(3, 3))
    ones = torch.ones(3, 3, device=device)
    grad = ones.to_sparse() if cls.__name__ == "SparseAdam" else ones
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the duplicate-parameter warning; Muon's notes
        optimizer = _default(cls, [param, param] if listing == "twice" else [param])
    if listing == "appended":
        optimizer.param_groups.append({**optimizer.param_groups[0], "params": [param]})

    def closure() -> torch.Tensor:  # LBFGS asks for the loss and the gradient
        param.grad = grad.clone()
        return torch.tensor(1.0)

    closure()
    optimizer.step(closure)
    return param.detach().clone()


@claim(
    "audit.two-groups",
    "Every optimizer class in `torch.optim` refuses a parameter in two param groups "
    "(`ValueError`: `some parameters appear in more than one parameter group`) but accepts it "
    "listed twice in one group, with a warning, and then `step()` gives it another value than "
    "when it is listed once; so does a group listing it again appended to "
    "`optimizer.param_groups` by hand, in every class but `LBFGS`, whose `step()` then raises.",
    torch_versions=">=2.10",  # the records of other releases (evidence page)
)
@deterministic
def _audit_two_groups(obs: Observer) -> None:
    for cls in _optimizers():
        param = nn.Parameter(torch.zeros(2, 2, device=obs.device))
        with obs.expect_raises(
            f"{cls.__name__}([{{'params': [p]}}, {{'params': [p]}}])",
            ValueError,
            "some parameters appear in more than one parameter group",
        ):
            _default(cls, [{"params": [param]}, {"params": [param]}])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _default(cls, [param, param])
        obs.expect(
            f"{cls.__name__}([p, p]) warns 'duplicate parameters'",
            any("duplicate parameters" in str(w.message) for w in caught),
            True,
        )
        once = _stepped_value(cls, "once", obs.device)
        obs.expect(
            f"{cls.__name__}([p, p]).step(): p differs from {cls.__name__}([p]).step()",
            not torch.equal(once, _stepped_value(cls, "twice", obs.device)),
            True,
        )
        if cls is torch.optim.LBFGS:
            with obs.expect_raises(
                "LBFGS with a group appended: step()", AssertionError, "exactly one param_group"
            ):
                _stepped_value(cls, "appended", obs.device)
            continue
        obs.expect(
            f"{cls.__name__}: a group with p appended: p differs after step()",
            not torch.equal(once, _stepped_value(cls, "appended", obs.device)),
            True,
        )


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5))
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(8, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _flags(model: nn.Module) -> set[bool]:
    return {module.training for module in model.modules()}


def _training(model: nn.Module) -> list[str]:
    """The names of the modules in training mode (``""``: the model itself)."""
    return [name for name, module in model.named_modules() if module.training]


def _drops(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``module`` (a Dropout) zeroes elements of ``x`` now."""
    return bool((module(x) == 0).any())


@claim(
    "audit.mixed-modes",
    "`training` is a flag of each module: `model.eval()` and `model.train()` set it on every "
    "submodule, but after `model.eval()` a `model.head.train()` makes the Dropout in the head "
    "zero elements while the one in the body stays off, a new `nn.Dropout(0.5)` assigned to the "
    "model after `model.eval()` starts in training mode and zeroes elements while "
    "`model.training` stays `False`, and after `model.train()` a "
    "`model.body.eval()` turns off only the Dropout inside `model.body`.",
)
@deterministic
def _audit_mixed_modes(obs: Observer) -> None:
    x = torch.ones(64, device=obs.device)
    model = _Net().to(obs.device)
    model.eval()
    obs.expect("model.eval(); {m.training for m in model.modules()}", _flags(model), {False})
    model.train()
    obs.expect("model.train(); {m.training for m in model.modules()}", _flags(model), {True})
    model.eval()
    model.head.train()
    obs.expect(
        "model.eval(); model.head.train(); (model.training, model.body[1] drops, "
        "model.head[0] drops)",
        (model.training, _drops(model.body[1], x), _drops(model.head[0], x)),
        (False, False, True),
    )
    obs.expect(
        "model.eval(); model.head.train(): modules in training mode",
        _training(model),
        ["head", "head.0", "head.1"],
    )
    model.eval()
    model.extra = nn.Dropout(0.5).to(obs.device)
    obs.expect(
        "model.eval(); model.extra = nn.Dropout(0.5); (model.training, model.extra.training, "
        "model.extra drops)",
        (model.training, model.extra.training, _drops(model.extra, x)),
        (False, True, True),
    )
    model.train()
    model.body.eval()
    obs.expect(
        "model.train(); model.body.eval(); (model.training, model.body[1] drops, "
        "model.head[0] drops, model.extra drops)",
        (model.training, *(_drops(m, x) for m in (model.body[1], model.head[0], model.extra))),
        (True, False, True, True),
    )
    obs.expect(
        "model.train(); model.body.eval(): modules in training mode",
        _training(model),
        ["", "head", "head.0", "head.1", "extra"],
    )


_FUNCTIONAL_DROPOUT = {
    "dropout": (F.dropout, (64,)),
    "dropout1d": (F.dropout1d, (2, 32, 4)),
    "dropout2d": (F.dropout2d, (2, 32, 2, 2)),
    "dropout3d": (F.dropout3d, (2, 32, 1, 2, 2)),
}


class _Calls(nn.Module):
    """A module whose forward calls one dropout function, passing ``training`` or not."""

    def __init__(self, name: str, passes_training: bool) -> None:
        super().__init__()
        self.name, self.passes_training = name, passes_training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        function = getattr(F, self.name)  # looked up at call time, as a module's code does
        if self.passes_training:
            return function(x, 0.5, training=self.training)
        return function(x, 0.5)


@claim(
    "audit.functional-dropout",
    "In eval mode, a module whose forward calls `F.dropout`, `F.dropout1d`, `F.dropout2d` or "
    "`F.dropout3d` without `training=self.training` gives different outputs for the same "
    "input on two calls, while one that passes `training=self.training`, and each dropout "
    "module class of `torch.nn`, gives its input back unchanged.",
)
@deterministic
def _audit_functional_dropout(obs: Observer) -> None:
    from torch.nn.modules.dropout import _DropoutNd

    in_torch = {
        cls.__name__
        for cls in vars(nn).values()
        if inspect.isclass(cls) and issubclass(cls, _DropoutNd) and cls is not _DropoutNd
    }
    obs.expect(
        "the _DropoutNd subclasses in torch.nn are gradmodes.probes.DROPOUT_TYPES",
        sorted(in_torch),
        sorted(cls.__name__ for cls in DROPOUT_TYPES),
    )
    for name, (_, shape) in _FUNCTIONAL_DROPOUT.items():
        x = torch.ones(shape, device=obs.device)
        forgets, passes = _Calls(name, False).eval(), _Calls(name, True).eval()
        obs.expect(
            f"F.{name}(x, 0.5) in eval mode: torch.equal(m(x), m(x)), torch.equal(m(x), x)",
            (torch.equal(forgets(x), forgets(x)), torch.equal(forgets(x), x)),
            (False, False),
        )
        obs.expect(
            f"F.{name}(x, 0.5, training=self.training) in eval mode: torch.equal(m(x), x)",
            torch.equal(passes(x), x),
            True,
        )
    shapes = {"Dropout1d": (2, 32, 4), "Dropout2d": (2, 32, 2, 2), "Dropout3d": (2, 32, 1, 2, 2)}
    for cls in DROPOUT_TYPES:
        x = torch.ones(shapes.get(cls.__name__, (64,)), device=obs.device)
        layer = cls(0.5).eval()
        obs.expect(
            f"{cls.__name__}(0.5).eval(): torch.equal(m(x), x)", torch.equal(layer(x), x), True
        )


class _Normalises(nn.Module):
    """A custom BatchNorm that passes ``training`` to ``F.batch_norm``, or always True."""

    def __init__(self, passes_training: bool) -> None:
        super().__init__()
        self.passes_training = passes_training
        self.register_buffer("running_mean", torch.zeros(3))
        self.register_buffer("running_var", torch.ones(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        training = self.training if self.passes_training else True
        return F.batch_norm(x, self.running_mean, self.running_var, training=training)


@claim(
    "audit.eval-buffers",
    "A module whose forward calls `F.batch_norm(x, running_mean, running_var, training=True)` "
    "changes those buffers in eval mode too, while one that passes `training=self.training` "
    "leaves them unchanged in eval mode.",
)
@deterministic
def _audit_eval_buffers(obs: Observer) -> None:
    x = torch.randn(8, 3, device=obs.device) + 2.0
    for passes_training in (False, True):
        module = _Normalises(passes_training).to(obs.device).eval()
        before = module.running_mean.clone()
        module(x)
        obs.expect(
            f"training={'self.training' if passes_training else 'True'}; eval(); forward: "
            "running_mean changed",
            not torch.equal(before, module.running_mean),
            not passes_training,
        )


@claim(
    "audit.inference-params",
    "Layers built inside `torch.inference_mode()` have inference tensors as parameters and "
    "buffers, and training them outside the mode fails: `SGD.step()` on a `Linear` built there "
    "and a training-mode forward of a `BatchNorm1d` built there raise `RuntimeError` (`Inplace "
    "update to inference tensor outside InferenceMode is not allowed`).",
)
@deterministic
def _audit_inference_params(obs: Observer) -> None:
    with torch.inference_mode():
        linear = nn.Linear(4, 4).to(obs.device)
        bn = nn.BatchNorm1d(4).to(obs.device)
    obs.expect(
        "{torch.is_inference(t) for t in (*linear.parameters(), *bn.parameters(), *bn.buffers())}",
        {torch.is_inference(t) for t in (*linear.parameters(), *bn.parameters(), *bn.buffers())},
        {True},
    )
    x = torch.randn(8, 4, device=obs.device)
    optimizer = torch.optim.SGD(linear.parameters(), lr=0.1)
    linear(x).sum().backward()
    with obs.expect_raises(
        "linear(x).sum().backward(); optimizer.step()",
        RuntimeError,
        "Inplace update to inference tensor outside InferenceMode is not allowed",
    ):
        optimizer.step()
    with obs.expect_raises(
        "bn.train()(x)",
        RuntimeError,
        "Inplace update to inference tensor outside InferenceMode is not allowed",
    ):
        bn.train()(x)


@claim(
    "audit.param-grad-fn",
    "Outside `torch.no_grad()`, `ema_param.lerp_(param, 0.1)` on a frozen parameter, with a "
    "`param` that requires grad, gives `ema_param` a `grad_fn`, so it is no longer a leaf and "
    "each such update adds a node to its graph; under `torch.no_grad()` it stays a frozen leaf.",
)
@deterministic
def _audit_param_grad_fn(obs: Observer) -> None:
    layer = nn.Linear(4, 1).to(obs.device)
    ema = nn.Linear(4, 1).to(obs.device).requires_grad_(False)
    ema.weight.lerp_(layer.weight, 0.1)
    first = ema.weight.grad_fn
    obs.expect(
        "ema.weight.lerp_(layer.weight, 0.1): (grad_fn is None, is_leaf, requires_grad)",
        (first is None, ema.weight.is_leaf, ema.weight.requires_grad),
        (False, False, True),
    )
    ema.weight.lerp_(layer.weight, 0.1)
    obs.expect(
        "again: the new grad_fn's inputs include the previous one",
        any(fn is first for fn, _ in ema.weight.grad_fn.next_functions),
        True,
    )
    frozen = nn.Linear(4, 1).to(obs.device).requires_grad_(False)
    with torch.no_grad():
        frozen.weight.lerp_(layer.weight, 0.1)
    obs.expect(
        "with torch.no_grad(): lerp_: (grad_fn is None, is_leaf, requires_grad)",
        (frozen.weight.grad_fn is None, frozen.weight.is_leaf, frozen.weight.requires_grad),
        (True, True, False),
    )
