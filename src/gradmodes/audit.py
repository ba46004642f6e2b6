"""Find the site's pitfalls in a live model and its optimizer: :func:`audit`.

Each :class:`Finding` names the objects involved, says what is wrong in one line, links to
the page of the site that explains it and names the claim that proves it.

>>> import torch
>>> from torch import nn
>>> model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
>>> _ = model[:2].requires_grad_(False)  # freeze the first two layers ...
>>> optimizer = torch.optim.SGD(model[2].parameters(), lr=0.1)
>>> for finding in audit(model, optimizer):  # ... but the BatchNorm is in training mode
...     print(finding.code, finding.objects, finding.link, finding.claim)
frozen-bn-train-mode ('1',) pitfalls.html#pitfall-frozen-bn audit.running-stats
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from gradmodes._checks import require_module
from gradmodes._rng import seeded
from gradmodes.modes import evaluating
from gradmodes.probes import DROPOUT_TYPES

__all__ = ["FINDINGS", "RUNNING_STATS_TYPES", "Finding", "Inputs", "Optimizers", "audit"]

RUNNING_STATS_TYPES: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.LazyBatchNorm1d,
    nn.LazyBatchNorm2d,
    nn.LazyBatchNorm3d,
    nn.LazyInstanceNorm1d,
    nn.LazyInstanceNorm2d,
    nn.LazyInstanceNorm3d,
)
"""The layers of ``torch.nn`` that can keep running statistics (with ``track_running_stats``)."""

ROOT = "(model)"
"""How a finding names the audited module itself (its submodules go by their names)."""

Inputs = torch.Tensor | tuple[object, ...] | list[object] | Mapping[str, object]
"""What :func:`audit` passes to the model: ``model(x)``, ``model(*args)`` or ``model(**kwargs)``."""


class Explanation(NamedTuple):
    """Where the site explains a finding, and the claim that proves it."""

    page: str
    anchor: str
    claim: str
    message: str  # one line; {objects} is filled in


FINDINGS: dict[str, Explanation] = {
    "frozen-bn-train-mode": Explanation(
        "pitfalls",
        "pitfall-frozen-bn",
        "audit.running-stats",
        "{objects}: parameters frozen, yet in training mode: training forwards still change "
        "the running statistics",
    ),
    "frozen-param-stepped": Explanation(
        "pitfalls",
        "pitfall-momentum-drift",
        "audit.stale-grad",
        "{objects}: frozen, yet changed by the next optimizer.step() (a leftover .grad, or "
        "L-BFGS history)",
    ),
    "param-not-in-optimizer": Explanation(
        "audit",
        "audit-not-in-optimizer",
        "audit.not-in-optimizer",
        "{objects}: requires grad, yet in no param group of the optimizer: never trained",
    ),
    "param-in-two-groups": Explanation(
        "audit",
        "audit-in-two-groups",
        "audit.two-groups",
        "{objects}: listed more than once in the optimizer's param groups: step() does not "
        "update it as it would a parameter listed once",
    ),
    "nothing-to-train": Explanation(
        "pitfalls",
        "pitfall-element-0",
        "audit.nothing-to-train",
        "every parameter the optimizer holds is frozen ({objects}): nothing would train",
    ),
    "model-in-eval-mode": Explanation(
        "pitfalls",
        "pitfall-forgot-train",
        "eval.forget-train",
        "the model is in eval mode while an optimizer trains it: {objects} would train "
        "with their evaluation behaviour",
    ),
    "train-mode-in-eval-model": Explanation(
        "audit",
        "audit-mixed-modes",
        "audit.mixed-modes",
        "{objects}: in training mode inside a model in eval mode",
    ),
    "eval-mode-in-train-model": Explanation(
        "audit",
        "audit-mixed-modes",
        "audit.mixed-modes",
        "{objects}: in eval mode inside a model in training mode, with trainable parameters "
        "around it",
    ),
    "random-in-eval-mode": Explanation(
        "pitfalls",
        "pitfall-functional-dropout",
        "audit.functional-dropout",
        "{objects}: different outputs for the same input in eval mode (a dropout call "
        "without training=self.training?)",
    ),
    "buffer-changed-in-eval-mode": Explanation(
        "audit",
        "audit-eval-buffers",
        "audit.eval-buffers",
        "{objects}: buffer changed by a forward in eval mode (a call that ignores self.training?)",
    ),
    "inference-tensor": Explanation(
        "pitfalls",
        "pitfall-inference-inplace",
        "audit.inference-params",
        "{objects}: inference tensor (made under torch.inference_mode()): training it fails",
    ),
    "param-has-grad-fn": Explanation(
        "recipes",
        "recipe-ema",
        "audit.param-grad-fn",
        "{objects}: parameter with a grad_fn (updated in place outside torch.no_grad()): "
        "its graph grows with every update",
    ),
}
"""Every finding :func:`~gradmodes.audit` reports, by code, in the order it reports them."""


@dataclass(frozen=True)
class Finding:
    """One pitfall found: a code from :data:`~gradmodes.audit.FINDINGS`, the objects by name,
    a one-line message.

    ``link`` is the page and anchor of the site that explains it, relative to a language
    folder of the site (``en/`` or ``ja/``); ``claim`` is the id of the claim that proves it.

    >>> finding = Finding.of("param-not-in-optimizer", ["head.weight", "head.bias"])
    >>> print(finding.message)
    head.weight, head.bias: requires grad, yet in no param group of the optimizer: never trained
    >>> finding.link, finding.claim
    ('audit.html#audit-not-in-optimizer', 'audit.not-in-optimizer')
    """

    code: str
    objects: tuple[str, ...]
    message: str
    link: str
    claim: str

    @classmethod
    def of(cls, code: str, objects: list[str], labels: list[str] | None = None) -> Finding:
        """The finding ``code`` about ``objects`` (shown in the message as ``labels``), with
        its message, link and claim."""
        explained = FINDINGS[code]
        labels = labels or objects
        shown = ", ".join(labels[:4]) + (f" and {len(labels) - 4} more" if len(labels) > 4 else "")
        return cls(
            code,
            tuple(objects),
            explained.message.format(objects=shown),
            f"{explained.page}.html#{explained.anchor}",
            explained.claim,
        )

    def as_dict(self) -> dict[str, object]:
        """The finding as JSON-ready data (``objects`` as a list)."""
        return {
            "code": self.code,
            "objects": list(self.objects),
            "message": self.message,
            "link": self.link,
            "claim": self.claim,
        }


Optimizers = torch.optim.Optimizer | Sequence[torch.optim.Optimizer]
"""The optimizer that trains the model, or several that train parts of it."""


def audit(
    model: nn.Module,
    optimizer: Optimizers | None = None,
    inputs: Inputs | None = None,
) -> list[Finding]:
    """Find the pitfalls of the site in ``model`` (and its ``optimizer``); none: ``[]``.

    The model is inspected as it is now, and left as it was. With ``inputs``, the model
    also runs two forwards in eval mode under ``torch.no_grad()`` (each submodule's mode,
    the buffers and the random number generator are restored afterwards) to find modules
    that are random, or change buffers, in eval mode. Give the optimizer that trains this
    model, or a list of the optimizers that train its parts; parameters they hold that are
    not the model's are ignored. A model whose every parameter is frozen and that no
    optimizer trains (an average of weights, a teacher) is not checked for frozen
    BatchNorm layers in training mode. See :data:`~gradmodes.audit.FINDINGS`.

    >>> import torch
    >>> from torch import nn
    >>> from gradmodes import freeze_batchnorm
    >>> model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    >>> optimizer = torch.optim.AdamW(model.parameters())
    >>> model.eval()[2].train()  # the Dropout is switched back to training mode
    Dropout(p=0.5, inplace=False)
    >>> [(f.code, f.objects) for f in audit(model, optimizer, torch.randn(8, 4))]
    [('model-in-eval-mode', ('1',)), ('train-mode-in-eval-model', ('2',))]
    >>> _ = freeze_batchnorm(model.train())
    >>> audit(model, torch.optim.AdamW(model[0].parameters()), torch.randn(8, 4))
    []
    """
    require_module(model, "audit")
    optimizers = _optimizers(optimizer)
    if inputs is not None and not isinstance(inputs, (torch.Tensor, tuple, list, Mapping)):
        raise TypeError(
            "audit() takes inputs as a Tensor, a tuple or list of positional arguments or a "
            f"dict of keyword arguments, got {type(inputs).__name__}: {inputs!r:.60}"
        )
    model_ = _Model(model)
    found: dict[str, list[str]] = {code: [] for code in FINDINGS}
    trained = bool(optimizers) or any(p.requires_grad for p in model_.params.values())
    for name, module in model_.modules.items():
        if trained and _moving_statistics(module) and model_.frozen_region(name):
            found["frozen-bn-train-mode"].append(name)
    if optimizers:
        found.update(_optimizer_findings(model_, optimizers))
    found.update(_modes(model_, bool(optimizers)))
    if inputs is not None:
        if any(nn.parameter.is_lazy(t) for t in [*model.parameters(), *model.buffers()]):
            raise ValueError(
                "audit(): the model has lazy modules that no forward has initialized yet, and "
                "the audit's forwards would initialize them; run one forward first, or give no "
                "inputs"
            )
        found["random-in-eval-mode"], found["buffer-changed-in-eval-mode"] = _forwards(
            model_, inputs
        )
    if optimizers or model.training:  # a model that may be trained
        found["inference-tensor"] = [
            name for name, tensor in model_.tensors() if torch.is_inference(tensor)
        ]
    found["param-has-grad-fn"] = [
        model_.names[pid] for pid, p in model_.params.items() if p.grad_fn is not None
    ]
    return [
        Finding.of(code, objects, [model_.label(name) for name in objects])
        for code, objects in found.items()
        if objects
    ]


def _optimizers(optimizer: object) -> list[torch.optim.Optimizer]:
    """``optimizer`` as a list: empty for ``None``; ``TypeError`` for anything else."""
    if optimizer is None:
        return []
    given = list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]
    wrong = [o for o in given if not isinstance(o, torch.optim.Optimizer)]
    if wrong or not given:
        shown = type(wrong[0]).__name__ if wrong else "an empty list"
        raise TypeError(
            "audit() needs a torch.optim.Optimizer, a list of them or None as optimizer, "
            f"got {shown}: {(wrong or [optimizer])[0]!r:.60}"
        )
    return given


def _optimizer_findings(
    model: _Model, optimizers: list[torch.optim.Optimizer]
) -> dict[str, list[str]]:
    """The findings about what the optimizers hold of the model's parameters."""
    held: dict[int, int] = {}
    stepped: set[int] = set()
    for optimizer in optimizers:
        mine = _held(optimizer, model)
        for pid, count in mine.items():
            held[pid] = held.get(pid, 0) + count
        frozen = [model.params[pid] for pid in mine if not model.params[pid].requires_grad]
        stepped.update(_stepped(optimizer, frozen))
    frozen_held = [pid for pid in held if not model.params[pid].requires_grad]
    return {
        "frozen-param-stepped": [model.names[pid] for pid in model.params if pid in stepped],
        "param-not-in-optimizer": [
            model.names[pid]
            for pid, p in model.params.items()
            if p.requires_grad and pid not in held
        ],
        "param-in-two-groups": [model.names[pid] for pid in model.params if held.get(pid, 0) > 1],
        "nothing-to-train": (
            [model.names[pid] for pid in frozen_held] if len(frozen_held) == len(held) else []
        ),
    }


