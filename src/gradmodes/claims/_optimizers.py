"""Every optimizer class of ``torch.optim`` against a frozen parameter (for the claims).

Each run builds two float32 parameters, one to freeze and one to train, and a loss that
gives both a gradient; what it reports is whether the frozen parameter changed.

>>> [cls.__name__ for cls in optimizer_classes()][:3]
['ASGD', 'Adadelta', 'Adafactor']
>>> [label(torch.optim.SGD, s) for s in settings(torch.optim.SGD)]
['SGD()', 'SGD(momentum=0.9)', 'SGD(weight_decay=0.1)']
>>> run(torch.optim.SGD, {"momentum": 0.9}, "zero-grad")
Outcome(frozen_changed=True, trainable_changed=True, frozen_grad='zero')
"""

from __future__ import annotations

import inspect
from typing import Any, Literal, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "SCENARIOS",
    "Outcome",
    "Pair",
    "Scenario",
    "label",
    "optimizer_classes",
    "run",
    "settings",
    "state_bytes",
    "step",
]

Scenario = Literal["frozen-before", "zero-grad", "none-grad", "leftover", "not-given"]
SCENARIOS: tuple[Scenario, ...] = (
    "frozen-before",  # frozen before training: its .grad stays None
    "zero-grad",  # frozen after a step; zero_grad(set_to_none=False) leaves a zero .grad
    "none-grad",  # frozen after a step; the default zero_grad() sets .grad to None
    "leftover",  # frozen between backward() and step(): it keeps the gradient it just got
    "not-given",  # trainable, with a .grad, but not given to the optimizer
)


def optimizer_classes() -> list[type[torch.optim.Optimizer]]:
    """Every optimizer class that ``torch.optim`` exports (not the base class), by name."""
    found = {
        value
        for name in torch.optim.__all__
        if inspect.isclass(value := getattr(torch.optim, name))
        and issubclass(value, torch.optim.Optimizer)
        and value is not torch.optim.Optimizer
    }
    return sorted(found, key=lambda cls: cls.__name__)


def settings(cls: type[torch.optim.Optimizer]) -> list[dict[str, float]]:
    """The default settings; ``momentum=0.9`` and ``weight_decay=0.1`` where ``cls`` takes
    them; and ``weight_decay=0`` where its default is not 0 (``AdamW``, ``Muon``)."""
    accepted = inspect.signature(cls).parameters
    chosen: list[dict[str, float]] = [{}]
    chosen += [{key: value} for key, value in (("momentum", 0.9), ("weight_decay", 0.1))]
    chosen = [s for s in chosen if set(s) <= set(accepted)]
    decay = accepted.get("weight_decay")
    if decay is not None and decay.default != 0:
        chosen.append({"weight_decay": 0})
    return chosen


def label(cls: type[torch.optim.Optimizer], setting: dict[str, float]) -> str:
    """``SGD(momentum=0.9)``: the class and its non-default settings, as code."""
    return f"{cls.__name__}({', '.join(f'{k}={v}' for k, v in setting.items())})"


class Pair:
    """A parameter to freeze and a trainable one, of ``shape``, and a loss using both.

    For ``SparseAdam``, which takes only sparse gradients, the loss looks rows up with
    ``F.embedding(..., sparse=True)``; otherwise it is ``(x @ p).square().sum()`` for each.
    """

    def __init__(
        self,
        cls: type[torch.optim.Optimizer],
        shape: tuple[int, int] = (4, 4),
        device: torch.device | str = "cpu",
    ) -> None:
        generator = torch.Generator().manual_seed(0)  # drawn on the CPU: the same on any device
        self.frozen = nn.Parameter(torch.randn(shape, generator=generator).to(device))
        self.trainable = nn.Parameter(torch.randn(shape, generator=generator).to(device))
        self.x = torch.randn(8, shape[0], generator=generator).to(device)
        self.rows = torch.arange(0, shape[0], 2, device=device)
        self.sparse = cls is torch.optim.SparseAdam

    def loss(self) -> torch.Tensor:
        def term(p: torch.Tensor) -> torch.Tensor:
            if self.sparse:
                return F.embedding(self.rows, p, sparse=True).square().sum()
            return (self.x @ p).square().sum()

        return term(self.frozen) + term(self.trainable)


