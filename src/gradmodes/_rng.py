"""Deterministic random numbers that leave the caller's RNG state untouched."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["seeded"]


@contextmanager
def seeded(seed: int = 0, device: torch.device | str = "cpu") -> Iterator[None]:
    """Seed torch's RNG for the block; the previous RNG state comes back afterwards.

    >>> with seeded(1):
    ...     a = torch.rand(2)
    >>> with seeded(1):
    ...     b = torch.rand(2)
    >>> torch.equal(a, b)
    True
    """
    dev = torch.device(device)
    cuda = (
        [dev.index if dev.index is not None else torch.cuda.current_device()]
        if (dev.type == "cuda")
        else []
    )
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield
