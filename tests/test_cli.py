"""Specification of ``python -m gradmodes``: check, list, matrix, and their errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

from gradmodes.__main__ import main
from gradmodes.claims import Claim, Observer, all_claims
from gradmodes.claims import _registry as registry
from gradmodes.matrix import behaviour_matrix, format_matrix
from gradmodes.records import read_record


def test_check_without_ids_checks_every_claim(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"torch {torch.__version__}, Python ")
    lines = [line.split() for line in out[1:-1]]
    # A claim outside its torch range is not-applicable; a CUDA-only claim runs on CUDA,
    # and is not-run where there is none.
    outside = [c for c in all_claims() if not c.applies()]
    not_run = [
        c for c in all_claims() if c.needs_cuda and not torch.cuda.is_available() and c.applies()
    ]
    assert lines == [
        [claim.id, "not-applicable", "none"]
        if claim in outside
        else [claim.id, "not-run", "none"]
        if claim in not_run
        else [claim.id, "verified", "cuda" if claim.needs_cuda else "cpu"]
        for claim in all_claims()
    ]
    verified = len(all_claims()) - len(not_run) - len(outside)
    counts = [(verified, "verified"), (len(not_run), "not-run"), (len(outside), "not-applicable")]
    summary = ", ".join(f"{n} {status}" for n, status in counts if n)
    assert out[-1] == f"{len(all_claims())} claims: {summary}"


def test_check_given_ids_checks_those_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "rg.memory", "eval.flag"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[1:-1]] == ["rg.memory", "eval.flag"]
    assert out[-1] == "2 claims: 2 verified"


def _false(obs: Observer) -> None:
    obs.expect("1 + 1", 1 + 1, 3)


def _crashes(obs: Observer) -> None:
    raise ZeroDivisionError("division by zero")


@pytest.fixture
def broken_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two bad claims, registered for one test only."""
    monkeypatch.setitem(registry._REGISTRY, "test.false", Claim("test.false", "False.", _false))
    monkeypatch.setitem(registry._REGISTRY, "test.crash", Claim("test.crash", "Crashes.", _crashes))


@pytest.mark.usefixtures("broken_claims")
def test_check_exits_1_naming_each_failed_claim(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "test.false", "eval.flag", "test.crash"]) == 1
    captured = capsys.readouterr()
    lines = [line.split() for line in captured.out.splitlines()[1:-1]]
    assert lines == [
        ["test.false", "FAILED", "cpu"],
        ["eval.flag", "verified", "cpu"],
        ["test.crash", "ERROR", "cpu"],
    ]
    assert captured.out.splitlines()[-1] == "3 claims: 1 verified, 1 FAILED, 1 ERROR"
    assert captured.err.splitlines() == [
        "FAILED test.false: claim 'test.false' is false: 1 + 1: expected 3, observed 2",
        "ERROR test.crash: ZeroDivisionError: division by zero",
    ]


def _must_not_run(obs: Observer) -> None:
    raise AssertionError("ran without CUDA")


