"""Bad input: every public function refuses it clearly, or gives a well-defined answer.

Each public function of ``gradmodes`` and ``gradmodes.claims``, and the command line, appears
in the tables below with a wrong type, an unknown name, an empty model (``nn.Sequential()``)
or a model without BatchNorm and Dropout. A test checks that no public function is missing,
so a new one comes with its cases.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from torch import nn

import gradmodes
import gradmodes.claims
from gradmodes import (
    SimpleModel,
    behaviour_matrix,
    count_saved,
    evaluating,
    format_matrix,
    freeze,
    freeze_batchnorm,
    grad_context,
    mlp,
    observe,
    records,
    trainable_parameters,
    unfreeze,
    unfreeze_batchnorm,
)
from gradmodes.__main__ import main
from gradmodes.claims import UnknownClaim, check, claim, get_claim

MODULES = "valid module names: dropout, bn, linear"


def x10() -> torch.Tensor:
    return torch.randn(4, 10)


class Refused(NamedTuple):
    function: str
    given: str
    call: Callable[[], object]
    error: type[Exception]
    message: str  # a regex: what is wrong and, where it helps, what would be valid


R = Refused
REFUSED = [
    R("observe", "a str model", lambda: observe("m", x10()), TypeError, r"observe\(\) needs a"),
    R("observe", "a list input", lambda: observe(SimpleModel(), [1.0]), TypeError, "Tensor input"),
    R(
        "observe",
        "an unknown grad mode",
        lambda: observe(SimpleModel(), x10(), grad_mode="eval"),
        ValueError,
        "unknown grad_mode 'eval'; valid values: grad, no_grad, inference_mode",
    ),
    R("freeze", "a str model", lambda: freeze("m"), TypeError, r"freeze\(\) needs a torch"),
    R("freeze", "an int prefix", lambda: freeze(SimpleModel(), 0), TypeError, r"names \(str\)"),
    R("freeze", "a substring", lambda: freeze(SimpleModel(), "lin"), ValueError, f"{MODULES}$"),
    R("freeze", "a dotted prefix", lambda: freeze(SimpleModel(), "linear."), ValueError, MODULES),
    R("freeze", "a parameter name", lambda: freeze(mlp(4), "0.weight"), ValueError, "0, 1, 2$"),
    R(
        "freeze",
        "a prefix, empty model",
        lambda: freeze(nn.Sequential(), "0"),
        ValueError,
        r"none \(the model has no submodules\)",
    ),
    R("unfreeze", "an unknown prefix", lambda: unfreeze(SimpleModel(), "x"), ValueError, MODULES),
    R("unfreeze", "None", lambda: unfreeze(None), TypeError, r"unfreeze\(\) needs a torch"),
    R("trainable_parameters", "a list", lambda: trainable_parameters([]), TypeError, "a torch"),
    R("freeze_batchnorm", "a str model", lambda: freeze_batchnorm("m"), TypeError, "a torch"),
    R(
        "freeze_batchnorm",
        "an unknown prefix",
        lambda: freeze_batchnorm(mlp(4), "3"),
        ValueError,
        "prefix '3' matches no module; valid module names: 0, 1, 2$",
    ),
    R("unfreeze_batchnorm", "an int model", lambda: unfreeze_batchnorm(1), TypeError, "a torch"),
    R(
        "unfreeze_batchnorm",
        "an unknown prefix",
        lambda: unfreeze_batchnorm(SimpleModel(), "x"),
        ValueError,
        MODULES,
    ),
    R(
        "behaviour_matrix",
        "a model, not a factory",
        lambda: behaviour_matrix(SimpleModel()),
        TypeError,
        "got the model instance SimpleModel",
    ),
    R(
        "behaviour_matrix",
        "a factory of str",
        lambda: behaviour_matrix(lambda: "m", x10()),
        TypeError,
        r"behaviour_matrix\(\) needs a torch.nn.Module, got str",
    ),
    R("behaviour_matrix", "no inputs", lambda: behaviour_matrix(mlp), ValueError, "needs inputs"),
    R("behaviour_matrix", "a str seed", lambda: behaviour_matrix(seed="0"), TypeError, "an int"),
    R("format_matrix", "str rows", lambda: format_matrix(["r"]), TypeError, "behaviour_matrix"),
    R("mlp", "a str width", lambda: mlp("64"), TypeError, "positive int, got str: '64'"),
    R("mlp", "a bool width", lambda: mlp(True), TypeError, "positive int, got bool"),
    R("mlp", "a zero width", lambda: mlp(0), ValueError, "positive int, got 0"),
    R("SimpleModel", "an argument", lambda: SimpleModel(10), TypeError, "positional argument"),
    R("grad_context", "None", lambda: grad_context(None), ValueError, "unknown grad_mode None"),
    R("evaluating", "a str model", lambda: evaluating("m").__enter__(), TypeError, "a torch"),
    R(
        "evaluating",
        "grad mode 'grad'",
        lambda: evaluating(SimpleModel(), "grad").__enter__(),
        ValueError,
        "valid values: inference_mode, no_grad",
    ),
    R("count_saved", "an argument", lambda: count_saved(1), TypeError, "positional argument"),
    R(
        "count_saved",
        "a non-tensor to exclude",
        lambda: count_saved(exclude=[1]).__enter__(),
        TypeError,
        "takes tensors, got int",
    ),
    R("check", "a misspelt id", lambda: check("eval.flg"), UnknownClaim, "did you mean eval.flag"),
    R("check", "an int id", lambda: check(3), TypeError, "a claim id is a str"),
    R("check", "an int device", lambda: check("eval.flag", 0), TypeError, "device must be a"),
    R("check", "an unknown device", lambda: check("eval.flag", "tpu"), RuntimeError, "one of cpu"),
    R("get_claim", "None", lambda: get_claim(None), TypeError, "a claim id is a str"),
    R("get_claim", "an unknown id", lambda: get_claim("x.y"), UnknownClaim, "unknown claim id"),
    R("claim", "an id without section", lambda: claim("id", "It."), ValueError, "'section.name'"),
    R("claim", "an int id", lambda: claim(3, "It holds."), TypeError, "an id and a statement"),
    R("claim", "a blank statement", lambda: claim("t.b", " "), ValueError, "needs its statement"),
    R(
        "claim",
        "a bare version",
        lambda: claim("t.v", "It.", torch_versions="2"),
        ValueError,
        "440",
    ),
]


THIS_FILE = Path(__file__)  # a file where a record folder is expected
MISSING = THIS_FILE.with_name("no-such-record")
REFUSED += [
    R(
        "fingerprint",
        "a claim id",
        lambda: records.fingerprint("eval.flag"),
        TypeError,
        "a registered Claim",
    ),
    R(
        "make_record",
        "claim ids",
        lambda: records.make_record(["eval.flag"]),
        TypeError,
        "registered Claims",
    ),
    R("record_name", "a dict", lambda: records.record_name({}), TypeError, "an Environment"),
    R("write_record", "a dict", lambda: records.write_record({}, MISSING), TypeError, "a Record"),
    R(
        "write_record",
        "a file as folder",
        lambda: records.write_record(records.make_record([]), THIS_FILE),
        NotADirectoryError,
        "is a file",
    ),
    R(
        "read_record",
        "a missing file",
        lambda: records.read_record(MISSING),
        records.BadRecord,
        "no-such-record: not a readable",
    ),
    R(
        "load_records",
        "a file as folder",
        lambda: records.load_records(THIS_FILE),
        NotADirectoryError,
        "is a file",
    ),
    R(
        "status_of",
        "a claim id",
        lambda: records.status_of(records.make_record([]), "eval.flag"),
        TypeError,
        "a Record and a Claim",
    ),
    R("uses", "a claim id", lambda: records.uses("eval.flag"), TypeError, "a registered Claim"),
    R(
        "contradictions",
        "paths",
        lambda: records.contradictions([MISSING]),
        TypeError,
        "takes Records",
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: f"{c.function}: {c.given}")
def test_wrong_input_is_refused_with_a_clear_error(case: Refused) -> None:
    with pytest.raises(case.error, match=case.message):
        case.call()


class Answered(NamedTuple):
    function: str
    given: str
    call: Callable[[], object]
    answer: object


NOTHING = (None, None, False, False, 0, False)  # observe() on a model that does nothing
ROWS = len(gradmodes.GRAD_MODES) * 2 * 2


def _observed(model: nn.Module, x: torch.Tensor) -> tuple[object, ...]:
    seen = observe(model, x, backward=True)
    return (
        seen.dropout_active,
        seen.bn_stats_updated,
        seen.output_requires_grad,
        seen.has_grad_fn,
        seen.saved_bytes,
        seen.backward_ok,
    )


def _restored(model: nn.Module) -> bool:
    with evaluating(model) as inside:
        assert inside is model and not torch.is_grad_enabled()
    return model.training


def _matrix(factory: Callable[[], nn.Module], width: int) -> set[tuple[object, ...]]:
    rows = behaviour_matrix(factory, torch.randn(2, width))
    assert len(rows) == ROWS
    return {(r.dropout_active, r.bn_stats_updated) for r in rows}


EMPTY, PLAIN = "an empty model", "a model without BatchNorm and Dropout"
A = Answered
ANSWERED = [
    A("observe", EMPTY, lambda: _observed(nn.Sequential(), torch.ones(2, 3)), NOTHING),
    A("observe", PLAIN, lambda: _observed(mlp(4), torch.ones(2, 4))[:2], (None, None)),
    A("freeze", EMPTY, lambda: freeze(nn.Sequential()), []),
    A("unfreeze", EMPTY, lambda: unfreeze(nn.Sequential()), []),
    A("trainable_parameters", EMPTY, lambda: trainable_parameters(nn.Sequential()), []),
    A("freeze_batchnorm", EMPTY, lambda: freeze_batchnorm(nn.Sequential()), []),
    A("freeze_batchnorm", PLAIN, lambda: freeze_batchnorm(mlp(4)), []),
    A("unfreeze_batchnorm", PLAIN, lambda: unfreeze_batchnorm(mlp(4)), []),
    A("behaviour_matrix", EMPTY, lambda: _matrix(nn.Sequential, 3), {(None, None)}),
    A("behaviour_matrix", PLAIN, lambda: _matrix(lambda: mlp(4), 4), {(None, None)}),
    A("format_matrix", "no rows", lambda: len(format_matrix([]).splitlines()), 1),
    A("evaluating", EMPTY, lambda: _restored(nn.Sequential()), True),
    A("evaluating", "a model already in eval mode", lambda: _restored(mlp(4).eval()), False),
    A("make_record", "no claims", lambda: records.make_record([]).claims, {}),
    A("load_records", "a missing folder", lambda: records.load_records(MISSING), []),
    A("contradictions", "no records", lambda: records.contradictions([]), []),
]


@pytest.mark.parametrize("case", ANSWERED, ids=lambda c: f"{c.function}: {c.given}")
def test_an_unusual_model_gets_a_well_defined_answer(case: Answered) -> None:
    assert case.call() == case.answer


class Usage(NamedTuple):
    argv: list[str]
    message: str  # in stderr


USAGE = [
    Usage([], "the following arguments are required: COMMAND"),
    Usage(["frobnicate"], "invalid choice: 'frobnicate'"),
    Usage(["check", "eval.flg"], "unknown claim id 'eval.flg'; did you mean eval.flag"),
    Usage(["check", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    Usage(["matrix", "--device"], "expected one argument"),
    Usage(["list", "extra"], "unrecognized arguments: extra"),
    Usage(["check", "--record"], "argument --record: expected one argument"),
    Usage(["check", "--record", __file__], f"--record {__file__}: not a folder"),
    Usage(["check", "--json", "--device", "cpu", "eval.flg"], "unknown claim id 'eval.flg'"),
]


@pytest.mark.parametrize("case", USAGE, ids=lambda c: " ".join(c.argv) or "nothing")
def test_the_command_line_refuses_bad_usage_with_exit_2(
    case: Usage, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(case.argv) == 2
    assert case.message in capsys.readouterr().err


def public_functions() -> set[str]:
    """The functions of the public API that take arguments, the model class, the CLI."""
    api = {name: getattr(gradmodes, name) for name in gradmodes.__all__} | {
        name: getattr(gradmodes.claims, name) for name in gradmodes.claims.__all__
    }
    found = {
        name
        for name, value in api.items()
        if inspect.isfunction(value) and inspect.signature(value).parameters
    } | {"SimpleModel", "main"}
    api = {name: getattr(records, name) for name in records.__all__}
    return found | {
        name
        for name, value in api.items()
        if inspect.isfunction(value) and inspect.signature(value).parameters
    }


def test_every_public_function_has_its_bad_input_cases() -> None:
    covered = {case.function for case in [*REFUSED, *ANSWERED]} | ({"main"} if USAGE else set())
    assert sorted(public_functions() - covered) == []
