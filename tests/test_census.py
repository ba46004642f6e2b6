"""The census of torch.nn: its universe is torch's own; each measured column means what it says."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gradmodes import census as c
from gradmodes.census import (
    FUNCTION_CALLS,
    SKIPPED,
    SPECS,
    Spec,
    census,
    format_census,
    measure,
    module_classes,
    rand,
    randn,
    training_functions,
)


def test_module_classes_are_the_public_module_subclasses_of_torch_nn() -> None:
    classes = module_classes()
    assert classes["Linear"] is nn.Linear and classes["Module"] is nn.Module
    assert all(
        issubclass(cls, nn.Module) and not name.startswith("_") for name, cls in classes.items()
    )
    assert "Parameter" not in classes  # a tensor, not a module
    assert "_BatchNorm" not in classes  # private base classes are not exported


def test_every_class_is_either_built_or_skipped_with_a_reason() -> None:
    built = {spec.name for spec in SPECS}
    assert set(module_classes()) == built | set(SKIPPED)
    assert built.isdisjoint(SKIPPED)
    assert all(reason.strip() for reason in SKIPPED.values())


def test_the_skipped_classes_are_bases_containers_and_a_wrapper() -> None:
    assert set(SKIPPED) == {
        "Module", "Container", "RNNBase", "RNNCellBase", "Sequential", "ModuleList",
        "ModuleDict", "ParameterList", "ParameterDict", "DataParallel",
    }  # fmt: skip


def test_every_spec_builds_the_class_it_names_and_has_a_distinct_label() -> None:
    labels = [spec.label for spec in SPECS]
    assert len(labels) == len(set(labels))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # NLLLoss2d is deprecated
        for spec in SPECS:
            assert type(spec.build()) is getattr(nn, spec.name), spec.label


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # (output_changes, random_train, random_eval, buffers_train, buffers_eval)
        (Spec("Dropout", inputs=randn(4, 6)), (True, True, False, False, False)),
        (Spec("BatchNorm1d", (3,), inputs=randn(4, 3)), (True, False, False, True, False)),
        (
            Spec("BatchNorm1d", (3,), {"track_running_stats": False}, inputs=randn(4, 3)),
            (False, False, False, False, False),
        ),
        (Spec("ReLU", inputs=randn(4, 6)), (False, False, False, False, False)),
        (
            Spec("FractionalMaxPool2d", (2,), {"output_size": 3}, inputs=randn(1, 1, 7, 7)),
            (False, True, True, False, False),
        ),
        (Spec("LazyLinear", (3,), inputs=randn(2, 4)), (False, False, False, False, False)),
    ],
    ids=lambda value: value.label if isinstance(value, Spec) else "",
)
def test_measure_reports_what_train_and_eval_mode_change(
    spec: Spec, expected: tuple[bool, ...]
) -> None:
    row = measure(spec)
    seen = (
        row.output_changes,
        row.random_train,
        row.random_eval,
        row.buffers_train,
        row.buffers_eval,
    )
    assert seen == expected


def test_measure_sees_the_fast_path_change_the_eval_output_under_no_grad() -> None:
    layer = Spec(
        "TransformerEncoderLayer",
        (8, 2),
        {"dim_feedforward": 16, "dropout": 0.0, "batch_first": True},
        inputs=randn(2, 5, 8),
    )
    row = measure(layer)
    assert (row.output_changes, row.grad_mode_changes_train, row.grad_mode_changes_eval) == (
        False,
        False,
        True,
    )
    assert 0 < row.grad_mode_difference <= 1e-5


def test_measure_records_warnings_instead_of_showing_them() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning shown here would fail the test
        row = measure(
            Spec(
                "NLLLoss2d", inputs=lambda: (torch.randn(2, 3).log_softmax(1), torch.tensor([0, 1]))
            )
        )
    assert any("deprecated" in message for message in row.warnings)


def test_measure_leaves_the_callers_random_state_and_threads_alone() -> None:
    threads = torch.get_num_threads()
    state = torch.random.get_rng_state()
    measure(Spec("Dropout", inputs=randn(4, 6)))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.get_num_threads() == threads


def test_a_spec_that_returns_nan_is_refused() -> None:
    bad = Spec("Identity", inputs=lambda: (torch.tensor([float("nan")]),))
    with pytest.raises(ValueError, match="non-finite output: give it other inputs"):
        measure(bad)


def test_the_census_covers_every_spec_in_order() -> None:
    rows = census(SPECS[:5])
    assert [row.label for row in rows] == [spec.label for spec in SPECS[:5]]


def test_format_census_has_a_header_and_one_line_per_row() -> None:
    rows = census([Spec("Dropout", inputs=randn(2)), Spec("Tanh", inputs=randn(2))])
    lines = format_census(rows).splitlines()
    assert lines[0].split() == [
        "output_changes", "random_train", "random_eval", "buffers_train", "buffers_eval",
        "grad_mode_changes_eval", "label",
    ]  # fmt: skip
    assert [line.split()[-1] for line in lines[1:]] == ["Dropout()", "Tanh()"]


def test_the_training_functions_are_found_in_torch_nn_functional() -> None:
    rows = training_functions()
    names = [row.name for row in rows]
    assert set(names) == set(FUNCTION_CALLS)
    assert {"dropout", "batch_norm", "rrelu_"} <= set(names)  # Python and C functions
    assert "instance_norm" not in names  # it has use_input_stats, not training
    assert all(row.acts_as == row.default for row in rows)


def test_a_new_function_with_a_training_argument_needs_its_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def new_dropout(input: torch.Tensor, training: bool = True) -> torch.Tensor:
        return input

    monkeypatch.setattr(F, "new_dropout", new_dropout, raising=False)
    with pytest.raises(LookupError, match=r"no arguments for F\.new_dropout: add them"):
        training_functions()


def test_a_function_whose_training_argument_changes_nothing_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(F, "rrelu", lambda input, lower=0.1, upper=0.3, training=False: input)
    with pytest.raises(ValueError, match="cannot be told apart"):
        training_functions()


def test_input_makers_make_fresh_tensors_of_the_shape_asked() -> None:
    first, second = randn(2, 3, count=2)()
    assert first.shape == second.shape == (2, 3) and not torch.equal(first, second)
    (probabilities,) = rand(100)()
    assert bool(((probabilities > 0) & (probabilities < 1)).all())
    assert c.ints(3, 5)()[0].dtype == torch.int64
