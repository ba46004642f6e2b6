"""Measure what one forward (and optionally one backward) pass does to a model.

>>> import torch
>>> from gradmodes.models import SimpleModel
>>> model = SimpleModel().eval()
>>> seen = observe(model, torch.randn(16, 10), grad_mode="no_grad")
>>> seen.dropout_active, seen.bn_stats_updated, seen.has_grad_fn, seen.saved_bytes
(False, False, False, 0)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from gradmodes._checks import require_module
from gradmodes.modes import GradMode, grad_context

__all__ = ["BN_STATS", "DROPOUT_TYPES", "Observation", "SavedTensors", "count_saved", "observe"]

DROPOUT_TYPES: tuple[type[nn.Module], ...] = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)
"""The module types ``observe`` watches for dropout."""

BN_STATS: tuple[str, ...] = ("running_mean", "running_var", "num_batches_tracked")
"""The buffer names ``observe`` watches for running-statistics updates."""


@dataclass
class SavedTensors:
    """Running totals of the tensors autograd packed for backward (see :func:`count_saved`).

    ``bytes`` adds up every saved reference; ``storage_bytes`` counts each distinct
    storage behind them once, leaving out the storages of the tensors passed as
    ``exclude`` to :func:`count_saved`.

    >>> SavedTensors()
    SavedTensors(count=0, bytes=0, storage_bytes=0)
    """

    count: int = 0
    bytes: int = 0
    """Bytes referenced by the saved tensors: ``numel() * element_size()`` per saved
    reference, without de-duplication."""
    storage_bytes: int = 0
    """Bytes of the distinct storages the saved tensors use, each counted once (a view
    counts its whole storage), outside the storages of ``exclude``."""
    _seen: set[tuple[str, int]] = field(default_factory=set, repr=False, compare=False)


def _storage_key(tensor: torch.Tensor) -> tuple[tuple[str, int], int] | None:
    """(device, address) of the tensor's storage and its size in bytes; ``None`` without one."""
    try:
        storage = tensor.untyped_storage()
    except (RuntimeError, NotImplementedError):  # sparse and other storage-less layouts
        return None
    return (str(tensor.device), storage.data_ptr()), storage.nbytes()


