"""Deterministic random numbers that leave the caller's RNG state untouched."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["seeded"]


@contextmanager
def seeded(seed: int = 0, device: torch.device | str = "cpu") -> Iterator[None]:
    """Seed torch's CPU RNG (and ``device``'s, if CUDA) for the block, then restore them.

    >>> with seeded(1):
    ...     a = torch.rand(2)
    >>> with seeded(1):
    ...     b = torch.rand(2)
    >>> torch.equal(a, b)
    True
    """
    dev = torch.device(device)
    cuda = []
    if dev.type == "cuda":
        cuda = [dev.index if dev.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda):
        # Not torch.manual_seed(): on a CPU build it also queues seeds for CUDA, XPU and
        # MTIA, formatting a stack trace for each (about 1 ms per call).
        torch.random.default_generator.manual_seed(seed)
        for index in cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield
