"""Claims stated by the census of ``torch.nn`` (issue 10 topic 5): which module classes
``eval()`` changes, measured over every class ``torch.nn`` exports (:mod:`gradmodes.census`).

Each statement lists what the census measured; the check runs the census again and
compares. The lists below are the statements' source, so a statement and its check
cannot drift apart.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from gradmodes.census import (
    SKIPPED,
    SPECS,
    CensusRow,
    Spec,
    census,
    measure,
    module_classes,
    randn,
)
from gradmodes.census import training_functions as _training_functions
from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim

__all__ = [
    "CHANGE_OUTPUT",
    "GRAD_MODE_CHANGES_EVAL",
    "LSTMS",
    "RANDOM_EVAL",
    "RANDOM_TRAIN",
    "TRAINING_DEFAULTS",
    "UPDATE_BUFFERS",
]

_LAYER = "TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)"
_DECODER_LAYER = "TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True)"
_TRANSFORMER = (
    "Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, "
    "dim_feedforward=16, batch_first=True)"
)
_TRANSFORMERS = (
    _LAYER,
    f"TransformerEncoder({_LAYER}, num_layers=2)",
    _DECODER_LAYER,
    f"TransformerDecoder({_DECODER_LAYER}, num_layers=2)",
    _TRANSFORMER,
)
_DROPOUTS = (
    "Dropout()",
    "Dropout1d()",
    "Dropout2d()",
    "Dropout3d()",
    "AlphaDropout()",
    "FeatureAlphaDropout()",
    "RNN(4, 5, num_layers=2, dropout=0.5)",
    "LSTM(4, 5, num_layers=2, dropout=0.5)",
    "GRU(4, 5, num_layers=2, dropout=0.5)",
    "MultiheadAttention(8, 2, dropout=0.5, batch_first=True)",
)
_STATISTICS = (
    "BatchNorm1d(3)",
    "BatchNorm2d(3)",
    "BatchNorm3d(3)",
    "LazyBatchNorm1d()",
    "LazyBatchNorm2d()",
    "LazyBatchNorm3d()",
    "SyncBatchNorm(3)",
    "InstanceNorm1d(3, track_running_stats=True)",
    "InstanceNorm2d(3, track_running_stats=True)",
    "InstanceNorm3d(3, track_running_stats=True)",
    "LazyInstanceNorm1d()",
    "LazyInstanceNorm2d()",
    "LazyInstanceNorm3d()",
)
_FRACTIONAL = ("FractionalMaxPool2d(2, output_size=3)", "FractionalMaxPool3d(2, output_size=3)")

CHANGE_OUTPUT: frozenset[str] = frozenset(("RReLU()", *_STATISTICS, *_DROPOUTS, *_TRANSFORMERS))
"""The configurations whose output eval mode changes."""
UPDATE_BUFFERS: frozenset[str] = frozenset(_STATISTICS)
"""The configurations that change a buffer in a train-mode forward."""
RANDOM_TRAIN: frozenset[str] = frozenset(("RReLU()", *_FRACTIONAL, *_DROPOUTS, *_TRANSFORMERS))
"""The configurations whose train-mode output depends on the random seed."""
RANDOM_EVAL: frozenset[str] = frozenset(_FRACTIONAL)
"""The configurations whose eval-mode output depends on the random seed."""
LSTMS: frozenset[str] = frozenset(spec.label for spec in SPECS if spec.name == "LSTM")
"""The census's ``LSTM`` configurations: whether ``torch.no_grad()`` changes their output in
the last bits depends on the CPU (their forward runs through oneDNN), so the claim leaves
them out and the census page prints which of them do on the machine that built it."""
GRAD_MODE_CHANGES_EVAL: frozenset[str] = frozenset(
    (
        _LAYER,
        "TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)",
        *_TRANSFORMERS[1:],
    )
)
"""The configurations other than ``LSTMS`` whose eval-mode output ``torch.no_grad()``
changes."""
TRAINING_DEFAULTS: dict[str, bool] = {
    "alpha_dropout": False,
    "batch_norm": False,
    "dropout": True,
    "dropout1d": True,
    "dropout2d": True,
    "dropout3d": True,
    "feature_alpha_dropout": False,
    "multi_head_attention_forward": True,
    "rrelu": False,
    "rrelu_": False,
}
"""The functions of ``torch.nn.functional`` with a ``training`` parameter, and its default."""


def _in_census_order(labels: frozenset[str]) -> str:
    order = [spec.label for spec in SPECS]
    return ", ".join(f"`{label}`" for label in sorted(labels, key=order.index))


def _measured(
    obs: Observer, rows: list[CensusRow], what: str, column: str, expected: frozenset[str]
) -> None:
    found = frozenset(row.label for row in rows if getattr(row, column))
    obs.expect(f"{what} ({len(found)})", sorted(found), sorted(expected))


_CLASSES = len({spec.name for spec in SPECS}) + len(SKIPPED)
_BUILT = len({spec.name for spec in SPECS})


@claim(
    "census.universe",
    f"`torch.nn` exports {_CLASSES} public `nn.Module` subclasses; the census builds and runs "
    f"{_BUILT} of them, in {len(SPECS)} configurations (some classes appear with more than "
    f"one set of arguments), and skips the other {len(SKIPPED)}: "
    f"{', '.join(f'`{name}`' for name in SKIPPED)} (base classes without a forward of their "
    "own, containers, and the `DataParallel` wrapper).",
)
@deterministic
def _census_universe(obs: Observer) -> None:
    classes = set(module_classes())
    built = {spec.name for spec in SPECS}
    obs.expect("len(module_classes())", len(classes), _CLASSES)
    obs.expect("classes neither built nor skipped", sorted(classes - built - set(SKIPPED)), [])
    obs.expect("classes both built and skipped", sorted(built & set(SKIPPED)), [])
    obs.expect("names that torch.nn does not export", sorted((built | set(SKIPPED)) - classes), [])
    bases = ("Module", "Container", "RNNBase", "RNNCellBase")
    obs.expect(
        "base classes whose forward is nn.Module.forward",
        [name for name in bases if getattr(nn, name).forward is nn.Module.forward],
        list(bases),
    )
    obs.expect("len(census())", len(census()), len(SPECS))


@claim(
    "census.output",
    f"Of the census's {len(SPECS)} configurations, exactly these {len(CHANGE_OUTPUT)} give a "
    "different output in eval mode than in train mode (same weights, input and random "
    f"seed): {_in_census_order(CHANGE_OUTPUT)}; each of the others gives the same output in "
    "both modes.",
)
@deterministic
def _census_output(obs: Observer) -> None:
    rows = census()
    _measured(obs, rows, "eval mode changes the output", "output_changes", CHANGE_OUTPUT)


@claim(
    "census.buffers",
    f"Of the census's {len(SPECS)} configurations, exactly these {len(UPDATE_BUFFERS)} change "
    f"a buffer during a forward in train mode: {_in_census_order(UPDATE_BUFFERS)}; none "
    "changes a buffer during a forward in eval mode.",
)
@deterministic
def _census_buffers(obs: Observer) -> None:
    rows = census()
    _measured(obs, rows, "a train-mode forward changes a buffer", "buffers_train", UPDATE_BUFFERS)
    _measured(obs, rows, "an eval-mode forward changes a buffer", "buffers_eval", frozenset())


@claim(
    "census.random",
    f"Of the census's {len(SPECS)} configurations, exactly these {len(RANDOM_TRAIN)} give, in "
    "train mode, an output that depends on the random seed: "
    f"{_in_census_order(RANDOM_TRAIN)}; in eval mode only {_in_census_order(RANDOM_EVAL)} do.",
)
@deterministic
def _census_random(obs: Observer) -> None:
    rows = census()
    _measured(obs, rows, "random in train mode", "random_train", RANDOM_TRAIN)
    _measured(obs, rows, "random in eval mode", "random_eval", RANDOM_EVAL)


@contextmanager
def onednn_off() -> Iterator[None]:
    """Turn oneDNN (``torch.backends.mkldnn``) off inside the block, as it was after it."""
    was = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = was


@claim(
    "census.grad-mode",
    f"Of the census's {len(SPECS)} configurations, run on one CPU thread, the "
    f"{len(SPECS) - len(LSTMS)} other than its {len(LSTMS)} `LSTM` configurations include "
    f"exactly these {len(GRAD_MODE_CHANGES_EVAL)} that give, in eval mode, an output under "
    "`torch.no_grad()` that is not bit-for-bit equal to their output with gradients enabled: "
    f"{_in_census_order(GRAD_MODE_CHANGES_EVAL)}; in train mode none of the "
    f"{len(SPECS) - len(LSTMS)} does; with oneDNN turned off "
    "(`torch.backends.mkldnn.enabled = False`), no `LSTM` configuration does either, in either "
    "mode; and in both modes no output of any configuration under `torch.no_grad()` is more "
    "than 1e-5 from its output with gradients enabled.",
)
@deterministic
def _census_grad_mode(obs: Observer) -> None:
    rows = census()
    others = [row for row in rows if row.label not in LSTMS]
    eval_column, train_column = "grad_mode_changes_eval", "grad_mode_changes_train"
    _measured(obs, others, "no_grad changes the eval output", eval_column, GRAD_MODE_CHANGES_EVAL)
    _measured(obs, others, "no_grad changes the train output", train_column, frozenset())
    # Recorded, not claimed: which LSTMs differ with oneDNN on depends on the CPU.
    lstm_rows = [row for row in rows if row.label in LSTMS]
    obs.record(
        "LSTMs whose eval output no_grad changes, oneDNN on",
        [row.label for row in lstm_rows if row.grad_mode_changes_eval],
    )
    obs.record(
        "LSTMs whose train output no_grad changes, oneDNN on",
        [row.label for row in lstm_rows if row.grad_mode_changes_train],
    )
    with onednn_off():
        lstms = census([spec for spec in SPECS if spec.label in LSTMS])
    none: frozenset[str] = frozenset()
    _measured(obs, lstms, "no_grad changes the eval output, LSTMs, oneDNN off", eval_column, none)
    _measured(obs, lstms, "no_grad changes the train output, LSTMs, oneDNN off", train_column, none)
    largest = max(row.grad_mode_difference for row in [*rows, *lstms])
    obs.record("largest |no_grad output - grad output|", largest)
    obs.expect("largest |no_grad output - grad output| <= 1e-5", largest <= 1e-5, True)


def _defaults(cls: type[nn.Module]) -> tuple[object, object]:
    parameters = inspect.signature(cls.__init__).parameters
    return parameters["affine"].default, parameters["track_running_stats"].default


@claim(
    "census.lazy-instance-norm",
    "`nn.LazyInstanceNorm1d`, `2d` and `3d` default to `affine=True` and "
    "`track_running_stats=True`, while `nn.InstanceNorm1d`, `2d` and `3d` default to `False` "
    "for both: so `LazyInstanceNorm1d()` changes its output in eval mode and updates its "
    "running statistics in train mode, and `InstanceNorm1d(3)` does neither.",
)
@deterministic
def _census_lazy_instance_norm(obs: Observer) -> None:
    for d in (1, 2, 3):
        lazy, plain = getattr(nn, f"LazyInstanceNorm{d}d"), getattr(nn, f"InstanceNorm{d}d")
        obs.expect(
            f"LazyInstanceNorm{d}d: (affine, track_running_stats)", _defaults(lazy), (True, True)
        )
        obs.expect(
            f"InstanceNorm{d}d: (affine, track_running_stats)", _defaults(plain), (False, False)
        )
    x = randn(2, 3, 8)
    for spec, expected in (
        (Spec("LazyInstanceNorm1d", inputs=x), True),
        (Spec("InstanceNorm1d", (3,), inputs=x), False),
    ):
        row = measure(spec)
        obs.expect(
            f"{row.label}: (output_changes, buffers_train)",
            (row.output_changes, row.buffers_train),
            (expected, expected),
        )


_TRUE = [name for name, default in TRAINING_DEFAULTS.items() if default]
_FALSE = [name for name, default in TRAINING_DEFAULTS.items() if not default]


@claim(
    "census.functional",
    f"Exactly these {len(TRAINING_DEFAULTS)} public functions of `torch.nn.functional` take a "
    "`training` argument (read from their signatures): its default is `True` for "
    f"{', '.join(f'`{n}`' for n in _TRUE)}, and `False` for "
    f"{', '.join(f'`{n}`' for n in _FALSE)}; called without it, each gives the output of "
    "its default, not the output of the other value.",
)
@deterministic
def _census_functional(obs: Observer) -> None:
    rows = _training_functions()
    obs.expect("{name: default}", {row.name: row.default for row in rows}, TRAINING_DEFAULTS)
    obs.expect(
        "{name: what a call without training= gives}",
        {row.name: row.acts_as for row in rows},
        TRAINING_DEFAULTS,
    )


@claim(
    "census.instance-norm-fn",
    "`F.instance_norm` has no `training` argument: with its default `use_input_stats=True` it "
    "normalises each instance with its own statistics, also when `running_mean` and "
    "`running_var` are given, and updates them; with `use_input_stats=False` it normalises "
    "with them and leaves them unchanged.",
)
@deterministic
def _census_instance_norm_fn(obs: Observer) -> None:
    obs.expect(
        "'training' in inspect.signature(F.instance_norm).parameters",
        "training" in inspect.signature(F.instance_norm).parameters,
        False,
    )
    x = torch.randn(2, 3, 8) * 2 + 1
    own = (x - x.mean(2, keepdim=True)) / (x.var(2, unbiased=False, keepdim=True) + 1e-5).sqrt()
    mean, var = torch.zeros(3), torch.ones(3)
    out = F.instance_norm(x, mean, var)
    obs.expect(
        "allclose(F.instance_norm(x, mean, var), own statistics)",
        torch.allclose(out, own, atol=1e-5),
        True,
    )
    obs.expect("running_mean updated", not torch.equal(mean, torch.zeros(3)), True)
    mean, var = torch.zeros(3), torch.ones(3)
    out = F.instance_norm(x, mean, var, use_input_stats=False)
    obs.expect(
        "use_input_stats=False: allclose(out, (x - 0) / sqrt(1 + eps))",
        torch.allclose(out, x / (1 + 1e-5) ** 0.5, atol=1e-5),
        True,
    )
    obs.expect(
        "use_input_stats=False: running statistics unchanged",
        torch.equal(mean, torch.zeros(3)) and torch.equal(var, torch.ones(3)),
        True,
    )