class _Model:
    """A model's modules by name, and its parameters by identity (tied ones once)."""

    def __init__(self, model: nn.Module) -> None:
        self.root = model
        self.modules = {name or ROOT: module for name, module in model.named_modules()}
        self.params: dict[int, nn.Parameter] = {}
        self.names: dict[int, str] = {}
        for name, param in model.named_parameters():  # tied parameters: the first name
            self.params[id(param)] = param
            self.names[id(param)] = name

    def label(self, name: str) -> str:
        """A module's name with its class (``"1 (BatchNorm1d)"``); other names as they are."""
        module = self.modules.get(name)
        return f"{name} ({type(module).__name__})" if module is not None else name

    def frozen_region(self, name: str) -> bool:
        """Whether the nearest module at or above ``name`` that has parameters has only
        frozen ones (a module without parameters is judged by its surroundings)."""
        while True:
            params = list(self.modules[name].parameters())
            if params:
                return not any(p.requires_grad for p in params)
            if name == ROOT:
                return False
            name = name.rpartition(".")[0] or ROOT

    def tensors(self) -> Iterator[tuple[str, torch.Tensor]]:
        """Every parameter and buffer with its name, leaving out uninitialized lazy ones."""
        for name, tensor in [*self.root.named_parameters(), *self.root.named_buffers()]:
            if not nn.parameter.is_lazy(tensor):
                yield name, tensor


