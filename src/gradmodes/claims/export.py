"""Claims about tracing and exporting in train and eval mode: what is baked in, what follows.

``torch.jit.trace``, ``torch.jit.script``, ``torch.export.export`` and
``torch.onnx.export(..., dynamo=True)`` (checked with onnxruntime). The checks record the
warnings these raise instead of letting them reach stderr (or fail the tests, which turn
warnings into errors).
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from gradmodes.claims._common import deterministic, time_limited
from gradmodes.claims._registry import Observer, claim
from gradmodes.models import SimpleModel

__all__: list[str] = []


def _export_check(run: Callable[[Observer], None]) -> Callable[[Observer], None]:
    """An export check: seeded, stopped after 120 s."""
    return time_limited(120)(deterministic(run))


@contextmanager
def _quiet() -> Iterator[list[warnings.WarningMessage]]:
    """Record warnings; keep the ONNX exporter's notes ("torchvision is not installed") quiet."""
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
    finally:
        onnx_log.setLevel(level)


def _drops(module: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """Whether two calls on the same input differ, as they do while a Dropout drops."""
    x = torch.ones(16, 10)
    with torch.no_grad():
        return not torch.equal(module(x), module(x))


def _bn_updates(module: Callable[[torch.Tensor], torch.Tensor], bn: nn.Module) -> bool:
    before = bn.num_batches_tracked.clone()
    with torch.no_grad():
        module(torch.randn(16, 10))
    return not torch.equal(before, bn.num_batches_tracked)


@claim(
    "ex.jit-deprecated",
    "`torch.jit.trace` and `torch.jit.script` issue a `DeprecationWarning` "
    "(`` `torch.jit.trace` is deprecated ``, `` `torch.jit.script` is deprecated ``, each "
    "followed by `` Please switch to `torch.compile` or `torch.export`. ``).",
    torch_versions=">=2.10,<2.14",  # the records of other releases (evidence page)
)
@_export_check
def _ex_jit_deprecated(obs: Observer) -> None:
    model = SimpleModel().eval()
    for name, make in (
        ("trace", lambda: torch.jit.trace(model, torch.randn(16, 10))),
        ("script", lambda: torch.jit.script(model)),
    ):
        with _quiet() as caught:
            make()
        messages = [str(w.message) for w in caught if w.category is DeprecationWarning]
        expected = (
            f"`torch.jit.{name}` is deprecated. Please switch to `torch.compile` or `torch.export`."
        )
        obs.expect(f"torch.jit.{name}: the DeprecationWarning", expected in messages, True)


@claim(
    "ex.trace-bakes",
    "`torch.jit.trace` bakes the mode into the trace: a `SimpleModel` traced in train mode "
    "calls `torch.dropout(..., 0.5, True)`, and still drops and still updates BatchNorm's "
    "running statistics after `traced.eval()` (`traced.training` is then `False`); one traced "
    "in eval mode does neither after `traced.train()`.",
)
@_export_check
def _ex_trace_bakes(obs: Observer) -> None:
    for mode in ("train", "eval"):
        model = SimpleModel().train(mode == "train")
        with _quiet():
            traced = torch.jit.trace(model, torch.randn(16, 10), check_trace=False)
        call = traced.dropout.code.strip().splitlines()[-1].strip()
        obs.record(f"traced in {mode} mode: the recorded call", call)
        obs.expect(
            f"traced in {mode} mode: the call is torch.dropout(..., 0.5, {mode == 'train'})",
            call.startswith("return torch.dropout(")
            and call.endswith(f", 0.5, {mode == 'train'})"),
            True,
        )
        traced.train(mode != "train")  # switch the trace to the other mode
        obs.expect(
            f"traced in {mode} mode, switched: traced.training", traced.training, mode != "train"
        )
        obs.expect(f"traced in {mode} mode, switched: drops", _drops(traced), mode == "train")
        obs.expect(
            f"traced in {mode} mode, switched: BatchNorm statistics update",
            _bn_updates(traced, model.bn),
            mode == "train",
        )


@claim(
    "ex.script-follows",
    "`torch.jit.script` keeps `self.training` as an attribute of the scripted module: a "
    "scripted `SimpleModel` drops and updates BatchNorm's running statistics in train mode, "
    "and after `scripted.eval()` does neither.",
)
@_export_check
def _ex_script_follows(obs: Observer) -> None:
    model = SimpleModel()
    with _quiet():
        scripted = torch.jit.script(model)
    obs.expect("train mode: drops", _drops(scripted), True)
    obs.expect("train mode: BatchNorm statistics update", _bn_updates(scripted, scripted.bn), True)
    scripted.eval()
    obs.expect("after scripted.eval(): drops", _drops(scripted), False)
    obs.expect(
        "after scripted.eval(): BatchNorm statistics update",
        _bn_updates(scripted, scripted.bn),
        False,
    )


def _exported(mode: str) -> tuple[nn.Module, Any]:
    model = SimpleModel().train(mode == "train")
    with _quiet():
        program = torch.export.export(model, (torch.randn(16, 10),))
    return model, program


@claim(
    "ex.export-bakes",
    "`torch.export.export` bakes the mode into the program: exported in train mode, its graph "
    "calls `aten.dropout` and `aten.batch_norm` with training `True` and the module from "
    "`program.module()` drops (two calls on the same input differ); exported in eval mode, both "
    "with `False`, and two calls agree.",
    torch_versions=">=2.6",  # the records of other releases (evidence page)
)
@_export_check
def _ex_export_bakes(obs: Observer) -> None:
    for mode in ("train", "eval"):
        _, program = _exported(mode)
        flag = mode == "train"
        obs.expect(
            f"exported in {mode} mode: the training arguments of aten.dropout, aten.batch_norm",
            _training_arguments(program),
            {"dropout": flag, "batch_norm": flag},
        )
        obs.expect(
            f"exported in {mode} mode: program.module() drops", _drops(program.module()), flag
        )


def _training_arguments(program: Any) -> dict[str, object]:
    """The ``train``/``training`` argument of each dropout and batch_norm call in the graph."""
    position = {torch.ops.aten.dropout.default: 2, torch.ops.aten.batch_norm.default: 5}
    return {
        node.target.__name__.split(".")[0]: node.args[position[node.target]]
        for node in program.graph.nodes
        if node.op == "call_function" and node.target in position
    }


@claim(
    "ex.export-no-eval",
    "The module from `program.module()` refuses to switch mode: its `eval()` and `train()` "
    "raise `NotImplementedError` (`Calling eval() is not supported yet.`, `Calling train() is "
    "not supported yet.`).",
    torch_versions=">=2.3",  # the records of other releases (evidence page)
)
@_export_check
def _ex_export_no_eval(obs: Observer) -> None:
    _, program = _exported("train")
    module = program.module()
    for name in ("eval", "train"):
        with obs.expect_raises(
            f"program.module().{name}()", NotImplementedError, f"Calling {name}() is not supported"
        ):
            getattr(module, name)()


@claim(
    "ex.export-shares",
    "The module from `program.module()` uses the exported model's own parameters and buffers: "
    "calling it, from a `SimpleModel` exported in train mode, updates that model's BatchNorm "
    "`num_batches_tracked` and `running_mean`.",
    torch_versions=">=2.3",  # the records of other releases (evidence page)
)
@_export_check
def _ex_export_shares(obs: Observer) -> None:
    model, program = _exported("train")
    module = program.module()
    obs.expect(
        "module's linear.weight is model.linear.weight",
        module.get_parameter("linear.weight") is model.linear.weight,
        True,
    )
    mean = model.bn.running_mean.clone()
    obs.expect("model.bn.num_batches_tracked after export", model.bn.num_batches_tracked.item(), 0)
    with torch.no_grad():
        module(torch.randn(16, 10))
    obs.expect(
        "model.bn.num_batches_tracked after one call", model.bn.num_batches_tracked.item(), 1
    )
    obs.expect("model.bn.running_mean changed", not torch.equal(mean, model.bn.running_mean), True)


class _InnerNoGrad(nn.Module):
    """``Linear(4, 4)`` applied twice, the first time inside ``torch.no_grad()``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            hidden = self.linear(x)
        return self.linear(hidden).sum()


@claim(
    "ex.export-no-grad",
    "A model's own `with torch.no_grad():` block survives `torch.export.export` called with "
    "gradients enabled (as `wrap_with_set_grad_enabled(False, ...)`), but not one called "
    "under `torch.no_grad()`: that program records the block, and its weight gradient "
    "differs from the model's.",
    torch_versions=">=2.4",  # the records of other releases (evidence page)
)
@_export_check
def _ex_export_no_grad(obs: Observer) -> None:
    model = _InnerNoGrad()
    x = torch.randn(2, 4)
    (expected,) = torch.autograd.grad(model(x), model.linear.weight)
    with _quiet():
        enabled = torch.export.export(model, (x,))
        with torch.no_grad():
            disabled = torch.export.export(model, (x,))
    for name, program, same in (("enabled", enabled, True), ("no_grad", disabled, False)):
        code = program.graph_module.code
        obs.expect(
            f"exported with grad {name}: wrap_with_set_grad_enabled in the graph",
            "wrap_with_set_grad_enabled(False" in code,
            same,
        )
        (grad,) = torch.autograd.grad(program.module()(x), model.linear.weight)
        obs.expect(
            f"exported with grad {name}: weight gradient equals the model's",
            torch.allclose(grad, expected),
            same,
        )


def _onnx(model: nn.Module, x: torch.Tensor) -> tuple[Any, list[str]]:
    """``torch.onnx.export(..., dynamo=True)`` and the messages of its UserWarnings."""
    with _quiet() as caught:
        program = torch.onnx.export(model, (x,), dynamo=True, verbose=False)
    return program, [str(w.message) for w in caught if w.category is UserWarning]


TRAIN_WARNING = (
    "Exporting a model while it is in training mode. Please ensure that this is intended, as "
    "it may lead to different behavior during inference. Calling model.eval() before export "
    "is recommended."
)


@claim(
    "ex.onnx-dropout",
    "`torch.onnx.export(model, ..., dynamo=True)` of `Linear`-`Dropout` in train mode issues "
    "a `UserWarning` (`Exporting a model while it is in training mode. ...`) and gives `Gemm` "
    "and a `Dropout` node whose `training_mode` is `True`, and two onnxruntime runs on the "
    "same input differ; exported in eval mode, without the warning, it is `Gemm` alone.",
    torch_versions=">=2.10",  # the records of other releases (evidence page)
)
@_export_check
def _ex_onnx_dropout(obs: Observer) -> None:
    from gradmodes.exporting import onnx_dropout_training, onnx_ops, run_onnx

    x = torch.randn(8, 4)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    train, messages = _onnx(model.train(), x)
    obs.expect("train mode: the training-mode UserWarning", TRAIN_WARNING in messages, True)
    obs.expect("train mode: onnx_ops", onnx_ops(train), ["Gemm", "Dropout"])
    obs.expect("train mode: onnx_dropout_training", onnx_dropout_training(train), [True])
    obs.expect(
        "train mode: two onnxruntime runs differ",
        not torch.equal(run_onnx(train, x)[0], run_onnx(train, x)[0]),
        True,
    )
    evaluation, messages = _onnx(model.eval(), x)
    obs.expect("eval mode: the training-mode UserWarning", TRAIN_WARNING in messages, False)
    obs.expect("eval mode: onnx_ops", onnx_ops(evaluation), ["Gemm"])


@claim(
    "ex.onnx-batchnorm",
    "`BatchNorm1d` exported to ONNX in train mode normalises with its running statistics in "
    "onnxruntime, as in eval mode: the output equals the eager model's in eval mode, not in "
    "train mode (batch statistics).",
    torch_versions=">=2.7",  # the records of other releases (evidence page)
)
@_export_check
def _ex_onnx_batchnorm(obs: Observer) -> None:
    from gradmodes.exporting import run_onnx

    x = torch.randn(8, 4)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    with torch.no_grad():
        model.train()(x)  # running statistics that differ from their initial values
        eval_out = copy.deepcopy(model).eval()(x)
        train_out = copy.deepcopy(model).train()(x)
    program, _ = _onnx(model.train(), x)
    (out,) = run_onnx(program, x)
    obs.expect(
        "onnxruntime output == eager eval output", torch.allclose(out, eval_out, atol=1e-5), True
    )
    obs.expect(
        "onnxruntime output == eager train output", torch.allclose(out, train_out, atol=1e-5), False
    )


def _optimized_ops(program: Any) -> list[str]:
    """The operators of the graph as onnxruntime's default optimizations leave it."""
    import tempfile
    from pathlib import Path

    import onnx
    import onnxruntime

    with tempfile.TemporaryDirectory() as folder:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(Path(folder) / "optimized.onnx")
        options.log_severity_level = 3
        onnxruntime.InferenceSession(
            program.model_proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        optimized = onnx.load(options.optimized_model_filepath)
    return [node.op_type for node in optimized.graph.node if node.op_type != "Constant"]


@claim(
    "ex.onnx-ort-removes-dropout",
    "onnxruntime's default graph optimizations remove the `Dropout` node of a train-mode export "
    "of `Linear`-`Dropout`-`BatchNorm1d` although its `training_mode` is `True`: two runs on "
    "the same input agree, while with optimizations off (`ORT_DISABLE_ALL`) they differ.",
    torch_versions=">=2.7",  # the records of other releases (evidence page)
)
@_export_check
def _ex_onnx_ort_removes_dropout(obs: Observer) -> None:
    from gradmodes.exporting import onnx_dropout_training, run_onnx

    x = torch.randn(8, 4)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4)).train()
    program, _ = _onnx(model, x)
    obs.expect("onnx_dropout_training(program)", onnx_dropout_training(program), [True])
    obs.expect(
        "operators after onnxruntime's basic optimizations (part of its default)",
        _optimized_ops(program),
        ["Gemm", "BatchNormalization"],
    )
    obs.expect(
        "default optimizations: two runs differ",
        not torch.equal(run_onnx(program, x)[0], run_onnx(program, x)[0]),
        False,
    )
    obs.expect(
        "ORT_DISABLE_ALL: two runs differ",
        not torch.equal(
            run_onnx(program, x, optimize=False)[0], run_onnx(program, x, optimize=False)[0]
        ),
        True,
    )
