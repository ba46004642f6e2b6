"""Specification of freezing by exact module prefix, and of BatchNorm freezing."""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Callable
from typing import NamedTuple

import pytest
import torch
from torch import nn

from gradmodes.freeze import (
    freeze,
    freeze_batchnorm,
    trainable_parameters,
    unfreeze,
    unfreeze_batchnorm,
)
from gradmodes.models import SimpleModel
from gradmodes.probes import observe


class Prefixed(nn.Module):
    """Module names that a substring test would confuse with ``linear``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
        self.linear2 = nn.Linear(2, 2)
        self.nonlinear = nn.Linear(2, 2)
        self.bn = nn.BatchNorm1d(2)


class PrefixCase(NamedTuple):
    prefixes: tuple[str, ...]
    selected: list[str]  # parameter names freeze() changes on a fresh Prefixed()


PREFIX_CASES = [
    PrefixCase(
        ("linear",), ["linear.0.weight", "linear.0.bias", "linear.1.weight", "linear.1.bias"]
    ),
    PrefixCase(("linear.1",), ["linear.1.weight", "linear.1.bias"]),
    PrefixCase(("linear2",), ["linear2.weight", "linear2.bias"]),
    PrefixCase(("nonlinear", "bn"), ["nonlinear.weight", "nonlinear.bias", "bn.weight", "bn.bias"]),
    PrefixCase(
        (),
        [
            "linear.0.weight",
            "linear.0.bias",
            "linear.1.weight",
            "linear.1.bias",
            "linear2.weight",
            "linear2.bias",
            "nonlinear.weight",
            "nonlinear.bias",
            "bn.weight",
            "bn.bias",
        ],
    ),
]


@pytest.mark.parametrize("case", PREFIX_CASES, ids=lambda c: ",".join(c.prefixes) or "all")
def test_freeze_selects_exact_module_prefixes(case: PrefixCase) -> None:
    model = Prefixed()
    assert freeze(model, *case.prefixes) == case.selected
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    assert frozen == case.selected


@pytest.mark.parametrize("case", PREFIX_CASES, ids=lambda c: ",".join(c.prefixes) or "all")
def test_unfreeze_selects_the_same_parameters(case: PrefixCase) -> None:
    model = Prefixed().requires_grad_(False)
    assert unfreeze(model, *case.prefixes) == case.selected


def test_freeze_returns_only_the_parameters_it_changed() -> None:
    model = Prefixed()
    freeze(model, "linear")
    assert freeze(model, "linear") == []
    assert freeze(model, "linear", "bn") == ["bn.weight", "bn.bias"]


def test_freeze_and_unfreeze_leave_buffers_alone() -> None:
    model = Prefixed()
    freeze(model)
    unfreeze(model)
    assert not any(buffer.requires_grad for buffer in model.buffers())


def test_shared_parameter_is_frozen_through_any_module_holding_it() -> None:
    model = Prefixed()
    model.linear2.weight = model.nonlinear.weight
    assert freeze(model, "linear2") == ["linear2.weight", "linear2.bias"]
    assert model.nonlinear.weight.requires_grad is False


@pytest.mark.parametrize("prefix", ["lin", "linear.", "Linear", "linear.2", "", "bn.weight"])
def test_unknown_prefix_raises_listing_module_names(prefix: str) -> None:
    message = (
        f"freeze(): prefix '{prefix}' matches no module; valid module names: "
        "linear, linear.0, linear.1, linear2, nonlinear, bn"
    )
    model = Prefixed()
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        freeze(model, prefix)
    assert all(p.requires_grad for p in model.parameters()), "nothing changed"


def test_unknown_prefix_message_is_bounded_for_big_models() -> None:
    model = nn.Sequential(*(nn.Linear(1, 1) for _ in range(40)))
    with pytest.raises(ValueError, match=r"valid module names: 0, 1, .*, 29 and 10 more$"):
        unfreeze(model, "x")


def test_prefix_must_be_a_string() -> None:
    with pytest.raises(TypeError, match=r"prefixes are module names \(str\), got 0"):
        freeze(Prefixed(), 0)  # type: ignore[arg-type]


def test_empty_model() -> None:
    model = nn.Sequential()
    assert freeze(model) == []
    assert unfreeze(model) == []
    assert trainable_parameters(model) == []
    assert freeze_batchnorm(model) == []
    with pytest.raises(ValueError, match=r"none \(the model has no submodules\)"):
        freeze(model, "linear")


NOT_MODULES: list[object] = ["model", None, nn.Linear, [nn.Linear(1, 1)]]
FUNCTIONS: list[Callable[..., object]] = [
    freeze,
    unfreeze,
    trainable_parameters,
    freeze_batchnorm,
    unfreeze_batchnorm,
]


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("model", NOT_MODULES, ids=repr)
def test_functions_reject_what_is_not_a_module(
    function: Callable[..., object], model: object
) -> None:
    with pytest.raises(TypeError, match=rf"{function.__name__}\(\) needs a torch.nn.Module"):
        function(model)


def test_trainable_parameters_feeds_an_optimizer() -> None:
    model = SimpleModel()
    freeze(model, "bn")
    params = trainable_parameters(model)
    assert params == [model.linear.weight, model.linear.bias]
    torch.optim.SGD(params, lr=0.1)


def test_trainable_parameters_lists_a_shared_parameter_once() -> None:
    model = Prefixed()
    model.linear2.weight = model.nonlinear.weight
    params = trainable_parameters(model)
    assert len(params) == len({id(p) for p in params}) == 9


def test_freeze_batchnorm_survives_model_train() -> None:
    torch.manual_seed(0)
    model = SimpleModel()
    assert freeze_batchnorm(model) == ["bn"]
    model.train()
    assert (model.training, model.dropout.training, model.bn.training) == (True, True, False)
    assert not model.bn.weight.requires_grad
    assert not model.bn.bias.requires_grad
    seen = observe(model, torch.randn(8, 10), backward=True)
    assert seen.bn_stats_updated is False
    assert seen.dropout_active is True
    assert seen.params_with_grad == ("linear.weight", "linear.bias")
    model.bn.train()  # even asked directly
    assert model.bn.training is False


def test_freeze_batchnorm_selects_by_prefix() -> None:
    model = nn.Sequential(nn.BatchNorm1d(2), nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)))
    assert freeze_batchnorm(model, "1") == ["1.1"]
    model.train()
    assert (model[0].training, model[1][1].training) == (True, False)


@pytest.mark.parametrize(
    "model",
    [nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.LayerNorm(2))],
    ids=["linear", "dropout-layernorm"],
)
def test_freeze_batchnorm_without_batchnorm_changes_nothing(model: nn.Module) -> None:
    assert freeze_batchnorm(model) == []
    assert all(p.requires_grad for p in model.parameters())


def test_freeze_batchnorm_acts_on_every_batchnorm_type() -> None:
    model = nn.Sequential(nn.BatchNorm1d(2), nn.BatchNorm2d(2), nn.BatchNorm3d(2))
    assert freeze_batchnorm(model) == ["0", "1", "2"]
    assert not any(m.training for m in model.train())


def test_freeze_batchnorm_refuses_an_uninitialized_lazy_batchnorm_and_changes_nothing() -> None:
    model = nn.Sequential(nn.BatchNorm1d(3), nn.LazyBatchNorm1d())
    with pytest.raises(ValueError, match=r"'?1'? \(LazyBatchNorm1d\) has no parameters yet"):
        freeze_batchnorm(model)
    assert model[0].weight.requires_grad and "train" not in vars(model[0])
    model(torch.randn(4, 3))  # the first forward initializes it: a BatchNorm1d now
    assert freeze_batchnorm(model) == ["0", "1"]
    assert [p.requires_grad for p in model.parameters()] == [False] * 4
    assert not any(m.training for m in model.train())


def test_unfreeze_batchnorm_undoes_it() -> None:
    model = SimpleModel()
    freeze_batchnorm(model)
    model.eval()
    assert unfreeze_batchnorm(model) == ["bn"]
    assert model.bn.training is False, "takes the model's own flag"
    model.train()
    assert model.bn.training is True
    assert model.bn.weight.requires_grad
    assert "train" not in vars(model.bn)
    assert observe(model, torch.randn(8, 10)).bn_stats_updated is True
    assert unfreeze_batchnorm(model) == [], "nothing left to undo"


def test_frozen_batchnorm_survives_deepcopy_and_save_load() -> None:
    model = SimpleModel()
    freeze_batchnorm(model)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    for clone in (copy.deepcopy(model), torch.load(buffer, weights_only=False)):
        clone.train()
        assert clone.bn.training is False
        assert unfreeze_batchnorm(clone) == ["bn"]
        assert model.train().bn.training is False, "the original stays frozen"


def test_frozen_batchnorm_keeps_the_state_dict_keys() -> None:
    model = SimpleModel()
    keys = list(model.state_dict())
    freeze_batchnorm(model)
    assert list(model.state_dict()) == keys
