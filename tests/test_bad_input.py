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

import _onnx_models
import pytest
import torch
from torch import nn

import gradmodes
import gradmodes.claims
from gradmodes import (
    LoRALinear,
    SimpleModel,
    add_lora,
    audit,
    behaviour_matrix,
    count_saved,
    ddp,
    evaluating,
    format_matrix,
    freeze,
    freeze_batchnorm,
    grad_context,
    mlp,
    observe,
    onnx_dropout_training,
    onnx_ops,
    recorded_ops,
    records,
    run_onnx,
    trainable_parameters,
    unfreeze,
    unfreeze_batchnorm,
    watch_casts,
)
from gradmodes import census as census_module
from gradmodes.__main__ import main
from gradmodes.census import Spec, census, format_census, measure
from gradmodes.claims import UnknownClaim, check, claim, get_claim
from gradmodes.measure import SETTINGS, WORKLOADS, saved_tensors

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
    R(
        "saved_tensors",
        "a workload name",
        lambda: saved_tensors("small_mlp", SETTINGS["train"]),  # type: ignore[arg-type]
        TypeError,
        r"saved_tensors\(\) needs a Workload and a Setting .* got str and Setting",
    ),
    R(
        "saved_tensors",
        "an integer dtype",
        lambda: saved_tensors(WORKLOADS["small_mlp"], SETTINGS["train"], autocast=torch.int8),
        TypeError,
        "autocast must be a floating-point torch.dtype or None, got torch.int8",
    ),
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
    R(
        "freeze_batchnorm",
        "an uninitialized lazy BatchNorm",
        lambda: freeze_batchnorm(nn.Sequential(nn.LazyBatchNorm2d())),
        ValueError,
        r"0 \(LazyBatchNorm2d\) has no parameters yet; run one forward",
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
    R("audit", "a str model", lambda: audit("model"), TypeError, r"audit\(\) needs a torch.nn"),
    R(
        "audit",
        "a list of parameters as optimizer",
        lambda: audit(mlp(4), list(mlp(4).parameters())),
        TypeError,
        r"needs a torch.optim.Optimizer, a list of them or None as optimizer, got Parameter",
    ),
    R(
        "audit",
        "an empty list of optimizers",
        lambda: audit(mlp(4), []),
        TypeError,
        "a list of them or None as optimizer, got an empty list",
    ),
    R(
        "audit",
        "an optimizer over other parameters",
        lambda: audit(mlp(4), torch.optim.SGD(mlp(4).parameters(), lr=0.1)),
        ValueError,
        r"the optimizer \(SGD, 4 tensors in 1 param groups\) holds none of the parameters of "
        r"the model \(Sequential, 4 parameters\); give the optimizer that trains this model",
    ),
    R(
        "audit",
        "an int as inputs",
        lambda: audit(mlp(4), None, 4),
        TypeError,
        "takes inputs as a Tensor, a tuple or list of positional arguments or a dict",
    ),
    R(
        "audit",
        "inputs of the wrong shape",
        lambda: audit(mlp(4), None, torch.randn(2, 5)),
        ValueError,
        "the model's forward in eval mode failed on the inputs given: RuntimeError: mat1",
    ),
    R(
        "audit",
        "inputs for lazy layers not yet run",
        lambda: audit(nn.Sequential(nn.LazyLinear(2)), None, torch.randn(2, 3)),
        ValueError,
        "lazy modules that no forward has initialized yet",
    ),
    R(
        "onnx_ops",
        "a file name",
        lambda: onnx_ops("m.onnx"),
        TypeError,
        r"onnx.export\(\.\.\., dynamo",
    ),
    R(
        "onnx_dropout_training",
        "a model",
        lambda: onnx_dropout_training(mlp(2)),
        TypeError,
        "got Sequential",
    ),
    R(
        "run_onnx",
        "a list input",
        lambda: run_onnx(_onnx_models.identity(), [1.0, 2.0]),
        TypeError,
        "takes tensors as inputs, got list",
    ),
    R(
        "run_onnx",
        "no input",
        lambda: run_onnx(_onnx_models.identity()),
        ValueError,
        "takes 1 inputs, got 0",
    ),
    R(
        "run_onnx",
        "a str optimize",
        lambda: run_onnx(_onnx_models.identity(), torch.ones(2), optimize="no"),
        TypeError,
        "optimize must be True or False",
    ),
    R("LoRALinear", "a Conv2d", lambda: LoRALinear(nn.Conv2d(1, 1, 1), 2), TypeError, "nn.Linear"),
    R("LoRALinear", "rank 0", lambda: LoRALinear(nn.Linear(2, 2), 0), ValueError, "positive int"),
    R("LoRALinear", "a str alpha", lambda: LoRALinear(nn.Linear(2, 2), 1, "8"), TypeError, "alpha"),
    R("add_lora", "a str model", lambda: add_lora("m", "0"), TypeError, r"add_lora\(\) needs a"),
    R("add_lora", "no names", lambda: add_lora(mlp(4)), ValueError, "needs the names"),
    R("add_lora", "an int name", lambda: add_lora(mlp(4), 0), TypeError, r"names \(str\)"),
    R(
        "add_lora",
        "an unknown name",
        lambda: add_lora(mlp(4), "linear"),
        ValueError,
        "no submodule named 'linear'; Linear layers: 0, 2$",
    ),
    R("add_lora", "a ReLU", lambda: add_lora(mlp(4), "1"), TypeError, "'1' is a ReLU"),
    R("add_lora", "a name twice", lambda: add_lora(mlp(4), "0", "0"), ValueError, "name twice"),
    R(
        "add_lora",
        "an adapted layer",
        lambda: add_lora(add_lora(mlp(4), "0"), "0"),
        TypeError,
        "'0' is a LoRALinear",
    ),
    R("add_lora", "the root", lambda: add_lora(mlp(4), ""), ValueError, "no submodule named ''"),
    R(
        "watch_casts",
        "a non-tensor",
        lambda: watch_casts([1]).__enter__(),
        TypeError,
        "takes tensors, got int",
    ),
    R(
        "watch_casts",
        "a str dtype",
        lambda: watch_casts([], dtype="bfloat16").__enter__(),
        TypeError,
        "takes a torch.dtype",
    ),
    R("ddp.run", "a str worker", lambda: ddp.run("f"), TypeError, "needs a callable worker"),
    R("ddp.run", "world_size 0", lambda: ddp.run(print, world_size=0), ValueError, "positive"),
    R("ddp.run", "a bool world_size", lambda: ddp.run(print, world_size=True), ValueError, "int"),
    R("ddp.run", "timeout 0", lambda: ddp.run(print, timeout=0), ValueError, "positive number"),
    R(
        "ddp.run",
        "an infinite timeout",
        lambda: ddp.run(print, timeout=float("inf")),
        ValueError,
        "seconds",
    ),
    R("ddp.run", "a str timeout", lambda: ddp.run(print, timeout="9"), ValueError, "timeout must"),
    R(
        "ddp.run",
        "an unknown start method",
        lambda: ddp.run(print, start_method="forkserver"),
        ValueError,
        "unknown start_method 'forkserver'; valid values: fork, spawn",
    ),
    R("recorded_ops", "an argument", lambda: recorded_ops(1), TypeError, "positional argument"),
    R("census", "a str", lambda: census("Dropout"), TypeError, "an iterable of Spec, got str"),
    R("census", "one Spec", lambda: census(Spec("ReLU")), TypeError, "iterable of Spec, got Spec"),
    R("census", "a str among specs", lambda: census(["ReLU"]), TypeError, "takes a Spec, got str"),
    R("measure", "a class", lambda: measure(nn.ReLU), TypeError, "measure\\(\\) takes a Spec"),
    R(
        "Spec",
        "an unknown class",
        lambda: Spec("Relu"),
        ValueError,
        "a class in torch.nn, got 'Relu'",
    ),
    R("Spec", "a function of torch.nn", lambda: Spec("init"), ValueError, "class in torch.nn"),
    R("Spec", "a list of args", lambda: Spec("ReLU", [1]), TypeError, "args as a tuple"),
    R("Spec", "inputs not callable", lambda: Spec("ReLU", inputs=(1,)), TypeError, "randn"),
    R(
        "Spec",
        "a class that is no module",
        lambda: Spec("Parameter").build(),
        TypeError,
        "did not build an nn.Module",
    ),
    R("format_census", "str rows", lambda: format_census(["r"]), TypeError, "census\\(\\)"),
    R("format_census", "a str", lambda: format_census("rows"), TypeError, "census\\(\\)"),
    R("randn", "a float size", lambda: census_module.randn(2.0), TypeError, "non-negative ints"),
    R("rand", "a negative size", lambda: census_module.rand(-1), TypeError, "non-negative ints"),
    R("ints", "a str bound", lambda: census_module.ints("3", 2), TypeError, "non-negative ints"),
    R("check", "a misspelt id", lambda: check("eval.flg"), UnknownClaim, "did you mean eval.flag"),
    R("check", "an int id", lambda: check(3), TypeError, "a claim id is a str"),
    R("check", "an int device", lambda: check("eval.flag", 0), TypeError, "device must be a"),
    R("check", "an unknown device", lambda: check("eval.flag", "tpu"), RuntimeError, "one of cpu"),
    R(
        "Claim.check",
        "anywhere as a str",
        lambda: get_claim("eval.flag").check(anywhere="yes"),
        TypeError,
        "anywhere must be True or False",
    ),
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
    R(
        "outcome",
        "a claim id",
        lambda: records.outcome(records.make_record([]), "eval.flag"),
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


def _audited(model: nn.Module, x: torch.Tensor) -> list[gradmodes.Finding]:
    return audit(model, torch.optim.SGD(model.parameters()), x)


def _casts_of(tensors: list[torch.Tensor]) -> int:
    with torch.autocast("cpu", dtype=torch.bfloat16), watch_casts(tensors) as casts:
        mlp(4)(torch.randn(2, 4))
    return casts.made


def _recorded_nothing() -> list[str]:
    with recorded_ops() as ops:
        pass
    return ops


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
    A("audit", EMPTY, lambda: audit(nn.Sequential(), None, torch.ones(2)), []),
    A("audit", PLAIN, lambda: _audited(mlp(4), torch.ones(2, 4)), []),
    A("audit", "a model without parameters", lambda: audit(nn.ReLU(), None, torch.ones(2)), []),
    A("evaluating", EMPTY, lambda: _restored(nn.Sequential()), True),
    A("census", "no specs", lambda: census([]), []),
    A("format_census", "no rows", lambda: len(format_census([]).splitlines()), 1),
    A("recorded_ops", "an empty block", lambda: _recorded_nothing(), []),
    A("evaluating", "a model already in eval mode", lambda: _restored(mlp(4).eval()), False),
    A("watch_casts", "no tensors", lambda: _casts_of([]), 0),
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
    Usage(["audit"], "the following arguments are required: FACTORY"),
    Usage(["audit", "gradmodes"], "FACTORY must be module:function (e.g. train:build"),
    Usage(["audit", "gradmodes:"], "FACTORY must be module:function"),
    Usage(["audit", ":mlp"], "FACTORY must be module:function"),
    Usage(["audit", "gradmodes:mlp-2"], "FACTORY must be module:function"),
    Usage(["audit", "no_such_module_here:build"], "cannot import 'no_such_module_here'"),
    Usage(["audit", "gradmodes.models:nope"], "'gradmodes.models' has no attribute 'nope'"),
    Usage(["audit", "json:loads"], "json:loads() raised TypeError: "),
    Usage(["audit", "os:getcwd"], "must return a model, (model, optimizer) or (model, "),
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
