"""Specification of grad-mode names and of the ``evaluating`` block."""

from __future__ import annotations

from typing import NamedTuple

import pytest
import torch
from torch import nn

from gradmodes.freeze import freeze_batchnorm
from gradmodes.models import SimpleModel
from gradmodes.modes import GRAD_MODES, GradMode, evaluating, grad_context


class ContextCase(NamedTuple):
    name: GradMode
    grad_enabled: bool
    inference_mode: bool


CONTEXT_CASES = [
    ContextCase("grad", True, False),
    ContextCase("no_grad", False, False),
    ContextCase("inference_mode", False, True),
]


def test_grad_modes_are_the_three_names() -> None:
    assert tuple(case.name for case in CONTEXT_CASES) == GRAD_MODES


@pytest.mark.parametrize("case", CONTEXT_CASES, ids=lambda c: c.name)
def test_grad_context_switches_to_the_named_mode(case: ContextCase) -> None:
    with torch.no_grad(), grad_context(case.name):  # "grad" turns tracking back on
        assert torch.is_grad_enabled() is case.grad_enabled
        assert torch.is_inference_mode_enabled() is case.inference_mode
    assert torch.is_grad_enabled()


@pytest.mark.parametrize("name", ["eval", "enable_grad", "GRAD", None])
def test_grad_context_rejects_unknown_names(name: object) -> None:
    with pytest.raises(ValueError, match="valid values: grad, no_grad, inference_mode"):
        grad_context(name)  # type: ignore[arg-type]


class FlagsCase(NamedTuple):
    name: str
    setup: dict[str, bool]  # training flag per module name before the block


FLAGS_CASES = [
    FlagsCase("all-train", {"": True, "dropout": True, "bn": True, "linear": True}),
    FlagsCase("all-eval", {"": False, "dropout": False, "bn": False, "linear": False}),
    FlagsCase("bn-kept-in-eval", {"": True, "dropout": True, "bn": False, "linear": True}),
    FlagsCase("only-dropout-train", {"": False, "dropout": True, "bn": False, "linear": False}),
]


def _set_flags(model: nn.Module, flags: dict[str, bool]) -> None:
    for name, module in model.named_modules():
        module.training = flags[name]


def _flags(model: nn.Module) -> dict[str, bool]:
    return {name: module.training for name, module in model.named_modules()}


@pytest.mark.parametrize("case", FLAGS_CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("grad_mode", ["inference_mode", "no_grad"])
def test_evaluating_restores_each_submodules_own_flag(case: FlagsCase, grad_mode: GradMode) -> None:
    model = SimpleModel()
    _set_flags(model, case.setup)
    with evaluating(model, grad_mode) as inside:  # type: ignore[arg-type]
        assert inside is model
        assert not any(m.training for m in model.modules())
        assert not torch.is_grad_enabled()
        assert torch.is_inference_mode_enabled() is (grad_mode == "inference_mode")
    assert _flags(model) == case.setup
    assert torch.is_grad_enabled()


@pytest.mark.parametrize("case", FLAGS_CASES, ids=lambda c: c.name)
def test_evaluating_restores_flags_when_the_block_raises(case: FlagsCase) -> None:
    model = SimpleModel()
    _set_flags(model, case.setup)
    with pytest.raises(ZeroDivisionError), evaluating(model):
        _ = 1 / 0
    assert _flags(model) == case.setup
    assert not torch.is_inference_mode_enabled()


def test_evaluating_uses_running_stats_and_no_dropout() -> None:
    model = SimpleModel()
    x = torch.randn(8, 10)
    with evaluating(model):
        first, second = model(x), model(x)
    assert torch.equal(first, second)
    assert int(model.bn.num_batches_tracked) == 0


def test_evaluating_keeps_a_frozen_batchnorm_frozen() -> None:
    model = SimpleModel()
    freeze_batchnorm(model)
    with evaluating(model):
        pass
    assert model.train().bn.training is False


def test_evaluating_an_empty_model() -> None:
    model = nn.Sequential()
    with evaluating(model):
        assert model.training is False
    assert model.training is True


def test_evaluating_rejects_grad_mode_grad() -> None:
    with (
        pytest.raises(ValueError, match="valid values: inference_mode, no_grad"),
        evaluating(
            SimpleModel(),
            "grad",  # type: ignore[arg-type]
        ),
    ):
        pass


def test_evaluating_rejects_what_is_not_a_module() -> None:
    with (
        pytest.raises(TypeError, match=r"evaluating\(\) needs a torch.nn.Module"),
        evaluating(
            "model"  # type: ignore[type-var]
        ),
    ):
        pass
