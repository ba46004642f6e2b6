"""Argument checks shared by the public functions: clear errors for wrong input."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

__all__ = ["require_choice", "require_module"]


def require_module(model: object, function: str) -> nn.Module:
    """Return ``model`` if it is an ``nn.Module``; raise ``TypeError`` otherwise."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"{function}() needs a torch.nn.Module, got {type(model).__name__}: {model!r:.60}"
        )
    return model


def require_choice(value: object, choices: Iterable[str], name: str) -> str:
    """Return ``value`` if it is one of ``choices``; raise ``ValueError`` listing them."""
    valid = tuple(choices)
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid values: {', '.join(valid)}")
    return value
