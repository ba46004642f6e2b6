"""The three gradient modes, by name.

>>> import torch
>>> [name for name in GRAD_MODES]
['grad', 'no_grad', 'inference_mode']
>>> with grad_context("inference_mode"):
...     torch.is_inference_mode_enabled()
True
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Literal

import torch

from gradmodes._checks import require_choice

__all__ = ["GRAD_MODES", "GradMode", "grad_context"]

GradMode = Literal["grad", "no_grad", "inference_mode"]
GRAD_MODES: tuple[GradMode, ...] = ("grad", "no_grad", "inference_mode")


def grad_context(name: GradMode) -> AbstractContextManager[object]:
    """The context manager named by ``name``: ``enable_grad``, ``no_grad`` or ``inference_mode``.

    >>> with grad_context("no_grad"):
    ...     torch.is_grad_enabled()
    False
    >>> grad_context("eval")
    Traceback (most recent call last):
    ...
    ValueError: unknown grad_mode 'eval'; valid values: grad, no_grad, inference_mode
    """
    require_choice(name, GRAD_MODES, "grad_mode")
    if name == "grad":
        return torch.enable_grad()
    if name == "no_grad":
        return torch.no_grad()
    return torch.inference_mode()
