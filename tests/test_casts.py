"""Specification of ``watch_casts``: the copies autocast makes of given tensors."""

from __future__ import annotations

from typing import NamedTuple

import pytest
import torch
from torch import nn

from gradmodes.casts import watch_casts
from gradmodes.models import mlp


class Case(NamedTuple):
    name: str
    mode: str
    frozen: bool
    made: int  # copies made
    alive: int  # copies still alive at the end of the block, inside the region


# mlp(8) has 4 parameters; two forwards in one autocast region to bfloat16.
CASES = [
    Case("grad: cast once, cached", "grad", False, 4, 4),
    Case("no_grad: cast once, cached", "no_grad", False, 4, 4),
    Case("inference_mode: no cache", "inference_mode", False, 8, 0),
    Case("frozen: no cache", "grad", True, 8, 0),
]
MODES = {
    "grad": torch.enable_grad,
    "no_grad": torch.no_grad,
    "inference_mode": torch.inference_mode,
}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_casts_counts_the_copies_made_and_those_still_alive(case: Case) -> None:
    net = mlp(8).requires_grad_(not case.frozen)
    x = torch.randn(2, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with watch_casts(net.parameters()) as casts, MODES[case.mode]():
            net(x)
            net(x)
        assert (casts.made, casts.alive()) == (case.made, case.alive)
    assert casts.alive() == 0  # the region's cache is gone


def test_a_copy_kept_for_backward_stays_alive_after_the_region() -> None:
    layer = nn.Linear(8, 8)
    x = torch.randn(2, 8, requires_grad=True)  # so the bfloat16 weight is saved for x.grad
    with torch.autocast("cpu", dtype=torch.bfloat16), watch_casts([layer.weight]) as casts:
        y = layer(x)
    assert (casts.made, casts.alive(), casts.alive_bytes()) == (1, 1, 8 * 8 * 2)
    del y
    assert casts.alive() == 0


def test_nothing_is_counted_without_autocast() -> None:
    with watch_casts(mlp(8).parameters()) as casts:
        mlp(8)(torch.randn(2, 8))
    assert casts.made == 0


def test_only_conversions_to_the_watched_dtype_count() -> None:
    w = torch.randn(3)
    with watch_casts([w], dtype=torch.float16) as casts:
        w.to(torch.bfloat16), w.to(torch.float16), w.double()
    assert casts.made == 1