def _held(optimizer: torch.optim.Optimizer, model: _Model) -> dict[int, int]:
    """How many times the optimizer's param groups list each of the model's parameters."""
    counts: dict[int, int] = {}
    total = 0
    for group in optimizer.param_groups:
        for param in group["params"]:
            total += 1
            if id(param) in model.params:
                counts[id(param)] = counts.get(id(param), 0) + 1
    if not counts:
        raise ValueError(
            f"audit(): the optimizer ({type(optimizer).__name__}, {total} tensors in "
            f"{len(optimizer.param_groups)} param groups) holds none of the parameters of "
            f"the model ({type(model.root).__name__}, {len(model.params)} parameters); give "
            "the optimizer that trains this model"
        )
    return counts


def _moving_statistics(module: nn.Module) -> bool:
    """A running-statistics layer in training mode whose forwards update its statistics."""
    return (
        isinstance(module, RUNNING_STATS_TYPES)
        and module.training
        and bool(getattr(module, "track_running_stats", False))
        and getattr(module, "running_mean", None) is not None
        and getattr(module, "momentum", None) != 0
    )


def _mode_dependent(module: nn.Module) -> bool:
    """A layer of ``torch.nn`` that behaves differently in training and eval mode."""
    if isinstance(module, RUNNING_STATS_TYPES):
        return bool(getattr(module, "track_running_stats", False))
    if isinstance(module, nn.RNNBase):
        return module.dropout > 0
    return isinstance(module, (*DROPOUT_TYPES, nn.RReLU, nn.MultiheadAttention))


