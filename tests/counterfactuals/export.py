"""Counterfactual torches for ``gradmodes.claims.export``: exporters that treat the mode
differently."""

from __future__ import annotations

import copy
import functools
import types
import warnings
from typing import Any

import pytest
import torch
from torch import nn
from torch.export import ExportedProgram
from torch.export._unlift import _unlift_exported_program_lifted_states

from counterfactuals import counterfactual


def _silent_warnings() -> types.SimpleNamespace:
    return types.SimpleNamespace(warn=lambda *args, **kwargs: None)


@counterfactual("ex.jit-deprecated", "torch.jit.trace and torch.jit.script are not deprecated")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch.jit._trace, "warnings", _silent_warnings())
    patch.setattr(torch.jit._script, "warnings", _silent_warnings())


@counterfactual("ex.trace-bakes", "torch.jit.trace keeps the mode as an attribute (scripts)")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch.jit, "trace", lambda model, *args, **kwargs: torch.jit.script(model))


@counterfactual("ex.script-follows", "a scripted module's train()/eval() do nothing")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch.jit.RecursiveScriptModule, "train", lambda self, mode=True: self)


def _in_eval_mode(export: Any) -> Any:
    """An exporter that puts the model in eval mode first (as the old ONNX exporter's
    default ``training=TrainingMode.EVAL`` did)."""

    @functools.wraps(export)
    def export_eval(model: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        return export(model.eval(), *args, **kwargs)

    return export_eval


@counterfactual("ex.export-bakes", "torch.export.export always exports in eval mode")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch.export, "export", _in_eval_mode(torch.export.export))


@counterfactual("ex.export-no-eval", "program.module() switches mode like any nn.Module")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(
        ExportedProgram,
        "module",
        lambda self, check_guards=True: _unlift_exported_program_lifted_states(
            self, check_guards=check_guards
        ),
    )


@counterfactual("ex.export-shares", "program.module() returns a copy of the parameters")
def _(patch: pytest.MonkeyPatch) -> None:
    module = ExportedProgram.module

    def copied(self: ExportedProgram, **kwargs: Any) -> Any:
        unlifted = module(self, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pytree's own FutureWarning while copying
            return copy.deepcopy(unlifted)

    patch.setattr(ExportedProgram, "module", copied)


@counterfactual("ex.export-no-grad", "torch.export.export always traces with gradients on")
def _(patch: pytest.MonkeyPatch) -> None:
    export = torch.export.export

    def export_with_grad(*args: Any, **kwargs: Any) -> Any:
        with torch.enable_grad():
            return export(*args, **kwargs)

    patch.setattr(torch.export, "export", export_with_grad)


@counterfactual("ex.onnx-dropout", "torch.onnx.export exports in eval mode")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch.onnx, "export", _in_eval_mode(torch.onnx.export))


@counterfactual("ex.onnx-ort-removes-dropout", "torch.onnx.export exports in eval mode")
def _(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(torch.onnx, "export", _in_eval_mode(torch.onnx.export))


@counterfactual("ex.onnx-batchnorm", "train-mode BatchNorm is exported with batch statistics")
def _(patch: pytest.MonkeyPatch) -> None:
    export = torch.onnx.export

    def batch_statistics(model: nn.Module, *args: Any, **kwargs: Any) -> Any:
        model = copy.deepcopy(model)
        for layer in model.modules():
            if isinstance(layer, nn.modules.batchnorm._BatchNorm) and layer.training:
                layer.track_running_stats = False
                layer.running_mean = layer.running_var = None
        return export(model, *args, **kwargs)

    patch.setattr(torch.onnx, "export", batch_statistics)
