"""Counterfactual torches for the claims of ``gradmodes/claims/attention.py``."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from counterfactuals import counterfactual


def _no_fast_path(patch: pytest.MonkeyPatch) -> None:
    """A release whose fast paths are off by default (as with set_fastpath_enabled(False))."""
    patch.setattr(torch.backends.mha, "get_fastpath_enabled", lambda: False)


def _fast_path_switch_ignored(patch: pytest.MonkeyPatch) -> None:
    """A release in which ``set_fastpath_enabled(False)`` no longer turns the fast paths off."""
    patch.setattr(torch.backends.mha, "get_fastpath_enabled", lambda: True)


def _no_nested_tensors(patch: pytest.MonkeyPatch) -> None:
    """A release whose ``TransformerEncoder`` defaults to ``enable_nested_tensor=False``."""
    real = nn.TransformerEncoder.__init__

    def init(self: nn.TransformerEncoder, *args: Any, **kwargs: Any) -> None:
        kwargs["enable_nested_tensor"] = False
        real(self, *args, **kwargs)

    patch.setattr(nn.TransformerEncoder, "__init__", init)


for claim_id in ("attn.mha-path", "attn.layer-path", "attn.rounding"):
    counterfactual(claim_id, "the fast paths are off by default")(_no_fast_path)

for claim_id in ("attn.mha-conditions", "attn.layer-conditions"):
    counterfactual(claim_id, "set_fastpath_enabled(False) is ignored")(_fast_path_switch_ignored)


@counterfactual("attn.mha-conditions", "CPU autocast also turns the fast path off")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.is_autocast_enabled

    def enabled(*args: Any) -> bool:
        return bool(real(*args) or (not args and real("cpu")))

    patch.setattr(torch, "is_autocast_enabled", enabled)


@counterfactual("attn.layer-conditions", "forward hooks no longer turn the layer's fast path off")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.TransformerEncoderLayer.forward

    def forward(self: nn.TransformerEncoderLayer, *args: Any, **kwargs: Any) -> Any:
        hooks = [(m, m._forward_hooks, m._forward_pre_hooks) for m in self.modules()]
        for m, _, _ in hooks:  # hide the hooks from the fast-path test, then put them back
            m._forward_hooks, m._forward_pre_hooks = {}, {}  # type: ignore[assignment]
        try:
            return real(self, *args, **kwargs)
        finally:
            for m, forward_hooks, pre_hooks in hooks:
                m._forward_hooks, m._forward_pre_hooks = forward_hooks, pre_hooks

    patch.setattr(nn.TransformerEncoderLayer, "forward", forward)


for claim_id in ("attn.padding-zeros", "attn.partial-freeze"):
    counterfactual(claim_id, "TransformerEncoder never converts to a nested tensor")(
        _no_nested_tensors
    )


@counterfactual("attn.mha-dropout", "multi_head_attention_forward drops in eval mode too")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.multi_head_attention_forward

    def dropping(*args: Any, **kwargs: Any) -> Any:
        kwargs["training"] = True
        return real(*args, **kwargs)

    patch.setattr(F, "multi_head_attention_forward", dropping)


@counterfactual("attn.sdpa-dropout", "scaled_dot_product_attention ignores dropout_p")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.scaled_dot_product_attention

    def no_dropout(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("dropout_p", None)
        return real(*args, **kwargs)

    patch.setattr(F, "scaled_dot_product_attention", no_dropout)


@counterfactual("attn.sdpa-path", "a CPU build without the fused attention kernel")
def _(patch: pytest.MonkeyPatch) -> None:
    def math(
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        *args: Any,
        dropout_p: float = 0.0,
        **kwargs: Any,
    ) -> torch.Tensor:
        weights = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(-1)
        return F.dropout(weights, dropout_p) @ v

    patch.setattr(F, "scaled_dot_product_attention", math)


@counterfactual("attn.encoder-autocast", "the transformer fast paths are off under autocast")
def _(patch: pytest.MonkeyPatch) -> None:
    real = torch.backends.mha.get_fastpath_enabled
    patch.setattr(
        torch.backends.mha,
        "get_fastpath_enabled",
        lambda: real() and not torch.is_autocast_enabled("cpu"),
    )
