"""Specification of the probes: saved-for-backward bytes and ``observe()``."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import pytest
import torch
from torch import nn

from gradmodes.models import SimpleModel, mlp
from gradmodes.modes import GradMode
from gradmodes.probes import Observation, count_saved, observe


class SavedCase(NamedTuple):
    trainable: str  # which layers of mlp(64) keep requires_grad=True
    bytes: int
    count: int


# Known figures on torch 2.13 CPU: Linear(64, 64)-ReLU-Linear(64, 64), batch 32, float32,
# input not requiring grad. Linear 1 saves x, ReLU its output, Linear 2 its input and weight.
SAVED_CASES = [
    SavedCase("all", 40960, 4),
    SavedCase("last", 8192, 1),
    SavedCase("none", 0, 0),
]


@pytest.mark.parametrize("case", SAVED_CASES, ids=lambda c: c.trainable)
def test_count_saved_gives_the_known_figures(case: SavedCase) -> None:
    torch.manual_seed(0)
    net = mlp(64)
    if case.trainable in ("last", "none"):
        net[0].requires_grad_(False)
    if case.trainable == "none":
        net[2].requires_grad_(False)
    with count_saved() as saved:
        net(torch.randn(32, 64))
    assert (saved.bytes, saved.count) == (case.bytes, case.count)


def test_count_saved_does_not_deduplicate() -> None:
    x = torch.randn(5, requires_grad=True)
    with count_saved() as saved:
        x * x  # mul saves both operands: the same tensor twice
    assert (saved.count, saved.bytes) == (2, 2 * 5 * 4)


def test_count_saved_storage_bytes_count_each_storage_once() -> None:
    x = torch.randn(5, requires_grad=True)
    with count_saved() as saved:
        x * x  # the same tensor saved twice: one storage
    assert (saved.bytes, saved.storage_bytes) == (40, 20)


def test_count_saved_storage_bytes_leave_out_the_excluded_storages() -> None:
    # mlp(64) on (32, 64): Linear 1 saves x; ReLU its output; Linear 2 the same ReLU output
    # and weight.t() (a view of its weight). Referenced: 3 activations + 1 weight.
    net, x = mlp(64), torch.randn(32, 64)
    activation, weight = 32 * 64 * 4, 64 * 64 * 4
    with count_saved() as saved:
        out = net(x)
    assert saved.bytes == 3 * activation + weight
    assert saved.storage_bytes == 2 * activation + weight  # x, the ReLU output, W2
    with count_saved(exclude=[x, *net.parameters()]) as kept:
        out = net(x)
    assert kept.storage_bytes == activation  # only the ReLU output exists for backward alone
    assert out.grad_fn is not None


@pytest.mark.parametrize(
    ("dtype", "element_size"), [(torch.float64, 8), (torch.float32, 4), (torch.bfloat16, 2)]
)
def test_count_saved_uses_the_element_size(dtype: torch.dtype, element_size: int) -> None:
    x = torch.randn(3, 4, dtype=dtype, requires_grad=True)
    with count_saved() as saved:
        x.exp()  # saves its (3, 4) output
    assert saved.bytes == 12 * element_size


@pytest.mark.parametrize("grad_mode", ["no_grad", "inference_mode"])
def test_count_saved_sees_nothing_without_grad_mode(grad_mode: GradMode) -> None:
    seen = observe(mlp(64), torch.randn(32, 64), grad_mode=grad_mode)
    assert seen.saved_bytes == 0


def test_observe_reports_distinct_storages_beyond_parameters_buffers_and_input() -> None:
    # mlp(64): the saved tensors reference x, the ReLU output twice and weight.t(); beyond
    # the parameters and the input, only the ReLU output's storage is kept for backward.
    seen = observe(mlp(64), torch.randn(32, 64))
    assert (seen.saved_bytes, seen.saved_storage_bytes) == (40960, 32 * 64 * 4)
    # SimpleModel in eval mode: BatchNorm saves its running statistics (buffers) and its
    # input, which eval-mode Dropout returns as is: only BatchNorm's output is new.
    seen = observe(SimpleModel().eval(), torch.randn(16, 10))
    assert (seen.saved_bytes, seen.saved_storage_bytes) == (1440, 16 * 10 * 4)


class ObserveCase(NamedTuple):
    training: bool
    grad_mode: GradMode
    dropout_active: bool
    bn_stats_updated: bool
    output_requires_grad: bool
    backward_ok: bool


# SimpleModel with trainable parameters and an input that does not require grad.
OBSERVE_CASES = [
    ObserveCase(True, "grad", True, True, True, True),
    ObserveCase(True, "no_grad", True, True, False, False),
    ObserveCase(True, "inference_mode", True, True, False, False),
    ObserveCase(False, "grad", False, False, True, True),
    ObserveCase(False, "no_grad", False, False, False, False),
    ObserveCase(False, "inference_mode", False, False, False, False),
]


@pytest.mark.parametrize(
    "case", OBSERVE_CASES, ids=lambda c: f"{'train' if c.training else 'eval'}-{c.grad_mode}"
)
def test_observe_simple_model(case: ObserveCase) -> None:
    torch.manual_seed(0)
    model = SimpleModel().train(case.training)
    seen = observe(model, torch.randn(16, 10), grad_mode=case.grad_mode, backward=True)
    assert seen.dropout_active is case.dropout_active
    assert seen.bn_stats_updated is case.bn_stats_updated
    assert seen.output_requires_grad is case.output_requires_grad
    assert seen.has_grad_fn is case.output_requires_grad
    assert (seen.saved_bytes > 0) is case.output_requires_grad
    assert seen.backward_ok is case.backward_ok
    if case.backward_ok:
        assert seen.backward_error is None
        assert seen.params_with_grad == ("bn.weight", "bn.bias", "linear.weight", "linear.bias")
    else:
        assert seen.backward_error == (
            "element 0 of tensors does not require grad and does not have a grad_fn"
        )
        assert seen.params_with_grad == ()


def test_observe_without_backward_leaves_backward_fields_empty() -> None:
    seen = observe(SimpleModel(), torch.randn(4, 10))
    assert (seen.backward_ok, seen.backward_error, seen.params_with_grad) == (None, None, ())


def test_observe_names_only_parameters_that_got_a_grad() -> None:
    model = SimpleModel()
    model.bn.requires_grad_(False)
    seen = observe(model, torch.randn(4, 10), backward=True)
    assert seen.params_with_grad == ("linear.weight", "linear.bias")


def test_observe_puts_every_grad_back() -> None:
    model = SimpleModel()
    existing = torch.ones_like(model.linear.weight)
    model.linear.weight.grad = existing
    observe(model, torch.randn(4, 10), backward=True)
    assert model.linear.weight.grad is existing
    assert torch.equal(existing, torch.ones_like(existing))
    assert model.linear.bias.grad is None
    assert model.bn.weight.grad is None


def test_observe_keeps_what_the_forward_itself_does() -> None:
    model = SimpleModel().train()
    observe(model, torch.randn(4, 10))
    assert int(model.bn.num_batches_tracked) == 1


def test_observe_removes_its_hooks_also_on_error() -> None:
    model = nn.Sequential(nn.Dropout(), nn.Linear(3, 1))
    with pytest.raises(RuntimeError):
        observe(model, torch.randn(2, 5))  # wrong feature size
    observe(model, torch.randn(2, 3))
    assert not model[0]._forward_hooks
    assert not model[0]._forward_pre_hooks


def test_observe_sees_inplace_dropout() -> None:
    seen = observe(nn.Sequential(nn.Dropout(inplace=True)), torch.randn(100))
    assert seen.dropout_active is True


def test_observe_reports_dropout_with_p_zero_as_inactive() -> None:
    # "active" means: the module changed its input in this forward.
    assert observe(nn.Sequential(nn.Dropout(0.0)), torch.randn(100)).dropout_active is False


@pytest.mark.parametrize(
    "model",
    [nn.Sequential(), nn.Linear(3, 3), nn.LayerNorm(3)],
    ids=["empty", "linear", "layernorm"],
)
def test_observe_answers_none_for_layers_a_model_does_not_have(model: nn.Module) -> None:
    seen = observe(model, torch.randn(2, 3))
    assert seen.dropout_active is None
    assert seen.bn_stats_updated is None


def test_observe_watches_running_stats_of_any_layer_that_has_them() -> None:
    norm = nn.InstanceNorm1d(3, track_running_stats=True)
    assert observe(norm, torch.randn(2, 3, 5)).bn_stats_updated is True


def test_observation_is_frozen() -> None:
    seen = observe(nn.Linear(2, 2), torch.randn(1, 2))
    assert isinstance(seen, Observation)
    with pytest.raises(dataclasses.FrozenInstanceError):
        seen.saved_bytes = 0  # type: ignore[misc]


@pytest.mark.parametrize("model", ["SimpleModel", None, torch.nn.Linear], ids=repr)
def test_observe_rejects_a_model_that_is_not_a_module(model: object) -> None:
    with pytest.raises(TypeError, match=r"observe\(\) needs a torch.nn.Module"):
        observe(model, torch.randn(2, 10))  # type: ignore[arg-type]


@pytest.mark.parametrize("grad_mode", ["eval", "enable_grad", ""])
def test_observe_rejects_an_unknown_grad_mode_listing_valid_ones(grad_mode: str) -> None:
    with pytest.raises(ValueError, match="valid values: grad, no_grad, inference_mode"):
        observe(SimpleModel(), torch.randn(2, 10), grad_mode=grad_mode)  # type: ignore[arg-type]


def test_observe_rejects_an_input_that_is_not_a_tensor() -> None:
    with pytest.raises(TypeError, match=r"needs a torch.Tensor input, got list"):
        observe(SimpleModel(), [[0.0] * 10])  # type: ignore[arg-type]


def test_observe_rejects_a_model_that_does_not_return_a_tensor() -> None:
    class Pair(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x, x

    with pytest.raises(TypeError, match="returns a tensor, got tuple"):
        observe(Pair(), torch.randn(2))
