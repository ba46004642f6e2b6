"""Claims of the DDP page: `DistributedDataParallel` with frozen parameters, on CPU.

Each check runs real DDP: two processes joined by a gloo process group on 127.0.0.1,
started by :func:`gradmodes.ddp.run`. The workers below return what they saw; the
expectations are checked here, in the calling process. Workers are forked, so a patch
of torch applied in the calling process (a counterfactual) is in effect in them too.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from gradmodes import ddp
from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim

__all__: list[str] = []

NOT_FINISHED = "Expected to have finished reduction in the prior iteration"
NOT_NEEDED = (
    "DistributedDataParallel is not needed when a module doesn't have any parameter that "
    "requires a gradient"
)
NO_UNUSED = (
    "find_unused_parameters=True was specified in DDP constructor, but did not find any "
    "unused parameters in the forward pass"
)
SYNCBN_CPU = "SyncBatchNorm expected input tensor to be on GPU"


def _net() -> nn.Sequential:
    """The same small model on every rank: ``Linear(4, 4)``-``ReLU``-``Linear(4, 1)``."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))


def _batch(step: int = 0) -> torch.Tensor:
    """A batch that differs between ranks (and steps)."""
    generator = torch.Generator().manual_seed(100 * dist.get_rank() + step)
    return torch.randn(8, 4, generator=generator) + dist.get_rank()


def _wrap(model: nn.Module, **kwargs: Any) -> nn.Module:
    return torch.nn.parallel.DistributedDataParallel(model, **kwargs)


def _equal_on_all_ranks(tensor: torch.Tensor) -> bool:
    gathered = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, tensor.detach().contiguous())
    return all(torch.equal(gathered[0], t) for t in gathered)