@contextmanager
def count_saved(*, exclude: Iterable[torch.Tensor] = ()) -> Iterator[SavedTensors]:
    """Count the tensors saved for backward inside the block, and their bytes.

    Two figures, named for what they count:

    - ``bytes``: bytes *referenced* by saved tensors. Every packed tensor counts
      ``numel() * element_size()``: a tensor saved by two operations counts twice,
      and a view (such as a weight's transpose) counts its own size.
    - ``storage_bytes``: bytes of the *distinct storages* behind the saved tensors,
      each counted once, leaving out the storages of ``exclude`` (pass the model's
      parameters and the input, which exist whether or not a graph is kept): what
      keeping the graph alive holds in memory on top of them.

    >>> import torch
    >>> layer = torch.nn.Linear(4, 3)
    >>> with count_saved() as saved:
    ...     y = layer(torch.ones(2, 4))  # saves its (2, 4) float32 input for weight.grad
    >>> saved.count, saved.bytes, saved.storage_bytes
    (1, 32, 32)
    >>> x = torch.ones(2, 4, requires_grad=True)
    >>> with count_saved(exclude=[x, *layer.parameters()]) as saved:
    ...     y = layer(x)  # saves x, and weight.t() (a view of the weight) for x.grad
    >>> saved.count, saved.bytes, saved.storage_bytes
    (2, 80, 0)
    >>> with count_saved() as saved, torch.no_grad():
    ...     y = layer(torch.ones(2, 4))
    >>> saved.count, saved.bytes
    (0, 0)
    """
    saved = SavedTensors()
    for tensor in exclude:
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"count_saved(exclude=...) takes tensors, got {type(tensor).__name__}")
        if (key := _storage_key(tensor)) is not None:
            saved._seen.add(key[0])

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved.count += 1
        saved.bytes += tensor.numel() * tensor.element_size()
        key = _storage_key(tensor)
        if key is None:
            saved.storage_bytes += tensor.numel() * tensor.element_size()
        elif key[0] not in saved._seen:
            saved._seen.add(key[0])
            saved.storage_bytes += key[1]
        return tensor

    def unpack(tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        yield saved


@dataclass(frozen=True)
class Observation:
    """What one ``observe()`` call saw.

    ``dropout_active`` and ``bn_stats_updated`` are ``None`` when the model has no
    Dropout module, or no running-statistics buffer, to watch.
    ``backward_ok`` is ``None`` unless ``backward=True`` was asked for.

    >>> import torch
    >>> seen = observe(torch.nn.Linear(3, 1), torch.ones(2, 3))
    >>> seen.dropout_active, seen.output_requires_grad, seen.saved_bytes, seen.backward_ok
    (None, True, 24, None)
    >>> seen.saved_storage_bytes  # Linear saved only its input: nothing beyond it
    0
    """

    dropout_active: bool | None
    """Whether any Dropout module returned something other than its input."""
    bn_stats_updated: bool | None
    """Whether any ``running_mean``, ``running_var`` or ``num_batches_tracked`` changed."""
    output_requires_grad: bool
    has_grad_fn: bool
    saved_bytes: int
    """Bytes referenced by the tensors autograd saved for backward during the forward,
    without de-duplication (:attr:`SavedTensors.bytes`)."""
    saved_storage_bytes: int
    """Bytes of the distinct storages those saved tensors keep alive, each counted once,
    beyond the model's parameters and buffers and the input (:attr:`SavedTensors.storage_bytes`
    with those excluded)."""
    backward_ok: bool | None = None
    backward_error: str | None = None
    """First line of the error ``output.sum().backward()`` raised, if it raised."""
    params_with_grad: tuple[str, ...] = ()
    """Names of the parameters the backward gave a ``.grad``."""


def observe(
    model: nn.Module,
    x: torch.Tensor,
    *,
    grad_mode: GradMode = "grad",
    backward: bool = False,
) -> Observation:
    """Run ``model(x)`` under ``grad_mode`` and report what happened.

    The model's train/eval mode is used as it is. With ``backward=True``,
    ``model(x).sum().backward()`` runs afterwards (outside ``grad_mode``, as a
    training loop would); the gradients it produces are only recorded: every
    parameter's ``.grad`` is put back to what it was before the call.
    What the forward itself does stays done: BatchNorm running statistics
    updated in train mode remain updated, and Dropout consumes random numbers.

    >>> import torch
    >>> from gradmodes.models import SimpleModel
    >>> model = SimpleModel()  # train mode
    >>> seen = observe(model, torch.randn(16, 10), backward=True)
    >>> seen.dropout_active, seen.bn_stats_updated, seen.backward_ok
    (True, True, True)
    >>> seen.params_with_grad
    ('bn.weight', 'bn.bias', 'linear.weight', 'linear.bias')
    >>> model.linear.weight.grad is None  # observe() leaves .grad as it found it
    True
    >>> seen = observe(model, torch.randn(16, 10), grad_mode="inference_mode", backward=True)
    >>> seen.backward_ok, seen.backward_error
    (False, 'element 0 of tensors does not require grad and does not have a grad_fn')
    """
    require_module(model, "observe")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"observe() needs a torch.Tensor input, got {type(x).__name__}")
    context = grad_context(grad_mode)  # ValueError for an unknown name

    stats = _bn_stats(model)
    before = [buffer.clone() for buffer in stats]
    changed: list[bool] = []
    exclude = [x, *model.parameters(), *model.buffers()]
    with _watch_dropout(model, changed) as dropouts, count_saved(exclude=exclude) as saved, context:
        output = model(x)
    if not isinstance(output, torch.Tensor):
        raise TypeError(
            f"observe() needs a model that returns a tensor, got {type(output).__name__}"
        )

    backward_ok: bool | None = None
    backward_error: str | None = None
    params_with_grad: tuple[str, ...] = ()
    if backward:
        backward_ok, backward_error, params_with_grad = _try_backward(model, output)

    return Observation(
        dropout_active=any(changed) if dropouts else None,
        bn_stats_updated=(
            any(not torch.equal(old, new) for old, new in zip(before, stats, strict=True))
            if stats
            else None
        ),
        output_requires_grad=output.requires_grad,
        has_grad_fn=output.grad_fn is not None,
        saved_bytes=saved.bytes,
        saved_storage_bytes=saved.storage_bytes,
        backward_ok=backward_ok,
        backward_error=backward_error,
        params_with_grad=params_with_grad,
    )


def _bn_stats(model: nn.Module) -> list[torch.Tensor]:
    """The running-statistics buffers of every module, in module order."""
    return [
        buffer
        for module in model.modules()
        for name in BN_STATS
        if isinstance(buffer := getattr(module, name, None), torch.Tensor)
    ]


@contextmanager
def _watch_dropout(model: nn.Module, changed: list[bool]) -> Iterator[int]:
    """Append to ``changed``, per Dropout call, whether its output differs from its input.

    The input is copied before the call, so ``inplace=True`` dropout is seen too.
    Yields the number of Dropout modules watched.
    """
    inputs: list[torch.Tensor] = []

    def before(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        inputs.append(args[0].detach().clone())

    def after(module: nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        changed.append(not torch.equal(output.detach(), inputs.pop()))

    dropouts = [m for m in model.modules() if isinstance(m, DROPOUT_TYPES)]
    handles = [m.register_forward_pre_hook(before) for m in dropouts]
    handles += [m.register_forward_hook(after) for m in dropouts]
    try:
        yield len(dropouts)
    finally:
        for handle in handles:
            handle.remove()


def _try_backward(
    model: nn.Module, output: torch.Tensor
) -> tuple[bool, str | None, tuple[str, ...]]:
    """Run ``output.sum().backward()``; report success, error, and who got a gradient."""
    params = list(model.named_parameters())
    kept = [param.grad for _, param in params]
    for _, param in params:
        param.grad = None
    try:
        output.sum().backward()
    except RuntimeError as exc:
        return False, str(exc).splitlines()[0], ()
    else:
        return True, None, tuple(name for name, param in params if param.grad is not None)
    finally:
        for (_, param), grad in zip(params, kept, strict=True):
            param.grad = grad
