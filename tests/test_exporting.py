"""gradmodes.exporting: the operators, Dropout modes and outputs of an ONNX graph."""

from __future__ import annotations

import warnings

import _onnx_models
import pytest
import torch
from torch import nn

from gradmodes.exporting import onnx_dropout_training, onnx_ops, run_onnx


def test_onnx_ops_lists_the_operators_without_constants() -> None:
    assert onnx_ops(_onnx_models.dropout(True)) == ["Dropout"]
    assert onnx_ops(_onnx_models.identity()) == ["Identity"]


@pytest.mark.parametrize("training", [True, False])
def test_onnx_dropout_training_reads_the_mode_input(training: bool) -> None:
    assert onnx_dropout_training(_onnx_models.dropout(training)) == [training]


def test_a_graph_without_dropout_has_no_modes() -> None:
    assert onnx_dropout_training(_onnx_models.identity()) == []


def test_run_onnx_returns_tensors() -> None:
    (out,) = run_onnx(_onnx_models.identity(), torch.tensor([1.0, 2.0]))
    assert isinstance(out, torch.Tensor) and out.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("optimize", [True, False])
def test_a_dropout_in_training_mode_drops_in_onnxruntime(optimize: bool) -> None:
    ones = torch.ones(64)
    (out,) = run_onnx(_onnx_models.dropout(True), ones, optimize=optimize)
    assert set(out.tolist()) == {0.0, 2.0}
    (out,) = run_onnx(_onnx_models.dropout(False), ones, optimize=optimize)
    assert torch.equal(out, ones)


def test_what_torch_onnx_export_returns_is_accepted() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the train-mode warning, pytree's FutureWarning
        program = torch.onnx.export(model, (torch.ones(1, 2),), dynamo=True, verbose=False)
    assert onnx_ops(program) == ["Gemm", "Dropout"]
    assert onnx_dropout_training(program) == [True]
