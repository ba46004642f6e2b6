"""A census of ``torch.nn``: which module classes ``eval()`` changes, measured.

:func:`module_classes` lists every public ``nn.Module`` subclass that ``torch.nn``
exports. ``SPECS`` says how to build each one with small arguments and what to
feed it (a class can appear more than once, e.g. ``LSTM`` with and without dropout);
``SKIPPED`` names the classes that are not instantiated, with the reason.
:func:`census` builds and runs every spec in train and eval mode, with gradients on
and off, and reports what changed.

>>> row = measure(Spec("Dropout", inputs=randn(4, 6)))
>>> row.label, row.output_changes, row.random_train, row.random_eval
('Dropout()', True, True, False)
>>> row = measure(Spec("BatchNorm1d", (3,), inputs=randn(4, 3)))
>>> row.output_changes, row.buffers_train, row.buffers_eval
(True, True, False)

The functional forms: :func:`training_functions` lists the functions of
``torch.nn.functional`` that take a ``training`` argument, with its default.

>>> {row.name: row.default for row in training_functions()}["dropout"]
True
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gradmodes._rng import seeded

__all__ = [
    "FUNCTION_CALLS",
    "SKIPPED",
    "SPECS",
    "CensusRow",
    "FunctionRow",
    "Spec",
    "census",
    "format_census",
    "ints",
    "measure",
    "module_classes",
    "rand",
    "randn",
    "training_functions",
]

Inputs = Callable[[], tuple[object, ...]]
"""Makes a fresh tuple of a module's forward arguments (called under a fixed seed)."""


def randn(*shape: int, count: int = 1) -> Inputs:
    """``count`` fresh standard-normal tensors of ``shape``.

    >>> [tuple(t.shape) for t in randn(2, 3, count=2)()]
    [(2, 3), (2, 3)]
    """
    _check_shape(shape, "randn")
    return lambda: tuple(torch.randn(shape) for _ in range(count))


def rand(*shape: int, count: int = 1) -> Inputs:
    """``count`` fresh tensors of ``shape``, uniform in [0.05, 0.95) (probabilities).

    >>> bool(((rand(5)()[0] > 0) & (rand(5)()[0] < 1)).all())
    True
    """
    _check_shape(shape, "rand")
    return lambda: tuple(torch.rand(shape) * 0.9 + 0.05 for _ in range(count))


def ints(high: int, *shape: int) -> Inputs:
    """One fresh int64 tensor of ``shape`` with values in ``[0, high)`` (indices, classes).

    >>> t = ints(10, 2, 3)()[0]
    >>> t.dtype, bool((t >= 0).all() and (t < 10).all())
    (torch.int64, True)
    """
    _check_shape((high, *shape), "ints")
    return lambda: (torch.randint(high, shape),)


def _check_shape(numbers: Sequence[object], function: str) -> None:
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise TypeError(f"{function}() takes sizes as non-negative ints, got {tuple(numbers)!r}")


def _both(*parts: Inputs) -> Inputs:
    """The arguments of several input makers, one after the other."""
    return lambda: tuple(value for part in parts for value in part())


