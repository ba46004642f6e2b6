r"""Run a function in worker processes joined by a gloo process group on 127.0.0.1.

:func:`run` starts ``world_size`` processes on this machine, joins them in a
``torch.distributed`` process group (backend ``gloo`` on the loopback interface; they
meet through a file store, so no port is chosen and nothing else listens), calls
``worker(*args)`` in each, and returns what each returned, by rank, with what each
wrote to its standard output and error (torch's C++ warnings included). It never waits
longer than ``timeout`` seconds: workers still running then are killed and
:class:`WorkersTimedOut` is raised. A worker that raises makes :class:`WorkerFailed`,
which carries the worker's error type and message. Every process it starts is
stopped and reaped before it returns or raises.

>>> import torch.distributed as dist
>>> run(dist.get_rank).values
[0, 1]
>>> run(dist.get_world_size, world_size=3).values
[3, 3, 3]
>>> run(print, "hello").outputs
['hello\n', 'hello\n']

Workers are forked by default (``start_method="fork"``): they start at once, with the
caller's modules, its functions (a function defined in a notebook works) and any patch
the caller applied to torch. ``"spawn"`` starts fresh interpreters, which takes seconds
(each imports torch), and needs a worker that can be imported by name.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import pickle
import socket
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.process import BaseProcess
from typing import IO, Any, Generic, Literal, TypeVar

import torch
import torch.distributed as dist

__all__ = [
    "Results",
    "WorkerFailed",
    "WorkersTimedOut",
    "loopback_interface",
    "run",
]

T = TypeVar("T")
StartMethod = Literal["fork", "spawn"]


_KILL_WAIT = 5.0  # seconds a terminated (SIGTERM) worker gets before SIGKILL
_FAILURE_GRACE = 5.0  # seconds the other workers get to finish after one failed


@dataclass(frozen=True)
class Results(Generic[T]):
    """What :func:`run`'s workers returned and wrote, by rank."""

    values: list[T]
    """Each worker's return value."""
    outputs: list[str]
    """What each worker wrote to its standard output and standard error, file
    descriptors 1 and 2: Python's ``print`` and warnings, and torch's C++ messages."""


class WorkerFailed(RuntimeError):
    """A worker raised, or died without a result.

    ``rank`` is the first worker (by rank) that failed; ``error`` the name of its
    exception type (``None`` if it died without one), ``message`` its message,
    ``remote_traceback`` the traceback as the worker formatted it and ``output``
    what it wrote (see :attr:`Results.outputs`).
    """

    def __init__(
        self,
        rank: int,
        error: str | None,
        message: str,
        remote_traceback: str = "",
        output: str = "",
    ) -> None:
        self.rank = rank
        self.error = error
        self.message = message
        self.remote_traceback = remote_traceback
        self.output = output
        what = f"{error}: {message}" if error else message
        super().__init__(f"worker rank {rank} failed: {what}")


class WorkersTimedOut(TimeoutError):
    """Workers did not finish within the timeout; they were killed."""

    def __init__(self, timeout: float, running: Sequence[int], world_size: int) -> None:
        self.timeout = timeout
        self.running = tuple(running)
        super().__init__(
            f"{len(self.running)} of {world_size} worker(s) (ranks "
            f"{', '.join(map(str, self.running))}) did not finish within {timeout:g} s "
            "and were killed"
        )


def loopback_interface() -> str:
    """The name of this machine's loopback network interface (``lo`` on Linux).

    gloo connects the workers through the interface named in ``GLOO_SOCKET_IFNAME``;
    without it, through the address this machine's host name resolves to, which need
    not be a loopback address.

    >>> loopback_interface() in ("lo", "lo0")
    True
    """
    names = {name for _, name in socket.if_nameindex()}
    for name in ("lo", "lo0"):
        if name in names:
            return name
    raise RuntimeError(f"no loopback network interface (lo, lo0) among {sorted(names)}")