def _modes(model: _Model, with_optimizer: bool) -> dict[str, list[str]]:
    """Mode-dependent layers whose mode disagrees with the model's own."""
    layers = [(name, m) for name, m in model.modules.items() if _mode_dependent(m)]
    if not model.root.training:
        in_train = [name for name, m in layers if m.training]
        # Layers frozen with the rest of a frozen part may stay in eval mode on purpose.
        in_eval = [n for n, m in layers if not m.training and not model.frozen_region(n)]
        return {
            "model-in-eval-mode": in_eval if with_optimizer else [],
            "train-mode-in-eval-model": in_train,
        }
    # BatchNorm in eval mode inside a training model is a known way to keep its statistics.
    return {
        "eval-mode-in-train-model": [
            name
            for name, m in layers
            if not m.training
            and not isinstance(m, RUNNING_STATS_TYPES)
            and not model.frozen_region(name)
        ]
    }


def _stepped(optimizer: torch.optim.Optimizer, frozen: list[nn.Parameter]) -> list[int]:
    """The ids of the ``frozen`` parameters that the next ``optimizer.step()`` would change.

    L-BFGS mixes all parameters' history into each step: a frozen parameter may move once
    it has any state. Other optimizers update each parameter on its own, so one step of a
    copy of the optimizer over copies of the frozen parameters that have a ``.grad`` shows
    which of them move; if that copy cannot be made, each of them is reported.
    """
    if isinstance(optimizer, torch.optim.LBFGS):
        has_history = bool(optimizer.state)
        return [id(p) for p in frozen if p.grad is not None or has_history]
    with_grad = {id(p) for p in frozen if p.grad is not None}
    if not with_grad:
        return []
    copies: dict[int, torch.Tensor] = {}
    groups = []
    for group in optimizer.param_groups:
        mine = []
        for param in group["params"]:
            if id(param) in with_grad and id(param) not in copies:
                twin = param.detach().clone()
                twin.grad = param.grad.detach().clone()  # type: ignore[union-attr]
                copies[id(param)] = twin
                mine.append(twin)
        if mine:
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": mine})
    originals = {id(p): p for p in frozen}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            twin_optimizer = type(optimizer)(groups, **optimizer.defaults)
            for pid, twin in copies.items():
                if originals[pid] in optimizer.state:
                    twin_optimizer.state[twin] = copy.deepcopy(optimizer.state[originals[pid]])
            twin_optimizer.step()
    except Exception:  # an optimizer that cannot be copied this way: report them all
        return list(copies)
    return [pid for pid, twin in copies.items() if not torch.equal(twin, originals[pid].detach())]


Fingerprint = tuple[tuple[object, ...], ...]


