"""Counterfactuals of ``gradmodes.claims.ddp``: DistributedDataParallel that behaves otherwise.

The claims' workers are forked from the process that applies the patch, so they run with
the patched torch too.
"""

from __future__ import annotations

from typing import Any

import pytest
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from counterfactuals import counterfactual

REAL_INIT = DistributedDataParallel.__init__


def _registers_every_parameter(patch: pytest.MonkeyPatch) -> None:
    """DDP that puts every parameter in its reducer, whether it requires grad or not."""

    def init(self: DistributedDataParallel, module: nn.Module, *args: Any, **kwargs: Any) -> None:
        flags = [(p, p.requires_grad) for p in module.parameters()]
        for p, _ in flags:
            p.requires_grad_(True)
        try:
            REAL_INIT(self, module, *args, **kwargs)
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)

    patch.setattr(DistributedDataParallel, "__init__", init)


def _find_unused_parameters(patch: pytest.MonkeyPatch, value: bool) -> None:
    def init(self: DistributedDataParallel, module: nn.Module, *args: Any, **kwargs: Any) -> None:
        REAL_INIT(self, module, *args, **{**kwargs, "find_unused_parameters": value})

    patch.setattr(DistributedDataParallel, "__init__", init)


@counterfactual("ddp.freeze-before", "DDP registers frozen parameters with its reducer too")
def _(patch: pytest.MonkeyPatch) -> None:
    _registers_every_parameter(patch)


@counterfactual("ddp.freeze-after", "DDP looks for unused parameters by default")
def _(patch: pytest.MonkeyPatch) -> None:
    _find_unused_parameters(patch, True)


@counterfactual("ddp.find-unused", "find_unused_parameters=True is ignored")
def _(patch: pytest.MonkeyPatch) -> None:
    _find_unused_parameters(patch, False)


@counterfactual("ddp.unfreeze-after", "DDP registers frozen parameters with its reducer too")
def _(patch: pytest.MonkeyPatch) -> None:
    _registers_every_parameter(patch)


@counterfactual("ddp.nothing-trainable", "DDP wraps a module with nothing to train")
def _(patch: pytest.MonkeyPatch) -> None:
    _registers_every_parameter(patch)


@counterfactual("ddp.syncbn", "SyncBatchNorm falls back to local statistics on CPU")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(nn.SyncBatchNorm, "forward", nn.modules.batchnorm._BatchNorm.forward)


@counterfactual("ddp.buffers", "DDP never broadcasts buffers")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(DistributedDataParallel, "_sync_buffers", lambda self: None)


@counterfactual("ddp.rewrap", "DDP keeps the parameter set of a module's first wrapping")
def _(patch: pytest.MonkeyPatch) -> None:
    first: dict[int, list[bool]] = {}

    def init(self: DistributedDataParallel, module: nn.Module, *args: Any, **kwargs: Any) -> None:
        params = list(module.parameters())
        now = [p.requires_grad for p in params]
        kept = first.setdefault(id(module), now)
        for p, flag in zip(params, kept, strict=True):
            p.requires_grad_(flag)
        try:
            REAL_INIT(self, module, *args, **kwargs)
        finally:
            for p, flag in zip(params, now, strict=True):
                p.requires_grad_(flag)

    patch.setattr(DistributedDataParallel, "__init__", init)


@counterfactual("ddp.buffers", "DDP broadcasts buffers before every forward")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(
        DistributedDataParallel,
        "will_sync_module_buffers",
        lambda self: self.forward_sync_buffers and len(self.modules_buffers) > 0,
    )
