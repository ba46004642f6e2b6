"""The behaviour matrix: train/eval x grad mode x trainable/frozen, every cell measured.

>>> rows = behaviour_matrix()
>>> len(rows)
12
>>> print(format_matrix(rows[:2]))
training  grad_mode  requires_grad  dropout_active  bn_stats_updated  output_requires_grad  saved_bytes  saved_storage_bytes  backward_ok
True      grad       True           True            True              True                  1520         1360                 True
True      grad       False          True            True              False                 0            0                    False
"""  # noqa: E501 (the table is wider than a code line)

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, fields

import torch
from torch import nn

from gradmodes._checks import require_module
from gradmodes._rng import seeded
from gradmodes.freeze import freeze, unfreeze
from gradmodes.models import SimpleModel
from gradmodes.modes import GRAD_MODES, GradMode
from gradmodes.probes import observe

__all__ = ["MatrixRow", "behaviour_matrix", "format_matrix"]


@dataclass(frozen=True)
class MatrixRow:
    """One cell of the matrix: a setting (first three fields) and what ``observe()`` saw.

    ``dropout_active`` / ``bn_stats_updated`` are ``None`` for a model without Dropout /
    running statistics. The input never requires grad.
    """

    training: bool
    """``model.training`` (``model.train()`` or ``model.eval()``)."""
    grad_mode: GradMode
    requires_grad: bool
    """Whether all parameters are trainable (``True``) or all frozen (``False``)."""
    dropout_active: bool | None
    bn_stats_updated: bool | None
    output_requires_grad: bool
    saved_bytes: int
    """Bytes referenced by the tensors saved for backward (:attr:`Observation.saved_bytes`)."""
    saved_storage_bytes: int
    """Distinct storage bytes those tensors keep alive beyond the model's parameters and
    buffers and the input (:attr:`Observation.saved_storage_bytes`)."""
    backward_ok: bool


def behaviour_matrix(
    model_factory: Callable[[], nn.Module] | None = None,
    inputs: torch.Tensor | None = None,
    *,
    seed: int = 0,
) -> list[MatrixRow]:
    """Measure {train, eval} x {grad, no_grad, inference_mode} x {trainable, frozen}.

    Each of the 12 cells builds a fresh model with ``model_factory`` (default:
    :class:`~gradmodes.models.SimpleModel`), sets its mode and ``requires_grad``, and
    runs :func:`~gradmodes.observe` with ``backward=True`` on ``inputs``
    (default: a seeded ``(16, 10)`` batch for ``SimpleModel``; required with a
    ``model_factory``). Each cell runs with torch's RNG seeded to ``seed``; the
    caller's RNG state is left as it was. The factory must return a new model each
    call, on the device of ``inputs``.

    >>> from gradmodes.models import mlp
    >>> rows = behaviour_matrix(lambda: mlp(4), torch.randn(2, 4))
    >>> [(r.grad_mode, r.saved_bytes) for r in rows if r.training and r.requires_grad]
    [('grad', 160), ('no_grad', 0), ('inference_mode', 0)]
    >>> [r.saved_storage_bytes for r in rows if r.training and r.requires_grad]
    [32, 0, 0]
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}: {seed!r}")
    if model_factory is None:
        model_factory = SimpleModel
        if inputs is None:
            with seeded(seed):
                inputs = torch.randn(16, 10)
    elif isinstance(model_factory, nn.Module):
        raise TypeError(
            "model_factory must build a new model for each cell (e.g. the model's class or "
            f"a lambda), got the model instance {type(model_factory).__name__}"
        )
    elif not callable(model_factory):
        raise TypeError(
            f"model_factory must be a callable returning an nn.Module, got {model_factory!r}"
        )
    if inputs is None:
        raise ValueError("behaviour_matrix() needs inputs for a custom model_factory")
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a torch.Tensor, got {type(inputs).__name__}")

    rows = []
    for training in (True, False):
        for grad_mode in GRAD_MODES:
            for requires_grad in (True, False):
                with seeded(seed, inputs.device):
                    model = require_module(model_factory(), "behaviour_matrix")
                    model.train(training)
                    (unfreeze if requires_grad else freeze)(model)
                    seen = observe(model, inputs, grad_mode=grad_mode, backward=True)
                rows.append(
                    MatrixRow(
                        training=training,
                        grad_mode=grad_mode,
                        requires_grad=requires_grad,
                        dropout_active=seen.dropout_active,
                        bn_stats_updated=seen.bn_stats_updated,
                        output_requires_grad=seen.output_requires_grad,
                        saved_bytes=seen.saved_bytes,
                        saved_storage_bytes=seen.saved_storage_bytes,
                        backward_ok=bool(seen.backward_ok),
                    )
                )
    return rows


def format_matrix(rows: Sequence[MatrixRow]) -> str:
    """A plain-text table of ``rows``: field names as headers, ``-`` for ``None``.

    Every header and value is a code name, ``True``/``False`` or a number, so the
    table reads the same in any language.

    >>> row = MatrixRow(False, "no_grad", True, None, False, False, 0, 0, False)
    >>> header, line = format_matrix([row]).splitlines()
    >>> header.split()[:3]
    ['training', 'grad_mode', 'requires_grad']
    >>> line.split()
    ['False', 'no_grad', 'True', '-', 'False', 'False', '0', '0', 'False']
    """
    for row in rows:
        if not isinstance(row, MatrixRow):
            raise TypeError(
                f"format_matrix() needs the rows of behaviour_matrix(), got {type(row).__name__}"
            )
    header = tuple(field.name for field in fields(MatrixRow))
    body = [tuple("-" if value is None else str(value) for value in astuple(row)) for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *body]
    )