def _local_grads(step: int, frozen: tuple[int, ...] = ()) -> dict[str, torch.Tensor]:
    """The gradients one rank's batch gives the model without DDP."""
    model = _net()
    for index in frozen:
        model[index].requires_grad_(False)
    model(_batch(step)).square().sum().backward()
    return {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


def _mean_over_ranks(tensor: torch.Tensor) -> torch.Tensor:
    total = tensor.clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()


def _step_report(model: nn.Module, step: int, frozen: tuple[int, ...] = ()) -> dict[str, object]:
    """After a backward: which parameters have a grad, and are they averaged, local, equal?"""
    local = _local_grads(step, frozen)
    named = dict(model.named_parameters())
    report: dict[str, object] = {
        "with_grad": sorted(n for n, p in named.items() if p.grad is not None)
    }
    for name, grad in local.items():
        mine = named[f"module.{name}"].grad
        assert mine is not None
        report[f"{name} averaged"] = torch.allclose(mine, _mean_over_ranks(grad))
        report[f"{name} local"] = torch.equal(mine, grad)
        report[f"{name} equal on all ranks"] = _equal_on_all_ranks(mine)
    return report


def _train(model: nn.Module, steps: int, frozen: tuple[int, ...] = ()) -> dict[str, object]:
    """``steps`` training steps; the report after each, or the error that stopped them
    (its step, ``"forward"`` or ``"backward"``, and its message)."""
    result: dict[str, object] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(steps):
            model.zero_grad(set_to_none=True)
            phase = "forward"
            try:
                loss = model(_batch(step)).square().sum()
                phase = "backward"
                loss.backward()
            except RuntimeError as exc:
                result["error"] = (step, phase, str(exc))
                break
            result[f"step {step}"] = _step_report(model, step, frozen)
    result["warnings"] = [str(w.message) for w in caught]
    return result


def _freeze_before(find_unused_parameters: bool) -> dict[str, object]:
    model = _net()
    model[0].requires_grad_(False)
    wrapped = _wrap(model, find_unused_parameters=find_unused_parameters)
    return _train(wrapped, 2, frozen=(0,))


def _freeze_after(find_unused_parameters: bool) -> dict[str, object]:
    wrapped = _wrap(_net(), find_unused_parameters=find_unused_parameters)
    wrapped.module[0].requires_grad_(False)
    return _train(wrapped, 2, frozen=(0,))


def _unfreeze_after() -> dict[str, object]:
    model = _net()
    model[0].requires_grad_(False)
    wrapped = _wrap(model)
    model[0].requires_grad_(True)
    return _train(wrapped, 2)


def _expect_clean(obs: Observer, where: str, results: ddp.Results[dict[str, object]]) -> None:
    for rank, (seen, output) in enumerate(zip(results.values, results.outputs, strict=True)):
        obs.expect(f"{where}, rank {rank}: error", seen.get("error"), None)
        obs.expect(f"{where}, rank {rank}: Python warnings", seen["warnings"], [])
        obs.expect(f"{where}, rank {rank}: output (C++ warnings)", output, "")


@claim(
    "ddp.freeze-before",
    "With `DistributedDataParallel` on two CPU processes (gloo), parameters frozen before "
    "wrapping are left out of the gradient averaging: with the default "
    "`find_unused_parameters=False`, two training steps run without an error or a warning, "
    "the frozen parameters keep `.grad` `None`, and each trainable parameter's gradient is the "
    "mean of the two processes' local gradients.",
    torch_versions="!=2.8.*,!=2.9.*,!=2.10.*",  # the records of other releases (evidence page)
)
@deterministic
def _ddp_freeze_before(obs: Observer) -> None:
    results = ddp.run(_freeze_before, False)
    _expect_clean(obs, "frozen before wrapping", results)
    for rank, seen in enumerate(results.values):
        for step in (0, 1):
            report = seen[f"step {step}"]
            assert isinstance(report, dict)
            where = f"rank {rank}, step {step}"
            obs.expect(
                f"{where}: parameters with a grad",
                report["with_grad"],
                ["module.2.bias", "module.2.weight"],
            )
            for name in ("2.weight", "2.bias"):
                obs.expect(f"{where}: {name} grad averaged", report[f"{name} averaged"], True)
            obs.expect(f"{where}: 2.weight grad is the local one", report["2.weight local"], False)


@claim(
    "ddp.freeze-after",
    "Freezing a layer after wrapping the model in `DistributedDataParallel`, with the default "
    "`find_unused_parameters=False`, stops the averaging silently: after the first "
    "`backward()` each process keeps its own local gradients for the trainable layer, which "
    "differ between the two processes, with no error or warning; the next forward pass "
    "raises `RuntimeError` (`Expected to have finished reduction in the prior iteration "
    "before starting a new one`).",
    torch_versions="!=2.8.*,!=2.9.*,!=2.10.*",  # the records of other releases (evidence page)
)
@deterministic
def _ddp_freeze_after(obs: Observer) -> None:
    results = ddp.run(_freeze_after, False)
    for rank, (seen, output) in enumerate(zip(results.values, results.outputs, strict=True)):
        report = seen["step 0"]
        assert isinstance(report, dict)
        where = f"rank {rank}, step 0"
        obs.expect(
            f"{where}: parameters with a grad",
            report["with_grad"],
            ["module.2.bias", "module.2.weight"],
        )
        for name in ("2.weight", "2.bias"):
            obs.expect(f"{where}: {name} grad is the local one", report[f"{name} local"], True)
            obs.expect(
                f"{where}: {name} grad equal on all ranks",
                report[f"{name} equal on all ranks"],
                False,
            )
        obs.expect(f"{where}: Python warnings", seen["warnings"], [])
        obs.expect(f"{where}: output (C++ warnings)", output, "")
        error = seen.get("error")
        step, phase, message = error if isinstance(error, tuple) else (None, None, "")
        obs.expect(f"rank {rank}: the step that raised", step, 1)
        obs.expect(f"rank {rank}: the call that raised", phase, "forward")
        obs.expect(f"rank {rank}: {NOT_FINISHED!r} in the error", NOT_FINISHED in message, True)


@claim(
    "ddp.find-unused",
    "With `find_unused_parameters=True`, a parameter frozen after wrapping is treated as "
    "unused: two training steps run without an error, its `.grad` stays `None`, and the other "
    "gradients are averaged; with nothing unused (the same parameter frozen before wrapping), "
    "the flag makes each process print the warning `find_unused_parameters=True was specified "
    "in DDP constructor, but did not find any unused parameters in the forward pass`.",
)
@deterministic
def _ddp_find_unused(obs: Observer) -> None:
    after = ddp.run(_freeze_after, True)
    for rank, seen in enumerate(after.values):
        obs.expect(f"frozen after wrapping, rank {rank}: error", seen.get("error"), None)
        for step in (0, 1):
            report = seen[f"step {step}"]
            assert isinstance(report, dict)
            where = f"frozen after wrapping, rank {rank}, step {step}"
            obs.expect(
                f"{where}: parameters with a grad",
                report["with_grad"],
                ["module.2.bias", "module.2.weight"],
            )
            for name in ("2.weight", "2.bias"):
                obs.expect(f"{where}: {name} grad averaged", report[f"{name} averaged"], True)
    before = ddp.run(_freeze_before, True)
    for rank, output in enumerate(before.outputs):
        obs.expect(
            f"frozen before wrapping, rank {rank}: the warning in its output",
            NO_UNUSED in output,
            True,
        )


@claim(
    "ddp.unfreeze-after",
    "Unfreezing, after wrapping, a layer that was frozen when the model was wrapped in "
    "`DistributedDataParallel` gives it gradients that are never averaged: after each "
    "`backward()` its weight's gradient is the process's local one and differs between the two "
    "processes, with no error or warning, while the other layers' gradients are averaged.",
    torch_versions="!=2.8.*,!=2.9.*,!=2.10.*",  # the records of other releases (evidence page)
)
@deterministic
def _ddp_unfreeze_after(obs: Observer) -> None:
    results = ddp.run(_unfreeze_after)
    _expect_clean(obs, "unfrozen after wrapping", results)
    for rank, seen in enumerate(results.values):
        for step in (0, 1):
            report = seen[f"step {step}"]
            assert isinstance(report, dict)
            where = f"rank {rank}, step {step}"
            obs.expect(f"{where}: 0.weight grad is the local one", report["0.weight local"], True)
            obs.expect(
                f"{where}: 0.weight grad equal on all ranks",
                report["0.weight equal on all ranks"],
                False,
            )
            for name in ("2.weight", "2.bias"):
                obs.expect(f"{where}: {name} grad averaged", report[f"{name} averaged"], True)


def _wrap_frozen() -> str:
    model = _net().requires_grad_(False)
    try:
        _wrap(model)
    except RuntimeError as exc:
        return f"RuntimeError: {exc}"
    return "no error"


@claim(
    "ddp.nothing-trainable",
    "Wrapping a module none of whose parameters requires grad in `DistributedDataParallel` "
    "raises `RuntimeError` (`DistributedDataParallel is not needed when a module doesn't have "
    "any parameter that requires a gradient.`).",
)
@deterministic
def _ddp_nothing_trainable(obs: Observer) -> None:
    for rank, seen in enumerate(ddp.run(_wrap_frozen).values):
        obs.expect(f"rank {rank}: DDP(frozen model)", seen, f"RuntimeError: {NOT_NEEDED}.")


def _sync_batchnorm() -> dict[str, object]:
    torch.manual_seed(0)
    plain = nn.BatchNorm1d(4)
    plain.running_mean.uniform_(-1, 1)
    plain.running_var.uniform_(0.5, 2)
    seen: dict[str, object] = {}
    x = _batch()
    for frozen in (False, True):
        sync = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(plain)).train()
        sync.requires_grad_(not frozen)
        try:
            sync(x)
            seen[f"train, frozen={frozen}"] = "no error"
        except ValueError as exc:
            seen[f"train, frozen={frozen}"] = f"ValueError: {exc}"
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(plain)).eval()
    before = {k: v.clone() for k, v in sync.state_dict().items()}
    seen["eval: type"] = type(sync[0]).__name__
    seen["eval: equals BatchNorm1d in eval mode"] = torch.equal(sync(x), plain.eval()(x))
    seen["eval: buffers unchanged"] = all(
        torch.equal(before[k], v) for k, v in sync.state_dict().items()
    )
    return seen


