"""Counterfactuals of ``gradmodes.claims.checkpoint``: checkpoints that behave otherwise."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
import torch.utils.checkpoint

from counterfactuals import counterfactual

REAL = torch.utils.checkpoint.checkpoint


def _checkpoint_with(patch: pytest.MonkeyPatch, **forced: Any) -> None:
    """``checkpoint`` with some of its arguments forced to other values."""

    def checkpoint(function: Any, *args: Any, **kwargs: Any) -> Any:
        return REAL(function, *args, **{**kwargs, **forced})

    patch.setattr(torch.utils.checkpoint, "checkpoint", checkpoint)


def _no_recomputation(patch: pytest.MonkeyPatch) -> None:
    """``checkpoint`` that just calls the function: it keeps everything, recomputes nothing."""
    patch.setattr(
        torch.utils.checkpoint, "checkpoint", lambda function, *args, **kwargs: function(*args)
    )


@counterfactual("ckpt.reentrant-frozen-input", "the reentrant variant handles inputs without grad")
def _(patch: pytest.MonkeyPatch) -> None:
    _checkpoint_with(patch, use_reentrant=False)


@counterfactual("ckpt.non-reentrant-frozen-input", "use_reentrant=False runs the reentrant variant")
def _(patch: pytest.MonkeyPatch) -> None:
    _checkpoint_with(patch, use_reentrant=True)


@counterfactual("ckpt.default", "a release whose default is use_reentrant=False, silently")
def _(patch: pytest.MonkeyPatch) -> None:
    def checkpoint(function: Any, *args: Any, use_reentrant: bool = False, **kwargs: Any) -> Any:
        return REAL(function, *args, use_reentrant=use_reentrant, **kwargs)

    patch.setattr(torch.utils.checkpoint, "checkpoint", checkpoint)


@counterfactual("ckpt.frozen-layers", "checkpoint cuts the gradient to its inputs")
def _(patch: pytest.MonkeyPatch) -> None:
    def checkpoint(function: Any, *args: Any, **kwargs: Any) -> Any:
        detached = [a.detach() if isinstance(a, torch.Tensor) else a for a in args]
        return REAL(function, *detached, **kwargs)

    patch.setattr(torch.utils.checkpoint, "checkpoint", checkpoint)


@counterfactual("ckpt.recompute", "checkpoint keeps the activations and recomputes nothing")
def _(patch: pytest.MonkeyPatch) -> None:
    _no_recomputation(patch)


@counterfactual("ckpt.recompute", "the non-reentrant recomputation runs to the end (no early stop)")
def _(patch: pytest.MonkeyPatch) -> None:
    def checkpoint(function: Any, *args: Any, **kwargs: Any) -> Any:
        with torch.utils.checkpoint.set_checkpoint_early_stop(False):
            return REAL(function, *args, **kwargs)

    patch.setattr(torch.utils.checkpoint, "checkpoint", checkpoint)


@counterfactual("ckpt.memory", "checkpoint keeps the activations and recomputes nothing")
def _(patch: pytest.MonkeyPatch) -> None:
    _no_recomputation(patch)


@counterfactual("ckpt.dropout-rng", "the recomputation never restores the RNG state")
def _(patch: pytest.MonkeyPatch) -> None:
    _checkpoint_with(patch, preserve_rng_state=False)


@counterfactual("ckpt.batchnorm-twice", "checkpoint runs the function once, recomputing nothing")
def _(patch: pytest.MonkeyPatch) -> None:
    _no_recomputation(patch)


@counterfactual("ckpt.mode-switch", "checkpoint keeps the forward's activations for backward")
def _(patch: pytest.MonkeyPatch) -> None:
    _no_recomputation(patch)


@counterfactual("ckpt.no-grad", "checkpoint turns gradients on for its function")
def _(patch: pytest.MonkeyPatch) -> None:
    def checkpoint(function: Any, *args: Any, **kwargs: Any) -> Any:
        with torch.enable_grad():
            return REAL(function, *args, **kwargs)

    patch.setattr(torch.utils.checkpoint, "checkpoint", checkpoint)


@counterfactual("ckpt.no-grad", "the reentrant variant checks its inputs only with grad on")
def _(patch: pytest.MonkeyPatch) -> None:
    def checkpoint(function: Any, *args: Any, **kwargs: Any) -> Any:
        if torch.is_grad_enabled():
            return REAL(function, *args, **kwargs)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="None of the inputs")
            return REAL(function, *args, **kwargs)

    patch.setattr(torch.utils.checkpoint, "checkpoint", checkpoint)
