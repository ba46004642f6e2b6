"""Specification of the LoRA adapter: a frozen base, a trainable low-rank update."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gradmodes.lora import LoRALinear, add_lora
from gradmodes.models import mlp


def test_a_fresh_adapter_computes_what_its_base_computes() -> None:
    base = nn.Linear(6, 3)
    x = torch.randn(4, 6)
    assert torch.equal(LoRALinear(base, rank=2)(x), base(x))


def test_the_base_is_frozen_and_only_the_adapter_trains() -> None:
    layer = LoRALinear(nn.Linear(6, 3), rank=2)
    assert [n for n, p in layer.named_parameters() if p.requires_grad] == ["lora_a", "lora_b"]
    layer(torch.randn(4, 6)).sum().backward()
    assert layer.base.weight.grad is None and layer.base.bias.grad is None
    assert layer.lora_a.grad is not None and layer.lora_b.grad is not None


def test_the_update_is_scaled_by_alpha_over_rank() -> None:
    base = nn.Linear(6, 3)
    layer = LoRALinear(base, rank=2, alpha=8)
    with torch.no_grad():
        layer.lora_b.fill_(1.0)
    x = torch.randn(4, 6)
    expected = base(x) + 4.0 * (x @ layer.lora_a.t() @ layer.lora_b.t())
    assert layer.scale == 4.0
    torch.testing.assert_close(layer(x), expected)


def test_the_adapter_follows_the_base_dtype() -> None:
    layer = LoRALinear(nn.Linear(6, 3).double(), rank=2)
    assert layer.lora_a.dtype == layer.lora_b.dtype == torch.float64


def test_the_adapter_leaves_the_train_eval_mode_alone() -> None:
    base = nn.Linear(6, 3).eval()
    LoRALinear(base, rank=2)
    assert not base.training


def test_add_lora_freezes_the_model_and_adapts_the_named_layers() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    assert add_lora(model, "2", rank=3) is model
    assert isinstance(model[2], LoRALinear) and isinstance(model[0], nn.Linear)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["2.lora_a", "2.lora_b"]
    assert model[1].training  # modes and buffers untouched


def test_an_adapter_takes_the_mode_of_the_layer_it_wraps() -> None:
    model = add_lora(mlp(4).eval(), "0")
    assert {m.training for m in model.modules()} == {False}


def test_add_lora_reaches_nested_layers() -> None:
    model = nn.Sequential(nn.Sequential(nn.Linear(4, 4)), nn.ReLU())
    add_lora(model, "0.0")
    assert isinstance(model[0][0], LoRALinear)


def test_training_the_adapter_changes_the_output_not_the_base() -> None:
    torch.manual_seed(0)
    model = add_lora(mlp(8), "0", "2", rank=2)
    before = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    x = torch.randn(16, 8)
    out = model(x).detach()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model(x).square().mean().backward()
    optimizer.step()
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters() if n in before)
    assert not torch.equal(model(x), out)


@pytest.mark.parametrize("rank", [0, -1, True, 1.5])
def test_a_rank_that_is_not_a_positive_int_is_refused(rank: object) -> None:
    with pytest.raises(ValueError, match="rank must be a positive int"):
        LoRALinear(nn.Linear(2, 2), rank=rank)  # type: ignore[arg-type]