def step(
    optimizer: torch.optim.Optimizer,
    pair: Pair,
    *,
    set_to_none: bool = True,
    backward: bool = True,
) -> None:
    """One training step: ``zero_grad(set_to_none)``, ``backward()``, ``step()``.

    ``LBFGS`` gets a closure that does the first two. ``backward=False`` steps on the
    ``.grad`` the parameters already hold.
    """

    def closure() -> torch.Tensor:
        if backward:
            optimizer.zero_grad(set_to_none=set_to_none)
        loss = pair.loss()
        if backward:
            loss.backward()
        return loss.detach()

    if isinstance(optimizer, torch.optim.LBFGS):
        optimizer.step(closure)
    else:
        closure()
        optimizer.step()


class Outcome(NamedTuple):
    """What one scenario did: whether each parameter changed, and the frozen one's ``.grad``."""

    frozen_changed: bool
    trainable_changed: bool
    frozen_grad: Literal["None", "zero", "non-zero"]


def run(
    cls: type[torch.optim.Optimizer],
    setting: dict[str, float],
    scenario: Scenario,
    device: torch.device | str = "cpu",
) -> Outcome:
    """Run ``scenario`` (see :data:`SCENARIOS`) with ``cls(params, **setting)`` on ``device``."""
    pair = Pair(cls, device=device)

    def make(params: list[torch.Tensor]) -> torch.optim.Optimizer:
        return cls(params, **setting)

    before_trainable = pair.trainable.detach().clone()
    if scenario == "frozen-before":
        pair.frozen.requires_grad_(False)
        optimizer = make([pair.frozen, pair.trainable])
        before = pair.frozen.detach().clone()
        step(optimizer, pair)
        step(optimizer, pair)
    elif scenario in ("zero-grad", "none-grad"):
        set_to_none = scenario == "none-grad"
        optimizer = make([pair.frozen, pair.trainable])
        step(optimizer, pair)  # one training step: the optimizer now has state for it
        optimizer.zero_grad(set_to_none=set_to_none)
        pair.frozen.requires_grad_(False)
        before = pair.frozen.detach().clone()
        step(optimizer, pair, set_to_none=set_to_none)
        step(optimizer, pair, set_to_none=set_to_none)
    elif scenario == "leftover":
        optimizer = make([pair.frozen, pair.trainable])
        pair.loss().backward()
        pair.frozen.requires_grad_(False)
        before = pair.frozen.detach().clone()
        step(optimizer, pair, backward=False)
    elif scenario == "not-given":
        optimizer = make([pair.trainable])
        before = pair.frozen.detach().clone()
        step(optimizer, pair)
        step(optimizer, pair)
    else:
        raise ValueError(f"unknown scenario {scenario!r}; valid values: {', '.join(SCENARIOS)}")
    grad = pair.frozen.grad
    if grad is not None and grad.is_sparse:
        grad = grad.to_dense()
    return Outcome(
        frozen_changed=not torch.equal(before, pair.frozen.detach()),
        trainable_changed=not torch.equal(before_trainable, pair.trainable.detach()),
        frozen_grad="None" if grad is None else "zero" if not grad.any() else "non-zero",
    )


def state_bytes(optimizer: torch.optim.Optimizer, param: torch.Tensor) -> int:
    """Bytes of the tensors in ``optimizer.state[param]`` (lists of tensors included)."""

    def size(value: Any) -> int:
        if isinstance(value, torch.Tensor):
            return value.numel() * value.element_size()
        if isinstance(value, (list, tuple)):
            return sum(size(item) for item in value)
        return 0

    return sum(size(value) for value in optimizer.state.get(param, {}).values())
