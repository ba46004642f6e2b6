"""recorded_ops() records the ATen operators a block runs, and changes nothing it runs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gradmodes import recorded_ops


def test_it_records_the_operators_in_order() -> None:
    x = torch.ones(3)
    with recorded_ops() as ops:
        x.exp().sum()
    assert ops == ["exp", "sum"]


def test_it_records_nothing_outside_the_block() -> None:
    with recorded_ops() as ops:
        pass
    torch.ones(2).exp()
    assert ops == []


def test_the_fused_fast_paths_run_under_it() -> None:
    mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True).eval()
    x = torch.randn(2, 5, 8)
    with recorded_ops() as ops, torch.no_grad():
        mha(x, x, x)
        layer(x)
    assert "_native_multi_head_attention" in ops and "_transformer_encoder_layer_fwd" in ops


def test_composite_operators_show_their_kernels_under_inference_mode() -> None:
    q = torch.randn(1, 1, 3, 4)
    for context in (torch.no_grad, torch.inference_mode):
        with recorded_ops() as ops, context():
            F.scaled_dot_product_attention(q, q, q)
        assert "_scaled_dot_product_flash_attention_for_cpu" in ops, context.__name__


def test_results_are_the_same_with_and_without_it() -> None:
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True).eval()
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        plain = layer(x)
        with recorded_ops():
            recorded = layer(x)
    assert torch.equal(plain, recorded)