@claim(
    "ddp.syncbn",
    "On CPU, with a gloo process group running, `nn.SyncBatchNorm` (from "
    "`convert_sync_batchnorm`) in train mode raises `ValueError` (`SyncBatchNorm expected "
    "input tensor to be on GPU`), with its parameters frozen too; in eval mode it runs, gives "
    "exactly the output of `BatchNorm1d` in eval mode with the same statistics, and updates no "
    "buffer.",
)
@deterministic
def _ddp_syncbn(obs: Observer) -> None:
    for rank, seen in enumerate(ddp.run(_sync_batchnorm).values):
        for frozen in (False, True):
            where = f"rank {rank}: train, frozen={frozen}"
            message = seen[f"train, frozen={frozen}"]
            obs.expect(
                f"{where}: raised", str(message).startswith(f"ValueError: {SYNCBN_CPU}"), True
            )
        obs.expect(f"rank {rank}: eval: type", seen["eval: type"], "SyncBatchNorm")
        obs.expect(
            f"rank {rank}: eval: equals BatchNorm1d in eval mode",
            seen["eval: equals BatchNorm1d in eval mode"],
            True,
        )
        obs.expect(f"rank {rank}: eval: buffers unchanged", seen["eval: buffers unchanged"], True)


def _buffers_in_eval() -> dict[str, bool]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    wrapped = _wrap(model)

    def evaluate() -> tuple[bool, bool, torch.Tensor]:
        wrapped.eval()
        with torch.no_grad():
            y = wrapped(torch.ones(2, 4))
        wrapped.train()
        rank0 = model[1].running_mean.clone()
        dist.broadcast(rank0, 0)
        return torch.equal(model[1].running_mean, rank0), _equal_on_all_ranks(y), y

    for step in range(3):
        wrapped(_batch(step)).square().sum().backward()
    seen = {"after training: running_mean equal": _equal_on_all_ranks(model[1].running_mean)}
    held, same, _ = evaluate()
    seen["after an eval forward: running_mean is rank 0's"] = held
    seen["after an eval forward: output equal"] = same
    with torch.no_grad():
        wrapped(_batch(3))  # train mode: each process updates its statistics
    held, same, _ = evaluate()
    seen["eval forward after a no_grad one: running_mean is rank 0's"] = held
    seen["eval forward after a no_grad one: output equal"] = same
    return seen


