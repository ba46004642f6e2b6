"""Counterfactuals of ``gradmodes.claims.autocast``: autocasts that behave otherwise."""

from __future__ import annotations

import contextlib

import pytest
import torch

from counterfactuals import counterfactual

REAL = torch.autocast


def _no_autocast(patch: pytest.MonkeyPatch) -> None:
    """``torch.autocast`` that casts nothing (a backend without CPU autocast)."""
    patch.setattr(torch, "autocast", lambda *args, **kwargs: contextlib.nullcontext())


def _no_cache(patch: pytest.MonkeyPatch) -> None:
    """Autocast regions with the weight cache off, as ``cache_enabled=False`` makes them."""
    patch.setattr(
        torch, "autocast", lambda *args, **kwargs: REAL(*args, **{**kwargs, "cache_enabled": False})
    )


@counterfactual("amp.dtypes", "CPU autocast casts nothing")
def _(patch: pytest.MonkeyPatch) -> None:
    _no_autocast(patch)


@counterfactual("amp.saved", "CPU autocast casts nothing")
def _(patch: pytest.MonkeyPatch) -> None:
    _no_autocast(patch)


@counterfactual("amp.cache", "autocast caches no weight copy")
def _(patch: pytest.MonkeyPatch) -> None:
    _no_cache(patch)


@counterfactual("amp.cache", "inference_mode() is no_grad(), so its casts are cached")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch, "inference_mode", lambda *args: torch.no_grad())


@counterfactual("amp.cache-no-grad", "autocast caches no weight copy")
def _(patch: pytest.MonkeyPatch) -> None:
    _no_cache(patch)


@counterfactual("amp.cache", "cache_enabled=False is ignored: the cache is always on")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(
        torch, "autocast", lambda *args, **kwargs: REAL(*args, **{**kwargs, "cache_enabled": True})
    )