def _forwards(model: _Model, inputs: Inputs) -> tuple[list[str], list[str]]:
    """Two eval-mode forwards of ``inputs``: the innermost modules whose output differs
    while their input does not, and the buffers the forwards changed (then restored)."""
    root = model.root
    buffers = [
        (name, owner, leaf, tensor, tensor.detach().clone())
        for name, tensor in root.named_buffers()
        if not nn.parameter.is_lazy(tensor)
        for owner, leaf in [_owner(root, name)]
    ]
    calls: list[dict[str, list[tuple[Fingerprint, Fingerprint]]]] = [{}, {}]
    device = next((t.device for _, t in model.tensors()), torch.device("cpu"))
    try:
        with evaluating(root, "no_grad"), seeded(0, device):
            for seen in calls:
                handles = _hooks(model, seen)
                try:
                    given = _cloned(inputs)
                    output = _call(root, given)
                    seen[ROOT] = [(_fingerprint(given), _fingerprint(output))]
                finally:
                    for handle in handles:
                        handle.remove()
    except Exception as exc:
        raise ValueError(
            f"audit(): the model's forward in eval mode failed on the inputs given: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    finally:
        changed = _restore(buffers)
    random = []
    for name in model.modules:
        first, second = calls[0].get(name, []), calls[1].get(name, [])
        if any(a[0] == b[0] and a[1] != b[1] for a, b in zip(first, second, strict=False)):
            random.append(name)
    innermost = [
        name
        for name in random
        if not any(other != name and _inside(other, name) for other in random)
    ]
    return innermost, changed


def _hooks(
    model: _Model, seen: dict[str, list[tuple[Fingerprint, Fingerprint]]]
) -> list[torch.utils.hooks.RemovableHandle]:
    """A recording forward hook on every submodule that takes one (a ScriptModule does not:
    its calls are seen only as part of the module around it)."""
    handles = []
    for name, module in model.modules.items():
        if name != ROOT and not isinstance(module, torch.jit.ScriptModule):
            handles.append(module.register_forward_hook(_recorder(seen, name), with_kwargs=True))
    return handles


def _inside(name: str, ancestor: str) -> bool:
    return ancestor == ROOT or name.startswith(ancestor + ".")


def _owner(root: nn.Module, name: str) -> tuple[nn.Module, str]:
    path, _, leaf = name.rpartition(".")
    return root.get_submodule(path), leaf


def _restore(buffers: list[tuple[str, nn.Module, str, torch.Tensor, torch.Tensor]]) -> list[str]:
    """Put every buffer back as it was; return the names of those that had changed."""
    changed = []
    for name, owner, leaf, tensor, value in buffers:
        current = owner._buffers.get(leaf)
        if current is tensor and _same(current, value):
            continue
        changed.append(name)
        owner._buffers[leaf] = tensor
        with torch.inference_mode(torch.is_inference(tensor)), torch.no_grad():
            tensor.copy_(value)
    return changed


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))


def _recorder(
    seen: dict[str, list[tuple[Fingerprint, Fingerprint]]], name: str
) -> Callable[[nn.Module, tuple[object, ...], dict[str, object], object], None]:
    """A forward hook that appends the fingerprints of each call's input and output."""

    def record(
        module: nn.Module, args: tuple[object, ...], kwargs: dict[str, object], output: object
    ) -> None:
        seen.setdefault(name, []).append((_fingerprint((args, kwargs)), _fingerprint(output)))

    return record


def _call(model: nn.Module, inputs: Inputs) -> object:
    if isinstance(inputs, torch.Tensor):
        return model(inputs)
    if isinstance(inputs, Mapping):
        return model(**inputs)
    return model(*inputs)


def _cloned(value: Inputs) -> Inputs:
    """A copy of the inputs' tensors, so that a forward that changes them in place does
    not change what the second forward gets."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, Mapping):
        return {key: _cloned(item) for key, item in value.items()}  # type: ignore[arg-type]
    if isinstance(value, (tuple, list)):
        return type(value)(_cloned(item) for item in value)  # type: ignore[arg-type]
    return value


def _tensors(value: object) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _tensors(item)
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)


class _Close(float):
    """A float that equals another one within the tolerance of a second, deterministic run
    on a device whose kernels may sum in a different order (NaN equals NaN)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, float):
            return NotImplemented
        if math.isnan(self) and math.isnan(other):
            return True
        return math.isclose(self, other, rel_tol=1e-5, abs_tol=1e-6)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = float.__hash__


def _fingerprint(value: object) -> Fingerprint:
    """Shape, dtype and two weighted sums of every tensor in ``value``."""
    prints = []
    for tensor in _tensors(value):
        summary: tuple[object, ...] = (tuple(tensor.shape), tensor.dtype)
        if tensor.layout == torch.strided and tensor.device.type != "meta" and tensor.numel():
            flat = tensor.detach()
            flat = torch.view_as_real(flat) if flat.is_complex() else flat
            flat = flat.reshape(-1).double()
            weights = torch.arange(flat.numel(), device=flat.device, dtype=torch.float64) % 7 + 1
            summary += (_Close(flat.sum().item()), _Close((flat * weights).sum().item()))
        prints.append(summary)
    return tuple(prints)