@claim(
    "ddp.buffers",
    "A `DistributedDataParallel` forward that follows a forward with gradients enabled (outside "
    "`no_sync()`) first copies rank 0's buffers to every process (`broadcast_buffers=True`, "
    "the default), and one that follows a forward under `torch.no_grad()` copies nothing: "
    "after training steps on different data the two processes' BatchNorm `running_mean` "
    "differ, and after one forward in eval mode under `torch.no_grad()` both hold rank 0's "
    "statistics and give the same output for the same input; after a train-mode forward "
    "under `torch.no_grad()`, the same eval-mode forward leaves each process its own "
    "`running_mean`, and their outputs differ.",
)
@deterministic
def _ddp_buffers(obs: Observer) -> None:
    for rank, seen in enumerate(ddp.run(_buffers_in_eval).values):
        for what, expected in (
            ("after training: running_mean equal", False),
            ("after an eval forward: running_mean is rank 0's", True),
            ("after an eval forward: output equal", True),
            ("eval forward after a no_grad one: running_mean is rank 0's", rank == 0),
            ("eval forward after a no_grad one: output equal", False),
        ):
            obs.expect(f"rank {rank}: {what}", seen[what], expected)


def _rewrap() -> dict[str, object]:
    model = _net()
    model[0].requires_grad_(False)
    first = _wrap(model)
    first(_batch()).square().sum().backward()
    model[0].requires_grad_(True)
    model.zero_grad(set_to_none=True)
    return _train(_wrap(model), 2)


@claim(
    "ddp.rewrap",
    "Wrapping the model in a new `DistributedDataParallel` after changing what is frozen "
    "puts the new set of trainable parameters into the averaging: a layer frozen at the first "
    "wrapping and unfrozen before the second gets averaged gradients in the next two steps, as "
    "the other layers do, with no error or warning.",
    torch_versions="!=2.8.*,!=2.9.*,!=2.10.*",  # the records of other releases (evidence page)
)
@deterministic
def _ddp_rewrap(obs: Observer) -> None:
    results = ddp.run(_rewrap)
    _expect_clean(obs, "wrapped again", results)
    for rank, seen in enumerate(results.values):
        for step in (0, 1):
            report = seen[f"step {step}"]
            assert isinstance(report, dict)
            where = f"rank {rank}, step {step}"
            for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
                obs.expect(f"{where}: {name} grad averaged", report[f"{name} averaged"], True)