def run(
    worker: Callable[..., T],
    *args: Any,
    world_size: int = 2,
    timeout: float = 120.0,
    start_method: StartMethod = "fork",
) -> Results[T]:
    """Call ``worker(*args)`` in ``world_size`` processes of one gloo process group.

    Returns the workers' return values and outputs, ordered by rank. Inside a
    worker, the default process group is initialised and every worker has joined it
    (``dist.get_rank()``, collectives and ``DistributedDataParallel`` work), torch uses
    one thread, and the group is destroyed after ``worker`` returns. Return values must be
    picklable.

    Raises :class:`WorkersTimedOut` when ``timeout`` seconds (start-up included) pass
    before every worker has finished; :class:`WorkerFailed` when a worker raises or
    dies without a result. In every case all workers have exited when it returns.

    >>> run(lambda scale: dist.get_rank() * scale, 10).values
    [0, 10]
    >>> def fails():
    ...     if dist.get_rank() == 1:
    ...         raise ValueError("rank 1 says no")
    >>> run(fails)
    Traceback (most recent call last):
    ...
    gradmodes.ddp.WorkerFailed: worker rank 1 failed: ValueError: rank 1 says no
    """
    if not callable(worker):
        raise TypeError(f"run() needs a callable worker, got {type(worker).__name__}")
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive int, got {world_size!r}")
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout < float("inf")
    ):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if start_method not in ("fork", "spawn"):
        raise ValueError(f"unknown start_method {start_method!r}; valid values: fork, spawn")
    if not dist.is_available() or not dist.is_gloo_available():
        raise RuntimeError("this torch has no torch.distributed with the gloo backend")

    deadline = time.monotonic() + timeout
    context = multiprocessing.get_context(start_method)
    if start_method == "fork":
        # DistributedDataParallel's constructor imports torch._dynamo, which takes seconds;
        # imported here once, it is already loaded in every forked worker.
        import torch._dynamo  # noqa: F401
    # The workers meet through a file store: no port to choose, nothing listening for
    # them but gloo's own sockets on the loopback interface.
    folder = tempfile.TemporaryDirectory(prefix="gradmodes-ddp-")
    store_path = os.path.join(folder.name, "store")
    processes: list[BaseProcess] = []
    receivers: list[multiprocessing.connection.Connection] = []
    try:
        for rank in range(world_size):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker_main,
                args=(rank, world_size, store_path, timeout, sender, worker, args),
                name=f"gradmodes-ddp-rank{rank}",
                daemon=True,  # stopped by multiprocessing when the caller exits
            )
            with warnings.catch_warnings():
                # Python >= 3.12 warns that forking a multi-threaded process "may lead to
                # deadlocks in the child"; a child that deadlocks is killed at the deadline.
                warnings.filterwarnings("ignore", "This process .* use of fork", DeprecationWarning)
                process.start()
            sender.close()  # the child holds its own copy
            processes.append(process)
            receivers.append(receiver)
        results = _collect(processes, receivers, deadline, timeout)
    finally:
        _stop(processes)
        for receiver in receivers:
            receiver.close()
        folder.cleanup()
    return results


def _collect(
    processes: Sequence[BaseProcess],
    receivers: Sequence[multiprocessing.connection.Connection],
    deadline: float,
    timeout: float,
) -> Results[Any]:
    """Wait for one message per worker (or its exit) until ``deadline``.

    After the first failure the others get ``_FAILURE_GRACE`` seconds more (a failure
    often happens on every rank at once); then the lowest failed rank is reported,
    naming the other failed ranks too.
    """
    outcomes: dict[int, tuple[str, Any, str, str, str]] = {}
    waiting = dict(enumerate(receivers))
    failed = False
    while waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            if failed:
                break
            raise WorkersTimedOut(timeout, sorted(waiting), len(processes))
        for conn in multiprocessing.connection.wait(list(waiting.values()), timeout=left):
            rank = next(r for r, c in waiting.items() if c is conn)
            try:
                outcomes[rank] = pickle.loads(conn.recv_bytes())
            except EOFError:  # it exited (or closed the pipe) without sending anything
                processes[rank].join(_KILL_WAIT)
                message = f"exited with code {processes[rank].exitcode} without a result"
                outcomes[rank] = ("died", None, message, "", "")
            del waiting[rank]
        if not failed and any(outcome[0] != "ok" for outcome in outcomes.values()):
            failed = True
            deadline = min(deadline, time.monotonic() + _FAILURE_GRACE)
    failures = sorted(rank for rank, outcome in outcomes.items() if outcome[0] != "ok")
    if failures:
        rank, others = failures[0], failures[1:]
        _, error, message, remote, output = outcomes[rank]
        also = [f"rank {r} ({outcomes[r][1] or outcomes[r][2]})" for r in others]
        if also:
            message += f" [also failed: {', '.join(also)}]"
        raise WorkerFailed(rank, error, message, remote, output)
    ranks = range(len(processes))
    return Results([outcomes[r][1] for r in ranks], [outcomes[r][4] for r in ranks])


