"""Counterfactual torches for the claims of ``gradmodes/claims/census.py``."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from counterfactuals import counterfactual


@counterfactual("census.universe", "torch.nn exports a new module class")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(nn, "ScaleNorm", type("ScaleNorm", (nn.Module,), {}), raising=False)


@counterfactual("census.output", "Dropout keeps dropping in eval mode")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.dropout

    def dropping(
        input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
    ) -> torch.Tensor:
        return real(input, p, True, inplace)

    patch.setattr(F, "dropout", dropping)


@counterfactual("census.buffers", "BatchNorm updates its running statistics in eval mode too")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.batch_norm

    def updating(
        input: torch.Tensor,
        running_mean: Any,
        running_var: Any,
        weight: Any = None,
        bias: Any = None,
        training: bool = False,
        momentum: float = 0.1,
        eps: float = 1e-5,
    ) -> torch.Tensor:
        return real(input, running_mean, running_var, weight, bias, True, momentum, eps)

    patch.setattr(F, "batch_norm", updating)


@counterfactual("census.random", "FractionalMaxPool2d uses fixed pooling regions in eval mode")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.FractionalMaxPool2d.forward

    def forward(self: nn.FractionalMaxPool2d, input: torch.Tensor) -> Any:
        if self.training:
            return real(self, input)
        samples = torch.full((input.shape[0], input.shape[1], 2), 0.5)
        return F.fractional_max_pool2d(
            input,
            self.kernel_size,
            self.output_size,
            self.output_ratio,
            self.return_indices,
            _random_samples=samples,
        )

    patch.setattr(nn.FractionalMaxPool2d, "forward", forward)


@counterfactual("census.grad-mode", "the fast paths are off by default")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch.backends.mha, "get_fastpath_enabled", lambda: False)


def _last_bit_under_no_grad(patch: pytest.MonkeyPatch, rnn: type[nn.RNNBase]) -> None:
    """``rnn``'s output moves by one ulp under ``torch.no_grad()``, whatever computes it."""
    real = rnn.forward

    def forward(self: nn.RNNBase, *args: Any, **kwargs: Any) -> Any:
        output, state = real(self, *args, **kwargs)
        if torch.is_grad_enabled():
            return output, state
        return torch.nextafter(output, output + 1), state

    patch.setattr(rnn, "forward", forward)


@counterfactual("census.grad-mode", "no_grad changes an LSTM's output without oneDNN too")
def _(patch: pytest.MonkeyPatch) -> None:
    _last_bit_under_no_grad(patch, nn.LSTM)


@counterfactual("census.grad-mode", "no_grad changes a GRU's output in the last bit")
def _(patch: pytest.MonkeyPatch) -> None:
    _last_bit_under_no_grad(patch, nn.GRU)


@counterfactual("census.grad-mode", "no_grad moves an eval-mode encoder layer's output by 1e-4")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.TransformerEncoderLayer.forward

    def forward(self: nn.TransformerEncoderLayer, *args: Any, **kwargs: Any) -> Any:
        output = real(self, *args, **kwargs)
        return output if self.training or torch.is_grad_enabled() else output + 1e-4

    patch.setattr(nn.TransformerEncoderLayer, "forward", forward)


@counterfactual("census.lazy-instance-norm", "LazyInstanceNorm1d defaults as InstanceNorm1d")
def _(patch: pytest.MonkeyPatch) -> None:
    real = nn.LazyInstanceNorm1d.__init__

    def init(
        self: nn.Module,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        real(self, eps, momentum, affine, track_running_stats, device, dtype)

    patch.setattr(nn.LazyInstanceNorm1d, "__init__", init)


@counterfactual("census.functional", "F.rrelu defaults to training=True")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.rrelu

    def rrelu(
        input: torch.Tensor,
        lower: float = 1.0 / 8,
        upper: float = 1.0 / 3,
        training: bool = True,
        inplace: bool = False,
    ) -> torch.Tensor:
        return real(input, lower, upper, training, inplace)

    patch.setattr(F, "rrelu", rrelu)


@counterfactual("census.instance-norm-fn", "F.instance_norm defaults to the running statistics")
def _(patch: pytest.MonkeyPatch) -> None:
    real = F.instance_norm

    def instance_norm(
        input: torch.Tensor,
        running_mean: Any = None,
        running_var: Any = None,
        weight: Any = None,
        bias: Any = None,
        use_input_stats: bool = False,
        momentum: float = 0.1,
        eps: float = 1e-5,
    ) -> torch.Tensor:
        return real(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)

    patch.setattr(F, "instance_norm", instance_norm)