def test_cuda_only_claim_is_not_run_without_cuda(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cuda_claim = Claim("test.gpu", "Needs a GPU.", _must_not_run, needs_cuda=True)
    monkeypatch.setitem(registry._REGISTRY, "test.gpu", cuda_claim)
    assert main(["check", "test.gpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["test.gpu", "not-run", "none"]
    assert out[-1] == "1 claim: 1 not-run"


class UsageCase(NamedTuple):
    name: str
    argv: list[str]
    message: str  # in stderr


USAGE_CASES = [
    UsageCase(
        "unknown-id",
        ["check", "eval.flg"],
        "error: unknown claim id 'eval.flg'; did you mean eval.flag?",
    ),
    UsageCase("unknown-id-among-known", ["check", "eval.flag", "nope"], "unknown claim id 'nope'"),
    UsageCase("no-command", [], "the following arguments are required: COMMAND"),
    UsageCase("unknown-command", ["verify"], "invalid choice: 'verify'"),
    UsageCase(
        "unknown-device",
        ["check", "--device", "tpu"],
        "invalid choice: 'tpu' (choose from cpu, cuda)",
    ),
]


@pytest.mark.parametrize("case", USAGE_CASES, ids=lambda c: c.name)
def test_usage_errors_exit_2_and_say_why(
    case: UsageCase, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(case.argv) == 2
    captured = capsys.readouterr()
    assert case.message in captured.err.replace("'cpu', 'cuda'", "cpu, cuda")
    assert captured.out == "", "nothing checked"


@pytest.mark.parametrize("command", ["check", "matrix"])
def test_device_cuda_without_cuda_exits_2(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main([command, "--device", "cuda"]) == 2
    captured = capsys.readouterr()
    assert "error: --device cuda" in captured.err
    assert "sees no CUDA device; valid devices here: cpu" in captured.err
    assert captured.out == ""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_check_on_cuda(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--device", "cuda"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:-1]
    assert {line.split()[2] for line in lines} == {"cuda:0"}


def test_list_prints_every_id_with_its_statement(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{claim.id}: {claim.statement}" for claim in all_claims()]


def test_matrix_prints_the_behaviour_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix"]) == 0
    assert capsys.readouterr().out == format_matrix(behaviour_matrix()) + "\n"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--help"], "examples:"),
        (["check", "--help"], "status (verified, not-run, not-applicable, FAILED, ERROR)"),
        (["matrix", "--help"], "trainable/frozen"),
        (["audit", "--help"], "exit status: 0 no finding, 1 findings, 2 usage error"),
    ],
)
def test_help_exits_0_and_explains(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    assert fragment in " ".join(capsys.readouterr().out.split())


# --- audit -------------------------------------------------------------------------------

FACTORIES = """
import torch
from torch import nn


def faulty():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model[:2].requires_grad_(False)
    return model, torch.optim.SGD(model[2].parameters(), lr=0.1), torch.randn(8, 4)


def correct():
    return nn.Sequential(nn.Linear(4, 2), nn.ReLU())


class Factories:
    @staticmethod
    def pair():
        model = nn.Linear(4, 2)
        return model, torch.optim.SGD(model.parameters(), lr=0.1)


def two_optimizers():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    optimizers = [torch.optim.SGD(model[0].parameters()), torch.optim.AdamW(model[1].parameters())]
    return model, optimizers, torch.randn(8, 4)


def other_parameters():
    return nn.Linear(4, 2), torch.optim.SGD(nn.Linear(4, 2).parameters(), lr=0.1)


def raises():
    raise RuntimeError("no checkpoint here")


def not_a_model():
    return "model", None


NOT_CALLABLE = 3
"""


@pytest.fixture
def factories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of factories in the current directory (a new name per test); its name."""
    name = f"train_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(FACTORIES, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the CLI adds the current directory
    return name


def test_audit_reports_each_finding_and_exits_1(
    factories: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", f"{factories}:faulty"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"audit {factories}:faulty: Sequential, SGD",
        "",
        "frozen-bn-train-mode: 1 (BatchNorm1d): parameters frozen, yet in training mode: "
        "training forwards still change the running statistics",
        "  see pitfalls.html#pitfall-frozen-bn (claim audit.running-stats)",
        "",
        "1 finding",
    ]
    assert captured.err == ""


def test_audit_of_a_correct_model_exits_0_and_says_what_did_not_run(
    factories: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", f"{factories}:correct"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"audit {factories}:correct: Sequential, no optimizer",
        "no inputs: the two eval-mode forwards did not run",
        "",
        "no finding",
    ]


def test_audit_json_is_the_findings_as_data(
    factories: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--json", f"{factories}:faulty"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "factory": f"{factories}:faulty",
        "model": "Sequential",
        "optimizer": "SGD",
        "inputs": True,
        "findings": [
            {
                "code": "frozen-bn-train-mode",
                "objects": ["1"],
                "message": "1 (BatchNorm1d): parameters frozen, yet in training mode: "
                "training forwards still change the running statistics",
                "link": "pitfalls.html#pitfall-frozen-bn",
                "claim": "audit.running-stats",
            }
        ],
    }


def test_audit_takes_a_list_of_optimizers(
    factories: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--json", f"{factories}:two_optimizers"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["optimizer"], report["findings"]) == ("[SGD, AdamW]", [])


def test_audit_factory_may_be_a_dotted_attribute_returning_a_pair(
    factories: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--json", f"{factories}:Factories.pair"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("other_parameters", "holds none of the parameters of the model (Linear, 2 parameters)"),
        ("raises", "raised RuntimeError: no checkpoint here"),
        ("not_a_model", "must return a model, (model, optimizer) or (model, optimizer, inputs), "),
        ("NOT_CALLABLE", "is not a function to call (it is int: 3)"),
        ("missing", "has no attribute 'missing'"),
    ],
)
def test_audit_factory_errors_exit_2_and_say_why(
    factory: str, message: str, factories: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", f"{factories}:{factory}"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == "", "no report"


def test_check_record_writes_one_record_of_this_environment_into_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--record", str(tmp_path / "evidence"), "eval.flag", "ng.outputs"]) == 0
    out = capsys.readouterr().out.splitlines()
    [path] = (tmp_path / "evidence").iterdir()
    assert out[-1] == f"record: {path}"
    assert [line.split() for line in out[1:-2]] == [
        ["eval.flag", "verified", "cpu"],
        ["ng.outputs", "verified", "cpu"],
    ]
    made = read_record(path)
    assert made.environment.torch == torch.__version__
    assert {key: entry.status for key, entry in made.claims.items()} == {
        "eval.flag": "verified",
        "ng.outputs": "verified",
    }


@pytest.mark.usefixtures("broken_claims")
def test_check_json_prints_the_record_and_keeps_going_past_a_false_claim(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "--json", "test.false", "eval.flag", "test.crash"]) == 1
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert {key: entry["status"] for key, entry in printed["claims"].items()} == {
        "test.false": "false",
        "eval.flag": "verified",
        "test.crash": "false",
    }
    assert printed["claims"]["test.false"]["observations"] == [["1 + 1", "2"]]
    assert captured.err.splitlines() == [
        "FAILED test.false: claim 'test.false' is false: 1 + 1: expected 3, observed 2",
        "FAILED test.crash: ZeroDivisionError: division by zero",
    ]