def _stop(processes: Sequence[BaseProcess]) -> None:
    """Make sure every process has exited and been reaped: SIGTERM, then SIGKILL."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    end = time.monotonic() + _KILL_WAIT
    for process in processes:
        process.join(max(0.0, end - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
        process.close()


def _worker_main(
    rank: int,
    world_size: int,
    store_path: str,
    timeout: float,
    sender: multiprocessing.connection.Connection,
    worker: Callable[..., Any],
    args: tuple[Any, ...],
) -> None:
    """One worker: join the process group, run ``worker``, send back its result or error."""
    captured = _capture_output()
    torch.set_num_threads(1)  # tiny workloads; and no OpenMP pool inherited across fork
    os.environ["GLOO_SOCKET_IFNAME"] = loopback_interface()
    outcome: tuple[str, Any, str, str]
    try:
        store = dist.FileStore(store_path, world_size)
        dist.init_process_group(
            "gloo",
            store=store,
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=timeout),
        )
        # init_process_group returns without waiting for the other ranks (unless
        # TORCH_DIST_INIT_BARRIER=1): a rank whose worker ends at once (no collective)
        # could tear its connections down while another is still connecting to it
        # ("Gloo connectFullMesh failed ... Connection closed by peer", about one run in
        # 150). So every rank starts the worker once all have joined.
        dist.barrier()
        outcome = ("ok", worker(*args), "", "")
    except BaseException as exc:  # everything goes back to the caller, as text
        outcome = _failure(exc)
    output = _read_output(captured)
    # Plain pickle, not multiprocessing's: that one sends a tensor as a handle to shared
    # memory, which the caller can no longer open once this process has exited.
    try:
        data = pickle.dumps((*outcome, output))
    except Exception as exc:  # e.g. a result that cannot be pickled
        message = f"cannot send the result back: {exc}"
        data = pickle.dumps(("error", type(exc).__name__, message, "", output))
    sender.send_bytes(data)
    sender.close()
    # Torch's gloo teardown can hang on some releases once the other rank has gone (seen
    # with the CUDA builds of torch 2.1 to 2.7): the result is sent first, and the caller
    # stops a worker that is still tearing down once every result is in.
    if dist.is_initialized():
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def _failure(exc: BaseException) -> tuple[str, Any, str, str]:
    return ("error", type(exc).__name__, str(exc), traceback.format_exc())


def _capture_output() -> IO[bytes]:
    """Send this process's file descriptors 1 and 2, and ``sys.stdout``/``stderr``, to a file.

    A forked worker would otherwise write into its parent's streams (a notebook's
    cell output, for one), C++ messages included.
    """
    captured = tempfile.TemporaryFile()  # noqa: SIM115 (open until the worker exits)
    for fd in (1, 2):
        os.dup2(captured.fileno(), fd)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    return captured


def _read_output(captured: IO[bytes]) -> str:
    """Everything written to the captured file so far."""
    sys.stdout.flush()
    sys.stderr.flush()
    captured.seek(0)
    return captured.read().decode("utf-8", errors="replace")
