"""Claims about ``requires_grad = False``, i.e. freezing (claims.md section B)."""

from __future__ import annotations

import inspect
import itertools
import warnings

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from gradmodes._rng import seeded
from gradmodes.claims import _optimizers as optim
from gradmodes.claims._common import deterministic, mlp_saved_bytes
from gradmodes.claims._registry import Observer, claim
from gradmodes.freeze import freeze, unfreeze
from gradmodes.matrix import behaviour_matrix
from gradmodes.models import SimpleModel, mlp
from gradmodes.probes import observe

__all__: list[str] = []


@claim(
    "rg.leaf-only",
    "On a non-leaf tensor `y` (one with a `grad_fn`), assigning `y.requires_grad` (to `False`, "
    "or even to `True`) or calling `y.requires_grad_(False)` raises `RuntimeError` (`you can "
    "only change requires_grad flags of leaf variables`), whereas `y.requires_grad_(True)` "
    "silently returns `y` unchanged, still a non-leaf with the same `grad_fn`; on a float32 "
    "leaf tensor made outside `torch.inference_mode()` (here `torch.randn(3)`) the flag can be "
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
    grad_fn = y.grad_fn
    try:
        returned: object = y.requires_grad_(True) is y
    except RuntimeError as exc:
        returned = f"RuntimeError: {exc}"
    obs.expect("y.requires_grad_(True) is y", returned, True)
    obs.expect(
        "(y.is_leaf, y.requires_grad, y.grad_fn is grad_fn)",
        (y.is_leaf, y.requires_grad, y.grad_fn is grad_fn),
        (False, True, True),
    )
    w.requires_grad = False
    obs.expect("w.requires_grad = False; w.requires_grad", w.requires_grad, False)
    w.requires_grad_(True)
    obs.expect("w.requires_grad_(True); w.requires_grad", w.requires_grad, True)


def _dtypes() -> list[torch.dtype]:
    """Every dtype that ``torch`` defines, once each, by name."""
    return sorted({v for v in vars(torch).values() if isinstance(v, torch.dtype)}, key=str)


@claim(
    "rg.float-only",
    "Only tensors of a floating-point or complex dtype can require grad: of every dtype that "
    "`torch` defines, `torch.empty(2, dtype=dtype).requires_grad_()` succeeds exactly for "
    "those with `dtype.is_floating_point or dtype.is_complex` and raises `RuntimeError` (`only "
    "Tensors of floating point dtype can require gradients`) for all the others, every integer "
    "dtype and `torch.bool` among them.",
)
@deterministic
def _rg_float_only(obs: Observer) -> None:
    accepted, refused = [], []
    for dtype in _dtypes():
        with warnings.catch_warnings():  # complex32 is experimental, quantized deprecated
            warnings.simplefilter("ignore")
            t = torch.empty(2, dtype=dtype, device=obs.device)
        try:
            t.requires_grad_()
        except RuntimeError as exc:
            message = "only Tensors of floating point dtype can require gradients"
            if message not in str(exc):
                obs.expect(f"torch.empty(2, dtype={dtype}).requires_grad_()", str(exc), message)
            refused.append(dtype)
        else:
            obs.expect(f"torch.empty(2, dtype={dtype}).requires_grad", t.requires_grad, True)
            accepted.append(dtype)
    obs.record("len(dtypes)", len(accepted) + len(refused))
    obs.expect(
        "dtypes whose tensors accept requires_grad_()",
        [str(d) for d in accepted],
        [str(d) for d in _dtypes() if d.is_floating_point or d.is_complex],
    )
    integers = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool]
    obs.expect(
        "all(d in refused for d in (uint8, int8, int16, int32, int64, bool))",
        all(d in refused for d in integers),
        True,
    )


