"""Specification of the behaviour matrix: every cell measured, none typed by hand."""

from __future__ import annotations

from dataclasses import fields

import pytest
import torch
from torch import nn

from gradmodes.matrix import MatrixRow, behaviour_matrix, format_matrix
from gradmodes.models import SimpleModel, mlp
from gradmodes.modes import GRAD_MODES
from gradmodes.probes import observe


@pytest.fixture(scope="module")
def rows() -> list[MatrixRow]:
    return behaviour_matrix()


def test_matrix_has_one_row_per_setting_in_a_fixed_order(rows: list[MatrixRow]) -> None:
    settings = [(row.training, row.grad_mode, row.requires_grad) for row in rows]
    assert settings == [
        (training, grad_mode, requires_grad)
        for training in (True, False)
        for grad_mode in GRAD_MODES
        for requires_grad in (True, False)
    ]


def test_every_cell_matches_observe(rows: list[MatrixRow]) -> None:
    inputs = torch.randn(16, 10)
    measured = behaviour_matrix(SimpleModel, inputs)
    for row in measured:
        torch.manual_seed(0)
        model = SimpleModel().train(row.training).requires_grad_(row.requires_grad)
        seen = observe(model, inputs, grad_mode=row.grad_mode, backward=True)
        assert (
            row.dropout_active,
            row.bn_stats_updated,
            row.output_requires_grad,
            row.saved_bytes,
            row.saved_storage_bytes,
            row.backward_ok,
        ) == (
            seen.dropout_active,
            seen.bn_stats_updated,
            seen.output_requires_grad,
            seen.saved_bytes,
            seen.saved_storage_bytes,
            seen.backward_ok,
        )


def test_simple_model_matrix_follows_the_two_rules(rows: list[MatrixRow]) -> None:
    for row in rows:
        # train/eval decides Dropout and BatchNorm, whatever the grad mode ...
        assert (row.dropout_active, row.bn_stats_updated) == (row.training, row.training)
        # ... grad mode and requires_grad decide recording (the input never requires grad).
        recording = row.grad_mode == "grad" and row.requires_grad
        assert (
            row.output_requires_grad,
            row.saved_bytes > 0,
            row.saved_storage_bytes > 0,
            row.backward_ok,
        ) == (recording, recording, recording, recording)
        # distinct storages, each counted once, never exceed the bytes referenced
        assert row.saved_storage_bytes <= row.saved_bytes


def test_matrix_is_deterministic_and_leaves_the_rng_alone(rows: list[MatrixRow]) -> None:
    state = torch.get_rng_state()
    assert behaviour_matrix() == rows
    assert torch.equal(torch.get_rng_state(), state)


def test_matrix_of_a_model_without_dropout_or_batchnorm() -> None:
    for row in behaviour_matrix(lambda: mlp(8), torch.randn(4, 8)):
        assert (row.dropout_active, row.bn_stats_updated) == (None, None)


def test_matrix_of_an_empty_model() -> None:
    for row in behaviour_matrix(nn.Sequential, torch.randn(3)):
        assert (row.output_requires_grad, row.saved_bytes, row.saved_storage_bytes) == (False, 0, 0)
        assert not row.backward_ok


def test_custom_factory_needs_inputs() -> None:
    with pytest.raises(ValueError, match="needs inputs for a custom model_factory"):
        behaviour_matrix(SimpleModel)


@pytest.mark.parametrize("factory", ["SimpleModel", 3], ids=repr)
def test_factory_must_be_callable(factory: object) -> None:
    with pytest.raises(TypeError, match="model_factory must be a callable"):
        behaviour_matrix(factory, torch.randn(2, 10))  # type: ignore[arg-type]


def test_factory_must_not_be_a_model_instance() -> None:
    with pytest.raises(TypeError, match="got the model instance SimpleModel"):
        behaviour_matrix(SimpleModel(), torch.randn(2, 10))  # type: ignore[arg-type]


def test_factory_must_return_a_module() -> None:
    with pytest.raises(TypeError, match=r"behaviour_matrix\(\) needs a torch.nn.Module"):
        behaviour_matrix(lambda: "model", torch.randn(2, 10))  # type: ignore[arg-type, return-value]


def test_inputs_must_be_a_tensor() -> None:
    with pytest.raises(TypeError, match=r"inputs must be a torch\.Tensor, got list"):
        behaviour_matrix(SimpleModel, [[0.0] * 10])  # type: ignore[arg-type]


def test_format_matrix_is_an_aligned_plain_text_table(rows: list[MatrixRow]) -> None:
    lines = format_matrix(rows).splitlines()
    assert len(lines) == 1 + len(rows)
    assert lines[0].split() == [field.name for field in fields(MatrixRow)]
    assert lines[1].split() == [
        "True",
        "grad",
        "True",
        "True",
        "True",
        "True",
        str(rows[0].saved_bytes),
        str(rows[0].saved_storage_bytes),
        "True",
    ]
    starts = [lines[0].index(name) for name in lines[0].split()]
    for line in lines[1:]:
        assert all(line[start - 2 : start] == "  " for start in starts[1:])


def test_format_matrix_shows_none_as_a_dash() -> None:
    rows = behaviour_matrix(lambda: mlp(2), torch.randn(1, 2))
    assert format_matrix(rows).splitlines()[1].split()[3:5] == ["-", "-"]


def test_format_matrix_of_no_rows_is_the_header() -> None:
    assert format_matrix([]).split() == [field.name for field in fields(MatrixRow)]
