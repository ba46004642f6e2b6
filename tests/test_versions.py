"""Claims that hold only for some torch releases say so, and are never shown as verified outside.

The ``torch_versions`` session of the noxfile runs the claims and the unit tests against
other torch releases; these tests fix what a claim's range means on any one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from gradmodes.__main__ import main
from gradmodes.claims import Claim, Observer, claim, get_claim
from gradmodes.claims import _registry as registry
from gradmodes.records import load_records


def _must_not_run(obs: Observer) -> None:
    raise AssertionError("a claim ran outside its torch range")


def _holds(obs: Observer) -> None:
    obs.expect("1 + 1", 1 + 1, 2)


@pytest.mark.parametrize(
    ("torch_versions", "version", "applies"),
    [
        ("", "1.13.1", True),  # no range: every release
        (">=2.1", "2.0.1", False),
        (">=2.1", "2.1.0", True),
        (">=2.1", "2.13.0+cpu", True),  # local build tags do not matter
        (">=2.1", "2.1.0a0+git1234", False),  # a pre-release of 2.1 is before 2.1
        (">=2.1", "2.14.0.dev20260101+cpu", True),  # nightlies count
        (">=2.1,<2.5", "2.5.0", False),
        ("==2.13.*", "2.13.1", True),
    ],
)
def test_a_claim_applies_inside_its_torch_range_only(
    torch_versions: str, version: str, applies: bool
) -> None:
    ranged = Claim("test.ranged", "It holds.", _holds, torch_versions=torch_versions)
    assert ranged.applies(version) is applies


def test_a_claim_outside_its_range_is_not_applicable_and_never_runs() -> None:
    future = Claim("test.future", "It holds.", _must_not_run, torch_versions=">=999")
    evidence = future.check()
    assert (evidence.status, evidence.device) == ("not-applicable", "none")
    assert evidence.observations == (("reason", f"torch {torch.__version__} is outside >=999"),)
    assert future.check(require=True).status == "not-applicable"


def test_a_claim_inside_its_range_is_checked() -> None:
    current = Claim("test.now", "It holds.", _holds, torch_versions=f"=={torch.__version__}")
    assert current.check().status == "verified"


@pytest.mark.parametrize("malformed", ["2.1", ">=two", ">= 2.1 and < 3"])
def test_a_malformed_range_is_refused_when_the_claim_is_registered(malformed: str) -> None:
    with pytest.raises(ValueError, match="is not a PEP 440 specifier"):
        claim("test.malformed", "It holds.", torch_versions=malformed)


def test_the_bare_no_grad_decorator_claim_carries_its_range() -> None:
    decorator = get_claim("ng.decorator-bare")
    assert decorator.torch_versions == ">=2.1"
    assert not decorator.applies("2.0.1")


def test_the_command_line_reports_a_claim_outside_its_range_as_not_applicable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    future = Claim("test.future", "It holds.", _must_not_run, torch_versions=">=999")
    monkeypatch.setitem(registry._REGISTRY, future.id, future)
    assert main(["check", "test.future", "eval.flag"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split() for line in out[1:-1]] == [
        ["test.future", "not-applicable", "none"],
        ["eval.flag", "verified", "cpu"],
    ]
    assert out[-1] == "2 claims: 1 verified, 1 not-applicable"


def _fails(obs: Observer) -> None:
    obs.expect("1 + 1", 1 + 1, 3)


@pytest.mark.parametrize(
    ("check", "status", "code"),
    [(_holds, "verified", 1), (_fails, "false", 0)],
    ids=["holds-outside", "fails-outside"],
)
def test_a_record_runs_a_check_outside_its_range_and_says_when_it_holds_there(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    check: Callable[[Observer], None],
    status: str,
    code: int,
) -> None:
    """The claim is not applicable outside its range; the record keeps what its check found
    there, and a check that holds there is reported: the range is too narrow."""
    future = Claim("test.future", "It holds from torch 999.", check, torch_versions=">=999")
    monkeypatch.setitem(registry._REGISTRY, future.id, future)
    assert main(["check", "--record", str(tmp_path), "test.future"]) == code
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1].split() == ["test.future", "not-applicable", "cpu"]
    outside = "OUTSIDE test.future: holds outside its torch range >=999"
    assert (outside in captured.err) is (status == "verified")
    assert load_records(tmp_path)[0].claims["test.future"].status == status
