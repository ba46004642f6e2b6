"""Helpers shared by the claim checks."""

from __future__ import annotations

import functools
import inspect
import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
from torch import nn

from gradmodes._rng import seeded
from gradmodes.claims._registry import Observer

__all__ = [
    "DROPOUT_NAMES",
    "deterministic",
    "expect_train_mode_kept",
    "mlp_saved_bytes",
    "new_tensor_ops",
    "time_limited",
]


def deterministic(run: Callable[[Observer], None]) -> Callable[[Observer], None]:
    """Run a check seeded with 0 on one CPU thread; restore the RNG and thread count after."""

    @functools.wraps(run)
    def seeded_run(obs: Observer) -> None:
        threads = torch.get_num_threads()
        # The checks use tiny tensors: one CPU thread is faster, and it avoids waits of
        # up to ~0.1 s for a busy second core (measured with 2 threads on 2 cores).
        torch.set_num_threads(1)
        try:
            with seeded(0, obs.device):
                run(obs)
        finally:
            torch.set_num_threads(threads)

    return seeded_run


def time_limited(
    seconds: int,
) -> Callable[[Callable[[Observer], None]], Callable[[Observer], None]]:
    """Stop a check that runs longer than ``seconds`` with ``TimeoutError`` naming its claim.

    For checks that compile code (``torch.compile``, exports), which could hang a build.
    It uses ``SIGALRM``: only in the main thread of a POSIX process (the build's and the
    tests'); elsewhere the check runs without a limit.
    """

    def limit(run: Callable[[Observer], None]) -> Callable[[Observer], None]:
        @functools.wraps(run)
        def limited_run(obs: Observer) -> None:
            if not hasattr(signal, "SIGALRM") or threading.current_thread() is not (
                threading.main_thread()
            ):
                run(obs)
                return

            def expire(signum: int, frame: object) -> None:
                raise TimeoutError(f"the check of claim {obs.claim_id!r} ran past {seconds} s")

            previous = signal.signal(signal.SIGALRM, expire)
            signal.alarm(seconds)
            try:
                run(obs)
            finally:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, previous)

        return limited_run

    return limit


def mlp_saved_bytes(batch: int, width: int, dtype: torch.dtype = torch.float32) -> dict[str, int]:
    """Bytes autograd saves for ``models.mlp(width)`` on a ``(batch, width)`` input.

    The input does not require grad. ``Linear`` is ``addmm(bias, x, weight.t())``: it
    saves ``x`` when the weight needs a gradient and ``weight.t()`` when ``x`` needs one;
    ``ReLU`` saves its output. Keys: which parameters are trainable.
    """
    size = torch.empty((), dtype=dtype).element_size()
    activation = batch * width * size
    weight = width * width * size
    return {
        # Linear 1 saves x; ReLU its output; Linear 2 its input and its weight.
        "all": activation + activation + activation + weight,
        # Only Linear 1 trainable: Linear 1 saves x, ReLU its output, and the frozen
        # Linear 2 still saves its weight, to pass the gradient back to its input.
        "first": activation + activation + weight,
        # Only Linear 2 records (nothing upstream requires grad): it saves its input.
        "last": activation,
        "none": 0,
    }


def new_tensor_ops(w: torch.Tensor) -> dict[str, Callable[[], torch.Tensor]]:
    """Operations that compute a new tensor from ``w`` (a 1-D float32 tensor), by their code.

    Only for float32: on a float64 ``w``, ``w.double()`` returns ``w`` itself.

    >>> sorted(new_tensor_ops(torch.ones(4)))[:3]
    ['torch.cat([w, w])', 'w * 2', 'w + 1']
    """
    return {
        "w * 2": lambda: w * 2,
        "w + 1": lambda: w + 1,
        "w.exp()": lambda: w.exp(),
        "w @ w": lambda: w @ w,
        "w.sum()": lambda: w.sum(),
        "w.clone()": lambda: w.clone(),
        "w.double()": lambda: w.double(),
        "torch.cat([w, w])": lambda: torch.cat([w, w]),
    }


DROPOUT_NAMES = (
    "AlphaDropout",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "FeatureAlphaDropout",
)
"""The dropout layer classes of ``torch.nn`` that the claims name, by name."""
_DROPOUT_SHAPES = {
    "Dropout1d": (2, 32, 4),
    "Dropout2d": (2, 32, 2, 2),
    "Dropout3d": (2, 32, 1, 2, 2),
    "FeatureAlphaDropout": (2, 32, 2, 2),
}
_BATCHNORM_SHAPES = {
    "BatchNorm1d": (8, 3),
    "BatchNorm2d": (8, 3, 2, 2),
    "BatchNorm3d": (8, 3, 2, 2, 2),
}


def expect_train_mode_kept(
    obs: Observer, name: str, context: Callable[[], AbstractContextManager[object]]
) -> None:
    """Expect train-mode layers to keep their training behaviour under ``context()``.

    Every dropout layer class of ``torch.nn`` (the subclasses of ``_DropoutNd``, which
    must be those of :data:`DROPOUT_NAMES`) changes its input at random, ``nn.Dropout``
    by zeroing elements; ``BatchNorm1d``, ``BatchNorm2d`` and ``BatchNorm3d`` update
    their running statistics, which stay normal tensors (not inference tensors).
    ``name`` is how the expectations name the context.
    """
    from torch.nn.modules.dropout import _DropoutNd

    classes = sorted(
        (
            cls
            for cls in vars(nn).values()
            if inspect.isclass(cls) and issubclass(cls, _DropoutNd) and cls is not _DropoutNd
        ),
        key=lambda cls: cls.__name__,
    )
    obs.expect(
        "the _DropoutNd subclasses in torch.nn",
        tuple(cls.__name__ for cls in classes),
        DROPOUT_NAMES,
    )
    for cls in classes:
        layer = cls(0.5).to(obs.device).train()
        x = torch.ones(_DROPOUT_SHAPES.get(cls.__name__, (64,)), device=obs.device)
        with context():
            first, second = layer(x), layer(x)
        obs.expect(
            f"with {name}: y1, y2 = {cls.__name__}(0.5).train()(x) twice; "
            "torch.equal(y1, x), torch.equal(y1, y2)",
            (torch.equal(first, x), torch.equal(first, second)),
            (False, False),
        )
        if cls is nn.Dropout:
            obs.expect(f"with {name}: nn.Dropout zeroed elements", bool((first == 0).any()), True)
    for bn_name, shape in _BATCHNORM_SHAPES.items():
        bn = getattr(nn, bn_name)(3).to(obs.device).train()
        before = [bn.running_mean.clone(), bn.running_var.clone()]
        with context():
            bn(torch.randn(shape, device=obs.device) + 1.0)
        after = (bn.running_mean, bn.running_var)
        obs.expect(
            f"with {name}: {bn_name}(3).train()(x): running_mean, running_var changed",
            [not torch.equal(old, new) for old, new in zip(before, after, strict=True)],
            [True, True],
        )
        obs.expect(
            f"{bn_name}: torch.is_inference(running_mean), torch.is_inference(running_var)",
            [torch.is_inference(t) for t in after],
            [False, False],
        )