@dataclass(frozen=True)
class Spec:
    """How the census builds one ``torch.nn`` module and what it passes to ``forward``.

    ``args`` and ``kwargs`` go to the class named ``name``; a ``Spec`` among them is
    built first (a ``TransformerEncoder`` takes a layer). ``inputs`` makes the forward
    arguments.

    >>> Spec("LSTM", (4, 5), {"num_layers": 2, "dropout": 0.5}).label
    'LSTM(4, 5, num_layers=2, dropout=0.5)'
    >>> Spec("TransformerEncoder", (Spec("Linear", (2, 2)),), {"num_layers": 1}).label
    'TransformerEncoder(Linear(2, 2), num_layers=1)'
    """

    name: str
    args: tuple[object, ...] = ()
    kwargs: Mapping[str, object] = field(default_factory=dict)
    inputs: Inputs = field(default=lambda: (), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not isinstance(getattr(nn, self.name, None), type):
            raise ValueError(f"Spec needs the name of a class in torch.nn, got {self.name!r}")
        if not isinstance(self.args, tuple) or not isinstance(self.kwargs, Mapping):
            raise TypeError(f"Spec({self.name!r}) takes args as a tuple and kwargs as a mapping")
        if not callable(self.inputs):
            raise TypeError(f"Spec({self.name!r}) takes inputs as a function, e.g. randn(4, 6)")
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))

    @property
    def label(self) -> str:
        """The constructor call, as code."""
        parts = [_show(a) for a in self.args] + [f"{k}={_show(v)}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"

    def build(self) -> nn.Module:
        """A new module, built as :attr:`label` says."""
        args = [a.build() if isinstance(a, Spec) else a for a in self.args]
        kwargs = {k: v.build() if isinstance(v, Spec) else v for k, v in self.kwargs.items()}
        module = getattr(nn, self.name)(*args, **kwargs)
        if not isinstance(module, nn.Module):
            raise TypeError(f"{self.label} did not build an nn.Module")
        return module


def _show(value: object) -> str:
    return value.label if isinstance(value, Spec) else repr(value)


def _pooled(dims: int) -> Inputs:
    """The ``(output, indices)`` of a 2x max-pool: what ``MaxUnpool{dims}d`` takes."""
    pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[dims - 1]
    shape = (2, 3) + (4,) * dims
    return lambda: tuple(pool(torch.randn(shape), 2, return_indices=True))


def _ctc() -> tuple[object, ...]:
    log_probs = torch.randn(6, 2, 5).log_softmax(2)  # (time, batch, classes)
    targets = torch.randint(1, 5, (2, 3))
    return log_probs, targets, torch.full((2,), 6), torch.full((2,), 3)


def _multilabel() -> tuple[object, ...]:
    target = torch.randint(0, 5, (4, 5))
    target[:, 2:] = -1  # each row: two labels, then -1
    return torch.randn(4, 5), target


def _signs(*shape: int) -> Inputs:
    return lambda: (torch.randn(shape).sign(),)


def _log_probs(*shape: int) -> Inputs:
    return lambda: (torch.randn(shape).log_softmax(1),)


_SEQ = randn(5, 2, 4)  # (time, batch, features) for the recurrent layers
_TOKENS = randn(2, 5, 8)  # (batch, time, d_model) with batch_first=True
_ENCODER_LAYER = Spec(
    "TransformerEncoderLayer", (8, 2), {"dim_feedforward": 16, "batch_first": True}
)
_DECODER_LAYER = Spec(
    "TransformerDecoderLayer", (8, 2), {"dim_feedforward": 16, "batch_first": True}
)


_ELEMENTWISE = [
    "CELU",
    "ELU",
    "GELU",
    "GLU",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "Identity",
    "LeakyReLU",
    "LogSigmoid",
    "Mish",
    "PReLU",
    "RReLU",
    "ReLU",
    "ReLU6",
    "SELU",
    "SiLU",
    "Sigmoid",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Tanh",
    "Tanhshrink",
    "Flatten",
]
"""Layers built without arguments and called on a (4, 6) input."""


def _self_attention() -> tuple[object, ...]:
    x = torch.randn(2, 5, 8)
    return x, x, x


def _specs() -> tuple[Spec, ...]:
    """The census's specs for the classes this torch has (an older torch lacks some)."""

    def S(name: str, *args: Any, **kwargs: Any) -> Spec | None:
        return Spec(name, *args, **kwargs) if isinstance(getattr(nn, name, None), type) else None

    x46, img, vol = randn(4, 6), randn(2, 3, 6, 6), randn(2, 3, 4, 4, 4)
    seq3 = randn(2, 3, 8)
    pairs, probs = randn(4, 6, count=2), _both(rand(4, 6), rand(4, 6))
    specs = [
        # Activations and other elementwise or shape layers.
        *(S(name, inputs=x46) for name in _ELEMENTWISE),
        S("Threshold", (0.1, 0.0), inputs=x46),
        S("Softmax", kwargs={"dim": 1}, inputs=x46),
        S("Softmin", kwargs={"dim": 1}, inputs=x46),
        S("LogSoftmax", kwargs={"dim": 1}, inputs=x46),
        S("Softmax2d", inputs=img),
        S("Unflatten", (1, (2, 3)), inputs=x46),
        S("ChannelShuffle", (3,), inputs=randn(2, 6, 3, 3)),
        S("PixelShuffle", (2,), inputs=randn(1, 4, 3, 3)),
        S("PixelUnshuffle", (2,), inputs=randn(1, 1, 4, 4)),
        S("Upsample", kwargs={"scale_factor": 2.0}, inputs=img),
        S("UpsamplingNearest2d", kwargs={"scale_factor": 2.0}, inputs=img),
        S("UpsamplingBilinear2d", kwargs={"scale_factor": 2.0}, inputs=img),
        S("Fold", kwargs={"output_size": (4, 4), "kernel_size": 2}, inputs=randn(1, 12, 9)),
        S("Unfold", kwargs={"kernel_size": 2}, inputs=randn(1, 3, 4, 4)),
        S("CosineSimilarity", inputs=pairs),
        S("PairwiseDistance", inputs=pairs),
        # Linear, convolution, embedding.
        S("Linear", (6, 3), inputs=x46),
        S("LazyLinear", (3,), inputs=x46),
        S("Bilinear", (6, 5, 3), inputs=_both(randn(4, 6), randn(4, 5))),
        S("Conv1d", (3, 4, 3), inputs=seq3),
        S("Conv2d", (3, 4, 3), inputs=img),
        S("Conv3d", (3, 4, 3), inputs=vol),
        S("ConvTranspose1d", (3, 4, 3), inputs=seq3),
        S("ConvTranspose2d", (3, 4, 3), inputs=img),
        S("ConvTranspose3d", (3, 4, 3), inputs=vol),
        S("LazyConv1d", (4, 3), inputs=seq3),
        S("LazyConv2d", (4, 3), inputs=img),
        S("LazyConv3d", (4, 3), inputs=vol),
        S("LazyConvTranspose1d", (4, 3), inputs=seq3),
        S("LazyConvTranspose2d", (4, 3), inputs=img),
        S("LazyConvTranspose3d", (4, 3), inputs=vol),
        S("Embedding", (10, 3), inputs=ints(10, 4, 5)),
        S("EmbeddingBag", (10, 3), inputs=ints(10, 4, 5)),
        # Pooling and padding.
        *(
            S(f"{kind}{d}d", (2,), inputs=(seq3, img, vol)[d - 1])
            for kind in ("AvgPool", "MaxPool", "AdaptiveAvgPool", "AdaptiveMaxPool")
            for d in (1, 2, 3)
        ),
        *(S(f"LPPool{d}d", (2, 2), inputs=(seq3, img, vol)[d - 1]) for d in (1, 2, 3)),
        *(S(f"MaxUnpool{d}d", (2,), inputs=_pooled(d)) for d in (1, 2, 3)),
        # 7 -> 3 with a 2-wide window: the pooling regions depend on random samples.
        S("FractionalMaxPool2d", (2,), {"output_size": 3}, inputs=randn(2, 3, 7, 7)),
        S("FractionalMaxPool3d", (2,), {"output_size": 3}, inputs=randn(1, 2, 7, 7, 7)),
        *(
            S(f"{kind}{d}d", (1,), inputs=(seq3, img, vol)[d - 1])
            for kind in ("CircularPad", "ReflectionPad", "ReplicationPad", "ZeroPad")
            for d in (1, 2, 3)
        ),
        *(S(f"ConstantPad{d}d", (1, 0.5), inputs=(seq3, img, vol)[d - 1]) for d in (1, 2, 3)),
        # Normalization.
        S("BatchNorm1d", (3,), inputs=randn(4, 3)),
        S("BatchNorm1d", (3,), {"track_running_stats": False}, inputs=randn(4, 3)),
        S("BatchNorm2d", (3,), inputs=img),
        S("BatchNorm3d", (3,), inputs=vol),
        S("LazyBatchNorm1d", inputs=randn(4, 3)),
        S("LazyBatchNorm2d", inputs=img),
        S("LazyBatchNorm3d", inputs=vol),
        S("SyncBatchNorm", (3,), inputs=seq3),
        S("InstanceNorm1d", (3,), inputs=seq3),
        S("InstanceNorm1d", (3,), {"track_running_stats": True}, inputs=seq3),
        S("InstanceNorm2d", (3,), inputs=img),
        S("InstanceNorm2d", (3,), {"track_running_stats": True}, inputs=img),
        S("InstanceNorm3d", (3,), inputs=vol),
        S("InstanceNorm3d", (3,), {"track_running_stats": True}, inputs=vol),
        S("LazyInstanceNorm1d", inputs=seq3),
        S("LazyInstanceNorm1d", kwargs={"track_running_stats": False}, inputs=seq3),
        S("LazyInstanceNorm2d", inputs=img),
        S("LazyInstanceNorm3d", inputs=vol),
        S("GroupNorm", (3, 3), inputs=seq3),
        S("LayerNorm", (6,), inputs=x46),
        S("RMSNorm", (6,), inputs=x46),
        S("LocalResponseNorm", (2,), inputs=seq3),
        S("CrossMapLRN2d", (3,), inputs=img),
        # Dropout.
        S("Dropout", inputs=x46),
        S("Dropout1d", inputs=seq3),
        S("Dropout2d", inputs=img),
        S("Dropout3d", inputs=vol),
        S("AlphaDropout", inputs=x46),
        S("FeatureAlphaDropout", inputs=img),
        # Recurrent layers: dropout applies between stacked layers only.
        *(S(name, (4, 5), inputs=_SEQ) for name in ("RNN", "LSTM", "GRU")),
        S("LSTM", (4, 5), {"num_layers": 2}, inputs=_SEQ),
        *(
            S(name, (4, 5), {"num_layers": 2, "dropout": 0.5}, inputs=_SEQ)
            for name in ("RNN", "LSTM", "GRU")
        ),
        *(S(name, (4, 5), inputs=randn(2, 4)) for name in ("RNNCell", "LSTMCell", "GRUCell")),
        # Attention and transformers (batch_first, so that the fast path can apply).
        S("MultiheadAttention", (8, 2), {"batch_first": True}, inputs=_self_attention),
        S(
            "MultiheadAttention",
            (8, 2),
            {"dropout": 0.5, "batch_first": True},
            inputs=_self_attention,
        ),
        replace(_ENCODER_LAYER, inputs=_TOKENS),
        S(
            "TransformerEncoderLayer",
            (8, 2),
            {"dim_feedforward": 16, "dropout": 0.0, "batch_first": True},
            inputs=_TOKENS,
        ),
        S("TransformerEncoder", (_ENCODER_LAYER,), {"num_layers": 2}, inputs=_TOKENS),
        replace(_DECODER_LAYER, inputs=randn(2, 5, 8, count=2)),
        S(
            "TransformerDecoder",
            (_DECODER_LAYER,),
            {"num_layers": 2},
            inputs=randn(2, 5, 8, count=2),
        ),
        S(
            "Transformer",
            kwargs={
                "d_model": 8,
                "nhead": 2,
                "num_encoder_layers": 1,
                "num_decoder_layers": 1,
                "dim_feedforward": 16,
                "batch_first": True,
            },
            inputs=randn(2, 5, 8, count=2),
        ),
        # Losses.
        *(S(name, inputs=pairs) for name in ("L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss")),
        S("BCELoss", inputs=probs),
        S("BCEWithLogitsLoss", inputs=_both(randn(4, 6), rand(4, 6))),
        S("CrossEntropyLoss", inputs=_both(randn(4, 5), ints(5, 4))),
        S("NLLLoss", inputs=_both(_log_probs(4, 5), ints(5, 4))),
        S("NLLLoss2d", inputs=_both(_log_probs(2, 3, 4, 4), ints(3, 2, 4, 4))),
        S(
            "KLDivLoss",
            kwargs={"reduction": "batchmean"},
            inputs=_both(_log_probs(4, 5), rand(4, 5)),
        ),
        S("PoissonNLLLoss", inputs=_both(randn(4, 6), rand(4, 6))),
        S("GaussianNLLLoss", inputs=_both(randn(4, 6), randn(4, 6), rand(4, 6))),
        S("HingeEmbeddingLoss", inputs=_both(randn(4, 6), _signs(4, 6))),
        S("SoftMarginLoss", inputs=_both(randn(4, 6), _signs(4, 6))),
        S("MarginRankingLoss", inputs=_both(randn(4), randn(4), _signs(4))),
        S("CosineEmbeddingLoss", inputs=_both(randn(4, 6), randn(4, 6), _signs(4))),
        S("MultiLabelMarginLoss", inputs=_multilabel),
        S(
            "MultiLabelSoftMarginLoss",
            inputs=_both(randn(4, 5), lambda: (torch.rand(4, 5).round(),)),
        ),
        S("MultiMarginLoss", inputs=_both(randn(4, 5), ints(5, 4))),
        S("TripletMarginLoss", inputs=randn(4, 6, count=3)),
        S("TripletMarginWithDistanceLoss", inputs=randn(4, 6, count=3)),
        S("CTCLoss", inputs=_ctc),
        S("AdaptiveLogSoftmaxWithLoss", (8, 10, [4]), inputs=_both(randn(4, 8), ints(10, 4))),
        S("LinearCrossEntropyLoss", (6, 5), inputs=_both(randn(4, 6), ints(5, 4))),
    ]
    return tuple(spec for spec in specs if spec is not None)


SPECS: tuple[Spec, ...] = _specs()
"""How the census builds and calls each class it instantiates, one spec per configuration."""

SKIPPED: Mapping[str, str] = MappingProxyType(
    {
        "Module": "the base class: it has no forward() of its own",
        "Container": "a deprecated base class for containers, without a forward()",
        "RNNBase": "the base class of RNN, LSTM and GRU, which are instantiated",
        "RNNCellBase": "the base class of RNNCell, LSTMCell and GRUCell, which are instantiated",
        "Sequential": "a container: it runs its children, which are instantiated on their own",
        "ModuleList": "a container without a forward()",
        "ModuleDict": "a container without a forward()",
        "ParameterList": "a container of parameters without a forward()",
        "ParameterDict": "a container of parameters without a forward()",
        "DataParallel": "a wrapper: it runs the module it wraps (on CPU, that module itself)",
    }
)
"""The classes of :func:`module_classes` that the census does not instantiate, and why."""


def module_classes() -> dict[str, type[nn.Module]]:
    """Every public ``nn.Module`` subclass that ``torch.nn`` exports, by name.

    >>> classes = module_classes()
    >>> classes["Dropout"] is torch.nn.Dropout, "Module" in classes, "_BatchNorm" in classes
    (True, True, False)
    """
    return {
        name: value
        for name in sorted(dir(nn))
        if not name.startswith("_")
        and isinstance(value := getattr(nn, name), type)
        and issubclass(value, nn.Module)
    }


@dataclass(frozen=True)
class CensusRow:
    """What one spec did (see :func:`measure`)."""

    name: str
    """The class name in ``torch.nn``."""
    label: str
    """How it was built: the constructor call."""
    output_changes: bool
    """Train and eval mode give different outputs (same weights, inputs and RNG seed)."""
    random_train: bool
    """In train mode, two RNG seeds give different outputs."""
    random_eval: bool
    """In eval mode, two RNG seeds give different outputs."""
    buffers_train: bool
    """A forward in train mode changed a buffer."""
    buffers_eval: bool
    """A forward in eval mode changed a buffer."""
    grad_mode_changes_train: bool
    """In train mode, ``torch.no_grad()`` gives a different output than gradients enabled."""
    grad_mode_changes_eval: bool
    """In eval mode, ``torch.no_grad()`` gives a different output than gradients enabled."""
    grad_mode_difference: float
    """The largest absolute difference between an output under ``torch.no_grad()`` and
    with gradients enabled, in either mode (0.0 when they are equal)."""
    warnings: tuple[str, ...] = ()
    """The first line of each warning torch issued while building and running it."""


@dataclass(frozen=True)
class _Run:
    outputs: tuple[torch.Tensor, ...]
    buffers_changed: bool


def _run(spec: Spec, *, training: bool, grad: bool, seed: int) -> _Run:
    """Build ``spec`` (seed 0), make its inputs (seed 1), call it once (``seed``).

    The caller restores the RNG state (see :func:`measure`).
    """
    generator = torch.random.default_generator
    generator.manual_seed(0)
    module = spec.build()
    generator.manual_seed(1)
    inputs = spec.inputs()
    if isinstance(module, nn.modules.lazy.LazyModuleMixin):
        generator.manual_seed(0)
        with torch.no_grad():
            module.eval()(*spec.inputs())  # materialise the parameters and buffers
    module.train(training)
    before = [b.clone() for b in module.buffers()]
    generator.manual_seed(seed)
    with torch.set_grad_enabled(grad):
        output = module(*inputs)
    changed = any(not torch.equal(a, b) for a, b in zip(before, module.buffers(), strict=True))
    outputs = tuple(_tensors(output))
    if not outputs:
        raise TypeError(f"{spec.label} returned no tensor")
    for t in outputs:
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise ValueError(f"{spec.label} returned a non-finite output: give it other inputs")
    return _Run(outputs, changed)


def _tensors(value: object) -> Iterable[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value.detach()
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)


def _same(a: _Run, b: _Run) -> bool:
    return len(a.outputs) == len(b.outputs) and all(
        x.shape == y.shape and torch.equal(x, y) for x, y in zip(a.outputs, b.outputs, strict=True)
    )


def _difference(a: _Run, b: _Run) -> float:
    return max(
        (
            (x.double() - y.double()).abs().max().item()
            for x, y in zip(a.outputs, b.outputs, strict=True)
            if x.is_floating_point() and x.numel()
        ),
        default=0.0,
    )


def measure(spec: Spec) -> CensusRow:
    """Build and call ``spec`` six times; report what train/eval and the grad mode change.

    Every run builds a new module with RNG seed 0, makes the inputs with seed 1 and
    calls the module once, on one CPU thread: in train or eval mode, with gradients
    enabled or under ``torch.no_grad()``, with the RNG seeded 2 (or 3, to see whether
    the output depends on random numbers). A lazy module is first materialised by one
    call in eval mode under ``no_grad``. Warnings are recorded, not shown.

    >>> measure(Spec("ReLU", inputs=randn(4, 6))).output_changes
    False
    >>> measure("ReLU")
    Traceback (most recent call last):
    ...
    TypeError: measure() takes a Spec, got str: 'ReLU'
    """
    if not isinstance(spec, Spec):
        raise TypeError(f"measure() takes a Spec, got {type(spec).__name__}: {spec!r:.40}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with seeded(0), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train = _run(spec, training=True, grad=True, seed=2)
            evaluation = _run(spec, training=False, grad=True, seed=2)
            train_3 = _run(spec, training=True, grad=True, seed=3)
            eval_3 = _run(spec, training=False, grad=True, seed=3)
            train_no_grad = _run(spec, training=True, grad=False, seed=2)
            eval_no_grad = _run(spec, training=False, grad=False, seed=2)
    finally:
        torch.set_num_threads(threads)
    seen = tuple(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))
    return CensusRow(
        name=spec.name,
        label=spec.label,
        output_changes=not _same(train, evaluation),
        random_train=not _same(train, train_3),
        random_eval=not _same(evaluation, eval_3),
        buffers_train=train.buffers_changed,
        buffers_eval=evaluation.buffers_changed,
        grad_mode_changes_train=not _same(train, train_no_grad),
        grad_mode_changes_eval=not _same(evaluation, eval_no_grad),
        grad_mode_difference=max(
            _difference(train, train_no_grad), _difference(evaluation, eval_no_grad)
        ),
        warnings=seen,
    )


def census(specs: Iterable[Spec] = SPECS) -> list[CensusRow]:
    """:func:`measure` every spec (default: ``SPECS``, the whole census), in order.

    >>> rows = census([Spec("Dropout", inputs=randn(4, 6)), Spec("Tanh", inputs=randn(4, 6))])
    >>> [(row.label, row.output_changes) for row in rows]
    [('Dropout()', True), ('Tanh()', False)]
    """
    if isinstance(specs, (str, Spec)) or not isinstance(specs, Iterable):
        raise TypeError(f"census() takes an iterable of Spec, got {type(specs).__name__}")
    return [measure(spec) for spec in specs]


_COLUMNS = (
    "output_changes",
    "random_train",
    "random_eval",
    "buffers_train",
    "buffers_eval",
    "grad_mode_changes_eval",
    "label",
)


def format_census(rows: Sequence[CensusRow]) -> str:
    """A text table of ``rows``: one line per spec, ``True``/``False`` per measured column.

    >>> table = format_census(census([Spec("Dropout", inputs=randn(2))]))
    >>> print(table)  # doctest: +NORMALIZE_WHITESPACE
    output_changes random_train random_eval buffers_train buffers_eval grad_mode_changes_eval label
    True True False False False False Dropout()
    """
    if isinstance(rows, str) or not all(isinstance(row, CensusRow) for row in rows):
        raise TypeError("format_census() takes the rows that census() returns")
    names = list(_COLUMNS)
    table = [names] + [[str(getattr(row, name)) for name in names] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(names))]
    return "\n".join(
        " ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )


@dataclass(frozen=True)
class FunctionRow:
    """A function of ``torch.nn.functional`` with a ``training`` parameter, measured."""

    name: str
    default: bool
    """The default of its ``training`` parameter, as its signature declares it."""
    acts_as: bool
    """Called without ``training``, it gives the output of ``training=acts_as`` (measured)."""


Call = Callable[[], tuple[tuple[object, ...], dict[str, object]]]
"""Makes fresh positional and keyword arguments for one call of a function."""


def _args(*parts: Inputs, **kwargs: object) -> Call:
    return lambda: (_both(*parts)(), dict(kwargs))


def _batch_norm() -> tuple[tuple[object, ...], dict[str, object]]:
    running_mean, running_var = torch.zeros(3), torch.ones(3)
    return (torch.randn(4, 3) + 1.0, running_mean, running_var), {}


def _attention() -> tuple[tuple[object, ...], dict[str, object]]:
    x = torch.randn(5, 2, 8)  # (time, batch, embed_dim)
    weights = (torch.randn(24, 8), torch.randn(24), None, None, False, 0.5)
    return (x, x, x, 8, 2, *weights, torch.randn(8, 8), torch.randn(8)), {}


FUNCTION_CALLS: Mapping[str, Call] = MappingProxyType(
    {
        "alpha_dropout": _args(randn(4, 6), p=0.5),
        "batch_norm": _batch_norm,
        "dropout": _args(randn(4, 6), p=0.5),
        "dropout1d": _args(randn(2, 3, 8), p=0.5),
        "dropout2d": _args(randn(2, 3, 4, 4), p=0.5),
        "dropout3d": _args(randn(2, 3, 2, 2, 2), p=0.5),
        "feature_alpha_dropout": _args(randn(2, 3, 4, 4), p=0.5),
        "multi_head_attention_forward": _attention,
        "rrelu": _args(randn(4, 6)),
        "rrelu_": _args(randn(4, 6)),
    }
)
"""How :func:`training_functions` calls each function it measures (fresh arguments)."""


def _call(name: str, **training: bool) -> tuple[torch.Tensor, ...]:
    with seeded(1):
        args, kwargs = FUNCTION_CALLS[name]()
    with seeded(2):
        return tuple(_tensors(getattr(F, name)(*args, **kwargs, **training)))


def _acts_as(name: str) -> bool:
    """Whether ``F.<name>`` without ``training`` gives the output of ``training=True``."""
    if name not in FUNCTION_CALLS:
        raise LookupError(f"census.FUNCTION_CALLS has no arguments for F.{name}: add them")
    default, on, off = _call(name), _call(name, training=True), _call(name, training=False)
    same = [len(default) == len(o) and all(map(torch.equal, default, o)) for o in (on, off)]
    if same[0] == same[1]:
        raise ValueError(
            f"F.{name} gives {'the same' if same[0] else 'a third'} output: "
            "training=True and training=False cannot be told apart"
        )
    return same[0]


_DOC_DEFAULT = re.compile(r"\btraining\s*=\s*(True|False)\b")


def _declared_training_default(name: str, function: object) -> bool | None:
    """The declared default of ``training``, or ``None`` without such a parameter.

    Read from the signature, or, for a function implemented in C (which has none that
    ``inspect`` can read), from the signature on the first line of its docstring.
    """
    try:
        parameter = inspect.signature(function).parameters.get("training")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        first = (getattr(function, "__doc__", None) or "").strip().split("\n", 1)[0]
        found = _DOC_DEFAULT.search(first) if first.startswith(f"{name}(") else None
        return None if found is None else found.group(1) == "True"
    if parameter is None or not isinstance(parameter.default, bool):
        return None
    return parameter.default


def training_functions() -> list[FunctionRow]:
    """Every public function of ``torch.nn.functional`` with a ``training`` parameter.

    For each: the declared default, and what a call without ``training`` does,
    measured by comparing its output with ``training=True`` and ``training=False``
    (same arguments, same RNG seed; ``FUNCTION_CALLS`` gives the arguments).

    >>> rows = {row.name: (row.default, row.acts_as) for row in training_functions()}
    >>> rows["batch_norm"], rows["dropout"], rows["rrelu"]
    ((False, False), (True, True), (False, False))
    """
    rows = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name in sorted(dir(F)):
            function = getattr(F, name)
            if name.startswith("_") or not callable(function) or isinstance(function, type):
                continue
            default = _declared_training_default(name, function)
            if default is not None:
                rows.append(FunctionRow(name, default, _acts_as(name)))
    finally:
        torch.set_num_threads(threads)
    return rows
