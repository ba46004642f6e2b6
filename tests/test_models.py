"""Specification of the example models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gradmodes.models import SimpleModel, mlp


def test_simple_model_is_the_seed_model() -> None:
    model = SimpleModel()
    layers = [(name, type(module)) for name, module in model.named_children()]
    assert layers == [("dropout", nn.Dropout), ("bn", nn.BatchNorm1d), ("linear", nn.Linear)]
    assert model.dropout.p == 0.5
    assert model.bn.num_features == 10
    assert (model.linear.in_features, model.linear.out_features) == (10, 1)


@pytest.mark.parametrize("batch", [2, 16, 33])
def test_simple_model_maps_batch_of_10_features_to_one_output(batch: int) -> None:
    assert SimpleModel()(torch.randn(batch, 10)).shape == (batch, 1)


@pytest.mark.parametrize(("width", "batch"), [(1, 3), (8, 2), (64, 32)])
def test_mlp_is_linear_relu_linear_of_the_given_width(width: int, batch: int) -> None:
    net = mlp(width)
    assert [type(m) for m in net] == [nn.Linear, nn.ReLU, nn.Linear]
    assert [name for name, _ in net.named_children()] == ["0", "1", "2"]
    assert net(torch.randn(batch, width)).shape == (batch, width)


def test_mlp_has_no_train_eval_behaviour() -> None:
    net, x = mlp(8), torch.randn(4, 8)
    assert torch.equal(net.train()(x), net.eval()(x))


@pytest.mark.parametrize("width", [0, -3])
def test_mlp_rejects_a_width_below_one(width: int) -> None:
    with pytest.raises(ValueError, match="width must be a positive int"):
        mlp(width)