@claim(
    "rg.no-grad-leaf",
    "A new tensor computed under `torch.no_grad()` from a tensor `w` that requires grad, such "
    "as `z = w * 2`, is a leaf that does not require grad, and its flag can be set: after "
    "`z.requires_grad_(True)`, `backward()` gives `z` a `.grad` and leaves `w.grad` `None`; "
    "but a view of `w` taken there (`w[:2]`, `w.view(3)`) still requires grad, even after "
    "`requires_grad = False` is assigned to it, which is silently ignored, and `w.float()`, "
    "`w.contiguous()` and `w.to(w.dtype)` return `w` itself.",
)
@deterministic
def _rg_no_grad_leaf(obs: Observer) -> None:
    w = torch.randn(3, device=obs.device, requires_grad=True)
    with torch.no_grad():
        z = w * 2
        views = {"w[:2]": w[:2], "w.view(3)": w.view(3)}
        same = {
            "w.float()": w.float(),
            "w.contiguous()": w.contiguous(),
            "w.to(w.dtype)": w.to(w.dtype),
        }
    obs.expect(
        "with torch.no_grad(): z = w * 2; (z.is_leaf, z.requires_grad, z.grad_fn)",
        (z.is_leaf, z.requires_grad, z.grad_fn),
        (True, False, None),
    )
    z.requires_grad_(True)
    (z * 3).sum().backward()
    obs.expect(
        "z.requires_grad_(True); (z * 3).sum().backward(); z.grad.tolist()",
        None if z.grad is None else z.grad.tolist(),
        [3.0, 3.0, 3.0],
    )
    obs.expect("w.grad is None", w.grad is None, True)
    obs.expect(
        "with torch.no_grad(): {code: v.requires_grad for views of w}",
        {code: v.requires_grad for code, v in views.items()},
        {code: True for code in views},
    )
    for view in views.values():
        view.requires_grad = False
    obs.expect(
        "for each view: v.requires_grad = False; {code: v.requires_grad}",
        {code: v.requires_grad for code, v in views.items()},
        {code: True for code in views},
    )
    obs.expect(
        "with torch.no_grad(): {code: result is w}",
        {code: result is w for code, result in same.items()},
        {code: True for code in same},
    )


