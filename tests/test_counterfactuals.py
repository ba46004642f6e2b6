"""Every claim can fail: under a counterfactual torch its check raises ``ClaimFailed``.

Each counterfactual of ``tests/counterfactuals/`` patches torch so that its claim's fact is
false (``counterfactuals/__init__.py``). Its claim must verify on the real torch and fail,
naming itself, under the patch; every registered claim needs at least one counterfactual.
The run ends with a coverage line (claims killed by a counterfactual / all claims) in the
terminal summary.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import counterfactuals
import pytest
import torch
from counterfactuals import TRIED, Counterfactual, counterfactual, discover, trial

from gradmodes.claims import Claim, ClaimFailed, Observer, _registry, all_claims

COUNTERFACTUALS = discover()


@pytest.mark.parametrize(
    "cf", COUNTERFACTUALS, ids=[f"{c.claim_id}: {c.description}" for c in COUNTERFACTUALS]
)
def test_the_counterfactual_makes_its_claim_fail(cf: Counterfactual) -> None:
    result = trial(cf)
    TRIED.append(result)
    if result.outcome in ("not-run", "not-applicable"):
        pytest.skip(f"{cf.claim_id}: {result.outcome}: {result.detail}")
    assert result.outcome == "killed", (
        f"counterfactual {cf.description!r} of {cf.claim_id!r} ({cf.source}): "
        f"{result.outcome}: {result.detail}"
    )


def test_every_claim_has_a_counterfactual() -> None:
    covered = {cf.claim_id for cf in COUNTERFACTUALS}
    missing = [c.id for c in all_claims() if c.id not in covered]
    assert missing == [], (
        f"{len(missing)} of {len(all_claims())} claims have no counterfactual "
        f"(add one to tests/counterfactuals/<claims module>.py): {', '.join(missing)}"
    )


# --- the framework, on claims registered for one test ------------------------------------


def _pi(obs: Observer) -> None:
    obs.expect("math.pi > 3", math.pi > 3, True)


def _pi_is_three(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(math, "pi", 3)


def _nothing(patch: pytest.MonkeyPatch) -> None:
    pass


def _pi_is_text(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(math, "pi", "3.14")  # the check now crashes: no false fact, a broken one


class _FailsAnotherClaim:
    def __gt__(self, other: object) -> bool:
        raise ClaimFailed("test.other", "pi > 3", True, False)


def _pi_fails_another_claim(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(math, "pi", _FailsAnotherClaim())


def _pi_is_three_for_good(patch: pytest.MonkeyPatch) -> None:
    math.pi = 3  # not through `patch`: nothing undoes it


PI = Claim("test.pi", "Pi is more than three.", _pi)
FALSE = Claim("test.false", "Three is four.", lambda obs: obs.expect("3", 3, 4))
CUDA = Claim("test.cuda", "Pi is more than three on CUDA.", _pi, needs_cuda=True)
OLD = Claim("test.old", "Pi is more than three in torch 0.x.", _pi, torch_versions="<1.0")


class Case(NamedTuple):
    name: str
    claim: Claim
    patch: Callable[[pytest.MonkeyPatch], None]
    outcome: str
    detail: str  # the start of the trial's detail


CASES = [
    Case("falsified", PI, _pi_is_three, "killed", "claim 'test.pi' is false: math.pi > 3"),
    Case("changes-nothing", PI, _nothing, "survived", "the check still verifies with the patch"),
    Case("check-crashes", PI, _pi_is_text, "error", "TypeError: '>' not supported"),
    Case("names-another-claim", PI, _pi_fails_another_claim, "error", "ClaimFailed names"),
    Case("not-undone", PI, _pi_is_three_for_good, "error", "after the patch was undone"),
    Case("false-anyway", FALSE, _nothing, "false-without-patch", "ClaimFailed: claim 'test.false'"),
    Case("cuda-claim", CUDA, _pi_is_three, "not-run", "a CUDA claim, and torch sees no CUDA"),
    Case("other-torch", OLD, _pi_is_three, "not-applicable", f"torch {torch.__version__} is"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_trial_reports_what_the_patch_did_to_the_check(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(math, "pi", math.pi)  # restored after the test, whatever it did
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setitem(_registry._REGISTRY, case.claim.id, case.claim)
    result = trial(Counterfactual(case.claim.id, case.name, case.patch))
    assert (result.outcome, result.detail[: len(case.detail)]) == (case.outcome, case.detail)


def test_a_counterfactual_of_an_unknown_claim_is_reported() -> None:
    result = trial(Counterfactual("test.nowhere", "pi is 3", _pi_is_three))
    assert (result.outcome, result.detail) == ("unknown-claim", "unknown claim id 'test.nowhere'")


def test_the_decorator_registers_and_refuses_one_description_defined_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(counterfactuals, "_REGISTERED", {})
    assert counterfactual("test.pi", "pi is 3")(_pi_is_three) is _pi_is_three
    assert counterfactual("test.pi", "pi is 3")(_pi_is_three) is _pi_is_three  # imported again
    assert [(c.claim_id, c.patch) for c in discover() if c.claim_id == "test.pi"] == [
        ("test.pi", _pi_is_three)
    ]
    with pytest.raises(ValueError, match=r"two counterfactuals of 'test.pi' say 'pi is 3'"):
        counterfactual("test.pi", "pi is 3")(_nothing)


def test_discover_imports_every_module_of_the_folder() -> None:
    folder = Path(counterfactuals.__file__).parent
    modules = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    assert [m for m in modules if f"counterfactuals.{m}" not in sys.modules] == []


@pytest.mark.parametrize(
    ("claim_id", "description", "error"),
    [(1, "pi is 3", TypeError), ("test.pi", None, TypeError), ("test.pi", " ", ValueError)],
)
def test_a_malformed_counterfactual_is_refused(
    claim_id: object, description: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        counterfactual(claim_id, description)  # type: ignore[arg-type]
