"""Small example models used by the pages and the claims.

>>> import torch
>>> model = SimpleModel()
>>> model(torch.randn(16, 10)).shape
torch.Size([16, 1])
>>> mlp()(torch.randn(32, 64)).shape
torch.Size([32, 64])
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SimpleModel", "mlp"]


class SimpleModel(nn.Module):
    """The original answer's model: Dropout(0.5) -> BatchNorm1d(10) -> Linear(10, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout = nn.Dropout(0.5)
        self.bn = nn.BatchNorm1d(10)
        self.linear = nn.Linear(10, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(x)
        x = self.bn(x)
        return self.linear(x)


def mlp(width: int = 64) -> nn.Sequential:
    """``Linear(width, width)`` -> ``ReLU`` -> ``Linear(width, width)``, named ``0``, ``1``, ``2``.

    Without Dropout or BatchNorm it behaves the same in train and eval mode.
    """
    if isinstance(width, bool) or not isinstance(width, int):
        raise TypeError(f"width must be a positive int, got {type(width).__name__}: {width!r}")
    if width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    return nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