@claim(
    "rg.recorded-if-any",
    "With grad mode on, a frozen `Linear` fed by a trainable layer's output records its "
    "operation (its output has a `grad_fn`) because one of its inputs requires grad, while "
    "the same frozen `Linear` records nothing when fed a tensor that does not require grad or "
    "when run under `torch.no_grad()`; and comparisons (`w > 0`, `w == w`), `w.argmax()`, "
    "`w.argsort()`, `w.nonzero()`, `w.long()` and `w.bool()`, whose results are integer or "
    "bool tensors, are not recorded even though `w` requires grad.",
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
    with torch.no_grad():
        y = frozen(trainable(x))
    obs.expect(
        "with torch.no_grad(): frozen(trainable(x)).grad_fn is None", y.grad_fn is None, True
    )
    w = torch.randn(5, device=obs.device, requires_grad=True)
    results = {
        "w > 0": w > 0,
        "w == w": w == w,
        "w.argmax()": w.argmax(),
        "w.argsort()": w.argsort(),
        "w.nonzero()": w.nonzero(),
        "w.long()": w.long(),
        "w.bool()": w.bool(),
    }
    obs.expect(
        "{code: (r.dtype.is_floating_point, r.requires_grad, r.grad_fn) for code, r in ...}",
        {
            code: (r.dtype.is_floating_point, r.requires_grad, r.grad_fn)
            for code, r in results.items()
        },
        {code: (False, False, None) for code in results},
    )
    obs.expect("(w * 2).grad_fn is not None", (w * 2).grad_fn is not None, True)


@claim(
    "rg.no-grad-field",
    "`backward()` does not write the `.grad` of a parameter with `requires_grad=False`: one "
    "frozen before it ever had a gradient keeps `.grad` as `None`, and one frozen after a "
    "`backward()` keeps the `.grad` it had, unchanged, while the trainable parameters get a "
    "gradient.",
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
    model.linear.requires_grad_(False)  # frozen after it got a .grad
    model.bn.requires_grad_(True)
    kept = model.linear.weight.grad
    copy = None if kept is None else kept.clone()
    model(x).sum().backward()
    obs.expect(
        "model.linear.requires_grad_(False); model(x).sum().backward(); "
        "model.linear.weight.grad is the .grad it had, unchanged",
        model.linear.weight.grad is kept and copy is not None and torch.equal(kept, copy),
        True,
    )
    obs.expect("model.bn.weight.grad is not None", model.bn.weight.grad is not None, True)


@claim(
    "rg.memory",
    "With an input that does not require grad, `Linear(64, 64)`-`ReLU`-`Linear(64, 64)` on a "
    "float32 batch of 32 saves tensors for backward that reference 40960 bytes when all "
    "parameters are trainable, 32768 bytes when only the first `Linear` is trainable, 8192 "
    "bytes when only the last one is and 0 bytes when all are frozen, but in the first three "
    "cases they keep the same 8192 bytes of distinct storage alive beyond the parameters and "
    "the input, the `ReLU` output's (saved by `ReLU`, by the last `Linear` or by both), and 0 "
    "bytes when all are frozen.",
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
    kept = {"all": 8192, "first": 8192, "last": 8192, "none": 0}
    for case, frozen in (("all", ()), ("first", (2,)), ("last", (0,)), ("none", (0, 2))):
        net.requires_grad_(True)
        for index in frozen:
            net[index].requires_grad_(False)
        seen = observe(net, x)
        where = f"frozen: {[f'net[{i}]' for i in frozen]}"
        obs.expect(
            f"{where}; (observe(net, x).saved_bytes, observe(net, x).saved_storage_bytes)",
            (seen.saved_bytes, seen.saved_storage_bytes),
            (expected[case], kept[case]),
        )
        storages, relu_output = _kept_storages(net, x)
        obs.expect(
            f"{where}; storages kept beyond parameters and input == {{ReLU output's}}",
            storages == ({relu_output} if kept[case] else set()),
            True,
        )


def _kept_storages(net: nn.Sequential, x: torch.Tensor) -> tuple[set[int], int]:
    """The storages (by address) that ``net(x)`` saves for backward beyond the parameters
    and ``x``, and the address of ``net[1]``'s (the ``ReLU``'s) output."""
    ignored = {t.untyped_storage().data_ptr() for t in (x, *net.parameters())}
    kept: set[int] = set()
    outputs: list[int] = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        if (address := tensor.untyped_storage().data_ptr()) not in ignored:
            kept.add(address)
        return tensor

    hook = net[1].register_forward_hook(
        lambda module, args, out: outputs.append(out.untyped_storage().data_ptr())
    )
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            out = net(x)
    finally:
        hook.remove()
    del out
    return kept, outputs[0]


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


_LAYERS = {
    "nn.Linear(2, 2)": lambda: nn.Linear(2, 2),
    "nn.Conv2d(1, 1, 3)": lambda: nn.Conv2d(1, 1, 3),
    "nn.BatchNorm1d(2)": lambda: nn.BatchNorm1d(2),
    "nn.LayerNorm(2)": lambda: nn.LayerNorm(2),
    "nn.Embedding(3, 2)": lambda: nn.Embedding(3, 2),
    "nn.LSTM(2, 2)": lambda: nn.LSTM(2, 2),
}


@claim(
    "rg.default",
    "`torch.randn(...)`, `torch.zeros(...)` and `torch.tensor(...)` create tensors with "
    "`requires_grad=False`, and an `nn.Parameter(...)`, like every parameter of a newly built "
    "`nn.Linear`, `nn.Conv2d`, `nn.BatchNorm1d`, `nn.LayerNorm`, `nn.Embedding` or `nn.LSTM`, "
    "has `requires_grad=True`, but `from_pretrained(...)`, which of the modules in `torch.nn` "
    "only `nn.Embedding` and `nn.EmbeddingBag` have, returns a frozen weight unless given "
    "`freeze=False`.",
)
@deterministic
def _rg_default(obs: Observer) -> None:
    obs.expect(
        "torch.randn(2).requires_grad", torch.randn(2, device=obs.device).requires_grad, False
    )
    obs.expect(
        "torch.zeros(2).requires_grad", torch.zeros(2, device=obs.device).requires_grad, False
    )
    obs.expect("torch.tensor([1.0]).requires_grad", torch.tensor([1.0]).requires_grad, False)
    obs.expect(
        "nn.Parameter(torch.zeros(2)).requires_grad",
        nn.Parameter(torch.zeros(2)).requires_grad,
        True,
    )
    obs.expect(
        "{code: {p.requires_grad for p in layer.parameters()}}",
        {code: {p.requires_grad for p in make().parameters()} for code, make in _LAYERS.items()},
        {code: {True} for code in _LAYERS},
    )
    pretrained = [
        value.__name__
        for value in vars(nn).values()
        if inspect.isclass(value)
        and issubclass(value, nn.Module)
        and hasattr(value, "from_pretrained")
    ]
    obs.expect(
        "modules of torch.nn with from_pretrained",
        sorted(pretrained),
        ["Embedding", "EmbeddingBag"],
    )
    weights = torch.randn(3, 2, device=obs.device)
    for name in ("Embedding", "EmbeddingBag"):
        cls = getattr(nn, name)
        obs.expect(
            f"(nn.{name}.from_pretrained(w).weight.requires_grad, "
            f"nn.{name}.from_pretrained(w, freeze=False).weight.requires_grad)",
            (
                cls.from_pretrained(weights).weight.requires_grad,
                cls.from_pretrained(weights, freeze=False).weight.requires_grad,
            ),
            (False, True),
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
    "grad) and every module's `training` flag as it was, and returns the module itself.",
)
@deterministic
def _rg_requires_grad_(obs: Observer) -> None:
    model = SimpleModel().to(obs.device)
    model.register_buffer("extra", torch.zeros(2, device=obs.device, requires_grad=True))
    model.bn.eval()  # mixed flags: the model trains, its BatchNorm does not
    flags = [m.training for m in model.modules()]
    obs.expect("model.requires_grad_(False) is model", model.requires_grad_(False) is model, True)
    obs.expect(
        "[m.training for m in model.modules()] unchanged",
        [m.training for m in model.modules()],
        flags,
    )
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
    "Freezing the parameters of a `BatchNorm1d`, `BatchNorm2d` or `BatchNorm3d` does not freeze "
    "its running statistics: in train mode a forward still updates them; `bn.eval()` stops the "
    "updates, but the next `model.train()` puts `bn` back in train mode because it recurses "
    "into every submodule.",
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
    for cls, shape in ((nn.BatchNorm2d, (4, 3, 2, 2)), (nn.BatchNorm3d, (4, 3, 2, 2, 2))):
        bn = cls(3).to(obs.device).train().requires_grad_(False)
        obs.expect(
            f"{cls.__name__}(3).requires_grad_(False); observe(bn.train(), x).bn_stats_updated",
            observe(bn, torch.randn(shape, device=obs.device)).bn_stats_updated,
            True,
        )


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
    "`RuntimeError` (`element 0 of tensors does not require grad and does not have a "
    "grad_fn`); setting `loss.requires_grad = True` first makes `backward()` run, but every "
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
    "rg.reversible",
    "`requires_grad = False` is a flag, not a permanent change: after setting it back to "
    "`True` the parameter gets a `.grad` from `backward()` again and an `SGD` optimizer built "
    "over it updates it.",
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
    "batch of 32 that does not require grad, the distinct storage that the tensors saved for "
    "backward keep alive beyond the parameters and the input is 24576, 24576, 16384, 8192 and "
    "0 bytes with the first k = 0, 1, 2, 3 and 4 layers frozen, and stays 24576 bytes with "
    "the last k = 1, 2 or 3 layers frozen, while the bytes those saved tensors reference are "
    "106496, 73728, 40960, 8192 and 0 with the first k frozen, and 98304, 90112 and 81920 with "
    "the last k = 1, 2, 3 frozen.",
)
@deterministic
def _rg_memory_depth(obs: Observer) -> None:
    x = torch.randn(32, 64, device=obs.device)
    net = _linear_stack().to(obs.device)
    linears = [module for module in net if isinstance(module, nn.Linear)]

    def saved_with(frozen: list[nn.Module]) -> tuple[int, int]:
        net.requires_grad_(True)
        for layer in frozen:
            layer.requires_grad_(False)
        seen = observe(net, x)
        return seen.saved_storage_bytes, seen.saved_bytes

    first = [saved_with(linears[:k]) for k in range(5)]
    last = [saved_with(linears[4 - k :]) for k in range(1, 4)]
    obs.expect(
        "first k frozen, k = 0..4: saved_storage_bytes",
        [kept for kept, _ in first],
        [24576, 24576, 16384, 8192, 0],
    )
    obs.expect(
        "last k frozen, k = 1..3: saved_storage_bytes",
        [kept for kept, _ in last],
        [24576, 24576, 24576],
    )
    obs.expect(
        "first k frozen, k = 0..4: saved_bytes",
        [referenced for _, referenced in first],
        [106496, 73728, 40960, 8192, 0],
    )
    obs.expect(
        "last k frozen, k = 1..3: saved_bytes",
        [referenced for _, referenced in last],
        [98304, 90112, 81920],
    )


@claim(
    "rg.matrix-bytes",
    "For `SimpleModel` on a batch of 16 with gradients enabled and trainable parameters, the "
    "tensors saved for backward reference 1520 bytes and keep 1360 bytes of distinct storage "
    "alive beyond the parameters, buffers and input in train mode, and 1440 and 640 bytes in "
    "eval mode, because in eval mode `Dropout` returns its input itself (so `BatchNorm1d` saves "
    "the input instead of a new 640-byte tensor) and `BatchNorm1d` saves no batch mean and "
    "inverse standard deviation (80 bytes).",
)
@deterministic
def _rg_matrix_bytes(obs: Observer) -> None:
    with seeded(0):  # the batch behaviour_matrix() draws for SimpleModel by default
        batch = torch.randn(16, 10)
    measured = behaviour_matrix(lambda: SimpleModel().to(obs.device), batch.to(obs.device))
    rows = {row.training: row for row in measured if row.grad_mode == "grad" and row.requires_grad}
    obs.expect(
        "behaviour_matrix(), train row (saved_bytes, saved_storage_bytes)",
        (rows[True].saved_bytes, rows[True].saved_storage_bytes),
        (1520, 1360),
    )
    obs.expect(
        "behaviour_matrix(), eval row (saved_bytes, saved_storage_bytes)",
        (rows[False].saved_bytes, rows[False].saved_storage_bytes),
        (1440, 640),
    )
    model = SimpleModel().to(obs.device)
    x = torch.randn(16, 10, device=obs.device)
    obs.expect("model.eval(); model.dropout(x) is x", model.eval().dropout(x) is x, True)
    obs.expect("model.train(); model.dropout(x) is x", model.train().dropout(x) is x, False)
    obs.expect("16 * 10 * 4", 16 * 10 * 4, 640)


def _param_bytes(params: object) -> int:
    return sum(p.numel() * p.element_size() for p in params)  # type: ignore[attr-defined]


@claim(
    "rg.saves-grad",
    "A `Linear` frozen before any `backward()` gets no `.grad` tensor, even where gradients "
    "flow through it: in a float32 `Sequential` of three `Linear(64, 64)` with any one of "
    "them frozen before the forward, or the middle one frozen between the forward and "
    "`backward()`, after `backward()` each trainable layer holds 16640 bytes of `.grad`, as "
    "many as its parameters (64 × 64 + 64 floats), and the frozen one holds none.",
)
@deterministic
def _rg_saves_grad(obs: Observer) -> None:
    x = torch.randn(32, 64, device=obs.device)
    for frozen in range(3):  # net[0]'s gradient flows through a frozen net[1] or net[2]
        net = nn.Sequential(*(nn.Linear(64, 64) for _ in range(3))).to(obs.device)
        net[frozen].requires_grad_(False)
        net(x).sum().backward()
        where = f"net[{frozen}].requires_grad_(False)"
        obs.expect(
            f"{where}: bytes of each layer's .grad",
            [_param_bytes(p.grad for p in m.parameters() if p.grad is not None) for m in net],
            [0 if i == frozen else 16640 for i in range(3)],
        )
        obs.expect(
            f"{where}: [p.grad for p in net[{frozen}].parameters()]",
            [p.grad for p in net[frozen].parameters()],
            [None, None],
        )
    obs.expect("bytes of a Linear(64, 64)'s parameters", _param_bytes(net[0].parameters()), 16640)
    net = nn.Sequential(*(nn.Linear(64, 64) for _ in range(3))).to(obs.device)
    loss = net(x).sum()
    net[1].requires_grad_(False)  # after the forward recorded it as trainable
    loss.backward()
    where = "loss = net(x).sum(); net[1].requires_grad_(False); loss.backward()"
    obs.expect(
        f"{where}: bytes of each layer's .grad",
        [_param_bytes(p.grad for p in m.parameters() if p.grad is not None) for m in net],
        [16640, 0, 16640],
    )


_CLASS_NAMES = [
    "ASGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGS",
    "Muon",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGD",
    "SparseAdam",
]
"""The optimizer classes of ``torch.optim`` the claims enumerate: a new one fails them."""

_OPTIMIZERS_SINCE = ">=2.9"
"""The releases with all of them: ``Muon``, the newest, came with torch 2.9."""


_TAKES = {
    "momentum": {"Muon", "RMSprop", "SGD"},
    "weight_decay": set(_CLASS_NAMES) - {"LBFGS", "Rprop", "SparseAdam"},
}
"""The classes whose signature takes each setting: ``optim.settings`` reads the signature, so
a class that hid its arguments (``**kwargs``) would silently leave the claims' universe."""


def _expect_classes(obs: Observer) -> list[type[torch.optim.Optimizer]]:
    classes = optim.optimizer_classes()
    obs.expect(
        "[c.__name__ for c in torch.optim optimizer classes]",
        [cls.__name__ for cls in classes],
        _CLASS_NAMES,
    )
    obs.expect(
        "{setting: classes whose optim.settings() use it}",
        {
            key: {cls.__name__ for cls in classes if any(key in s for s in optim.settings(cls))}
            for key in _TAKES
        },
        _TAKES,
    )
    return classes


@claim(
    "rg.optimizer-skips",
    "Every optimizer class in `torch.optim` (`ASGD`, `Adadelta`, `Adafactor`, `Adagrad`, "
    "`Adam`, `AdamW`, `Adamax`, `LBFGS`, `Muon`, `NAdam`, `RAdam`, `RMSprop`, `Rprop`, `SGD` "
    "and `SparseAdam`), with its default settings and with `momentum=0.9` or "
    "`weight_decay=0.1` where it takes them, leaves a parameter frozen before training, whose "
    "`.grad` stays `None`, unchanged by two `step()` calls, while it changes the trainable "
    "parameter it was given with it.",
    torch_versions=_OPTIMIZERS_SINCE,
)
@deterministic
def _rg_optimizer_skips(obs: Observer) -> None:
    for cls in _expect_classes(obs):
        for setting in optim.settings(cls):
            outcome = optim.run(cls, setting, "frozen-before", obs.device)
            obs.expect(
                f"{optim.label(cls, setting)}, frozen before training: "
                "(frozen changed, trainable changed, frozen .grad)",
                tuple(outcome),
                (False, True, "None"),
            )


_MOVED_BY_DEFAULT = {"ASGD", "Adam", "AdamW", "Adamax", "Muon", "NAdam", "RAdam"}


@claim(
    "rg.momentum-drift",
    "A parameter frozen after one training step, with its optimizer still running, keeps a "
    "zero `.grad` when the loop clears gradients with `zero_grad(set_to_none=False)`, and the "
    "next two `step()` calls still change it with `ASGD`, `Adam`, `AdamW`, `Adamax`, `Muon`, "
    "`NAdam` and `RAdam` at their default settings, with every class that takes `momentum` "
    "given `momentum=0.9`, with every class that takes `weight_decay` given "
    "`weight_decay=0.1`, and with `AdamW` and `Muon` given `weight_decay=0`, while `Adadelta`, "
    "`Adafactor`, `Adagrad`, `RMSprop`, `Rprop`, `SGD` and `SparseAdam` at their defaults leave "
    "it unchanged; after the default `zero_grad()` its `.grad` is `None` and every class but "
    "`LBFGS` leaves it unchanged; `LBFGS`, whose search direction is one flat vector over every "
    "parameter it was given, changed it in both cases on this check's data.",
    torch_versions=_OPTIMIZERS_SINCE,
)
@deterministic
def _rg_momentum_drift(obs: Observer) -> None:
    for cls in _expect_classes(obs):
        name = cls.__name__
        for setting in optim.settings(cls):
            code = optim.label(cls, setting)
            lbfgs = name == "LBFGS"
            moves = bool(setting) or name in _MOVED_BY_DEFAULT or lbfgs
            zero = optim.run(cls, setting, "zero-grad", obs.device)
            obs.expect(
                f"{code}, zero_grad(set_to_none=False): "
                "(frozen changed, trainable changed, frozen .grad)",
                tuple(zero),
                (moves, True, "zero"),
            )
            cleared = optim.run(cls, setting, "none-grad", obs.device)
            obs.expect(
                f"{code}, zero_grad(): (frozen changed, trainable changed, frozen .grad)",
                tuple(cleared),
                (lbfgs, True, "None"),
            )
    pair = optim.Pair(torch.optim.LBFGS, device=obs.device)
    optimizer = torch.optim.LBFGS([pair.frozen, pair.trainable])
    optim.step(optimizer, pair)
    obs.expect(
        "LBFGS([frozen, trainable]) with two 4 x 4 parameters: d.numel()",
        _flat_lengths(optimizer)[0],
        32,
    )


@claim(
    "rg.stale-grad",
    "A parameter frozen between `backward()` and `step()` keeps the gradient it has just got, "
    "and every optimizer class in `torch.optim`, with its default settings and with "
    "`momentum=0.9` or `weight_decay=0.1` where it takes them, changes it on that `step()`.",
    torch_versions=_OPTIMIZERS_SINCE,
)
@deterministic
def _rg_stale_grad(obs: Observer) -> None:
    for cls in _expect_classes(obs):
        for setting in optim.settings(cls):
            outcome = optim.run(cls, setting, "leftover", obs.device)
            obs.expect(
                f"{optim.label(cls, setting)}, frozen after backward(): "
                "(frozen changed, trainable changed, frozen .grad)",
                tuple(outcome),
                (True, True, "non-zero"),
            )


@claim(
    "rg.not-given",
    "Every optimizer class in `torch.optim`, with its default settings and with "
    "`momentum=0.9` or `weight_decay=0.1` where it takes them, leaves unchanged a parameter "
    "it was not given, even one that has a `.grad`, and once that parameter is added with "
    "`optimizer.add_param_group(...)` the next `SGD` step changes it.",
    torch_versions=_OPTIMIZERS_SINCE,
)
@deterministic
def _rg_not_given(obs: Observer) -> None:
    for cls in _expect_classes(obs):
        for setting in optim.settings(cls):
            outcome = optim.run(cls, setting, "not-given", obs.device)
            obs.expect(
                f"{optim.label(cls, setting)}, not given the parameter: "
                "(its change, trainable changed, its .grad)",
                tuple(outcome),
                (False, True, "non-zero"),
            )
    pair = optim.Pair(torch.optim.SGD, device=obs.device)
    optimizer = torch.optim.SGD([pair.trainable], lr=0.1)
    optimizer.add_param_group({"params": [pair.frozen]})
    before = pair.frozen.detach().clone()
    optim.step(optimizer, pair)
    obs.expect(
        "optimizer.add_param_group({'params': [p]}); step(); p changed",
        not torch.equal(before, pair.frozen.detach()),
        True,
    )


_STATE_BYTES = {
    "ASGD()": 16396,
    "Adadelta()": 32772,
    "Adafactor()": 516,
    "Adagrad()": 16388,
    "Adam()": 32772,
    "AdamW()": 32772,
    "Adamax()": 32772,
    "Muon()": 16384,
    "NAdam()": 32776,
    "RAdam()": 32772,
    "RMSprop()": 16388,
    "Rprop()": 32772,
    "SGD()": 0,
    "SGD(momentum=0.9)": 16384,
    "SparseAdam()": 32768,
}


def _flat_lengths(optimizer: torch.optim.Optimizer) -> tuple[int, int]:
    """Elements of LBFGS's flat vectors ``d`` and ``prev_flat_grad`` (one state for all)."""
    (state,) = optimizer.state.values()
    return state["d"].numel(), state["prev_flat_grad"].numel()


@claim(
    "rg.optimizer-state",
    "After one `step()`, the state that each optimizer class in `torch.optim` keeps for a "
    "trainable float32 parameter of 64 × 64 (16384 bytes) takes, with default settings, 0 "
    "bytes for `SGD` (16384 with `momentum=0.9`), 16384 for `Muon`, 16388 for `Adagrad` and "
    "`RMSprop`, 16396 for `ASGD`, 32768 for `SparseAdam`, 32772 for `Adadelta`, `Adam`, "
    "`AdamW`, `Adamax`, `RAdam` and `Rprop`, 32776 for `NAdam` and 516 for `Adafactor` (which "
    "keeps row and column statistics), while `LBFGS` keeps one state for all its parameters, "
    "with flat vectors of as many elements as all of them together.",
    torch_versions=_OPTIMIZERS_SINCE,
)
@deterministic
def _rg_optimizer_state(obs: Observer) -> None:
    seen: dict[str, int] = {}
    for cls in _expect_classes(obs):
        for setting in [{}, {"momentum": 0.9}] if cls is torch.optim.SGD else [{}]:
            pair = optim.Pair(cls, (64, 64), obs.device)
            pair.frozen.requires_grad_(False)
            optimizer = cls([pair.trainable], **setting)
            optim.step(optimizer, pair)
            if cls is torch.optim.LBFGS:
                obs.expect(
                    "LBFGS([p]) with p of 64 x 64: (d.numel(), prev_flat_grad.numel())",
                    _flat_lengths(optimizer),
                    (4096, 4096),
                )
            else:
                seen[optim.label(cls, setting)] = optim.state_bytes(optimizer, pair.trainable)
    obs.expect("bytes of optimizer.state[p] after one step()", seen, _STATE_BYTES)


@claim(
    "rg.frozen-no-state",
    "A frozen parameter whose `.grad` stays `None` gets no optimizer state, even when it is "
    "given to the optimizer, from every optimizer class in `torch.optim`, with its default "
    "settings and with `momentum=0.9` or `weight_decay=0.1` where it takes them, except "
    "`Adagrad`, which allocates its state (16388 bytes for a float32 64 × 64 parameter) for "
    "every parameter it is given when it is built, and `LBFGS`, whose flat vectors then cover "
    "it too; built over the trainable parameters only, no class keeps state for it.",
    torch_versions=_OPTIMIZERS_SINCE,
)
@deterministic
def _rg_frozen_no_state(obs: Observer) -> None:
    for cls in _expect_classes(obs):
        for setting, given in itertools.product(optim.settings(cls), ("both", "trainable")):
            code = f"{optim.label(cls, setting)} over {given}"
            pair = optim.Pair(cls, (64, 64), obs.device)
            pair.frozen.requires_grad_(False)
            params = [pair.frozen, pair.trainable] if given == "both" else [pair.trainable]
            optimizer = cls(params, **setting)
            if cls is torch.optim.Adagrad:
                obs.expect(
                    f"{code}, just built: len(optimizer.state)", len(optimizer.state), len(params)
                )
            optim.step(optimizer, pair)
            if cls is torch.optim.LBFGS:
                obs.expect(
                    f"{code}: (d.numel(), prev_flat_grad.numel())",
                    _flat_lengths(optimizer),
                    (4096 * len(params),) * 2,
                )
                continue
            expected = 16388 if cls is torch.optim.Adagrad and given == "both" else 0
            obs.expect(
                f"{code}: bytes of optimizer.state[frozen]",
                optim.state_bytes(optimizer, pair.frozen),
                expected,
            )


def _accumulate_grad_nodes(output: torch.Tensor) -> int:
    """How many ``AccumulateGrad`` nodes (one per leaf that gets a ``.grad``) the graph has."""
    seen: set[object] = set()
    stack = [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return sum(type(node).__name__ == "AccumulateGrad" for node in seen)


@claim(
    "rg.weight-grad-compute",
    "Freezing a `Linear` layer removes its weight-gradient computation from `backward()`: for "
    "three `Linear(64, 64)` layers with a `ReLU` between each two, on a float32 batch of 32 that "
    "does not require grad, `torch.utils.flop_counter.FlopCounterMode` counts 1310720 FLOPs "
    "of matrix products in `backward()` with every layer trainable, 1048576 with the last "
    "layer frozen (262144 fewer, one 32 × 64 by 64 × 64 product: its weight gradient, while "
    "its input gradient is still computed) and 786432 with the first layer frozen, and the "
    "graph has one `AccumulateGrad` node per trainable parameter (6, 4 and 4).",
)
@deterministic
def _rg_weight_grad_compute(obs: Observer) -> None:
    x = torch.randn(32, 64, device=obs.device)
    for frozen, flops, nodes in (((), 1310720, 6), ((2,), 1048576, 4), ((0,), 786432, 4)):
        net = _linear_stack(depth=3).to(obs.device)
        linears = [module for module in net if isinstance(module, nn.Linear)]
        for index in frozen:
            linears[index].requires_grad_(False)
        loss = net(x).sum()
        counted = _accumulate_grad_nodes(loss)
        with FlopCounterMode(display=False) as counter:
            loss.backward()
        where = f"linears {list(frozen)} frozen"
        obs.expect(
            f"{where}: FlopCounterMode total FLOPs of backward()", counter.get_total_flops(), flops
        )
        obs.expect(f"{where}: AccumulateGrad nodes in the graph", counted, nodes)
        obs.record(
            f"{where}: FLOPs by operation",
            {str(op): n for op, n in counter.get_flop_counts()["Global"].items()},
        )
