"""Specification of the claim registry and of every registered claim."""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest
import torch

from gradmodes.claims import (
    Claim,
    ClaimFailed,
    CUDAUnavailable,
    NoExpectation,
    Observer,
    UnknownClaim,
    all_claims,
    check,
    get_claim,
)

# Every id of claims.md sections A-E: the site cites them, so each must be registered.
CATALOGUE_IDS = [
    "eval.flag",
    "eval.submodule",
    "eval.dropout",
    "eval.bn-uses-running",
    "eval.bn-no-update",
    "eval.keeps-autograd",
    "eval.orthogonal",
    "eval.custom",
    "eval.bn-batch1",
    "eval.forget-train",
    "rg.leaf-only",
    "rg.default",
    "rg.recorded-if-any",
    "rg.no-grad-field",
    "rg.middle-frozen",
    "rg.memory",
    "rg.requires_grad_",
    "rg.bn-stats-still-update",
    "rg.dropout-still-active",
    "rg.all-frozen-backward",
    "rg.optimizer-skips",
    "rg.momentum-drift",
    "rg.name-match",
    "ng.outputs",
    "ng.flags-unchanged",
    "ng.factory",
    "ng.memory",
    "ng.no-mode-change",
    "ng.backward-error",
    "ng.inplace-leaf",
    "ng.decorator",
    "ng.set-grad-enabled",
    "ng.enable-grad",
    "im.outputs",
    "im.inference-tensor",
    "im.no-autograd-later",
    "im.inplace-outside",
    "im.no-eval",
    "im.bare-call",
    "im.faster",
    "x.standard",
    "x.freeze-finetune",
    "x.detach",
    "x.matrix",
]
REGISTERED_IDS = [registered.id for registered in all_claims()]


@pytest.mark.parametrize("claim_id", CATALOGUE_IDS)
def test_catalogue_claim_is_registered(claim_id: str) -> None:
    assert get_claim(claim_id).id == claim_id


@pytest.mark.parametrize("claim_id", REGISTERED_IDS)
def test_claim_verifies_on_cpu_the_same_twice_leaving_rng_and_grad_mode_as_found(
    claim_id: str,
) -> None:
    """Each claim is checked twice here (each check is a whole run of its code, the costliest
    part of these tests): it verifies on CPU with observations, the second run observes
    exactly what the first did, and neither moves torch's RNG or leaves a grad mode on."""
    registered = get_claim(claim_id)
    rng = torch.get_rng_state()
    first, second = check(claim_id, "cpu"), check(claim_id, "cpu")
    if registered.needs_cuda:  # where CUDA is, on it too (elsewhere both are not-run)
        assert check(claim_id).observations == check(claim_id).observations
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.is_grad_enabled()
    assert not torch.is_inference_mode_enabled()
    assert second.observations == first.observations
    if not registered.applies():
        # Outside its torch range a claim is never run; the claim for the other side of the
        # change (claims/releases.py) is checked on this torch instead.
        assert (first.status, first.device) == ("not-applicable", "none")
        return
    assert (first.claim_id, first.status, first.device) == (claim_id, "verified", "cpu")
    assert len(first.observations) >= 1
    assert all(isinstance(what, str) and isinstance(seen, str) for what, seen in first.observations)


@pytest.mark.parametrize("claim_id", REGISTERED_IDS)
def test_claim_statement_is_one_sentence(claim_id: str) -> None:
    statement = get_claim(claim_id).statement
    assert statement.endswith(".")
    assert not re.search(r"\.\s+[A-Z]", statement), "one sentence only"
    assert statement.count("`") % 2 == 0, "balanced code spans"


def _claims_two_is_three(obs: Observer) -> None:
    obs.expect("1 + 1", 1 + 1, 3)


def test_false_claim_raises_claim_failed_naming_id_expectation_and_observation() -> None:
    false = Claim("test.false", "One plus one is three.", _claims_two_is_three)
    with pytest.raises(ClaimFailed) as failed:
        false.check()
    assert str(failed.value) == "claim 'test.false' is false: 1 + 1: expected 3, observed 2"
    assert (failed.value.claim_id, failed.value.what) == ("test.false", "1 + 1")
    assert (failed.value.expected, failed.value.observed) == (3, 2)
    assert "test.false" not in REGISTERED_IDS


def _records_only(obs: Observer) -> None:
    obs.record("1 + 1", 1 + 1)  # an observation, and no expectation on it


def test_a_check_that_makes_no_expectation_is_refused_naming_the_claim() -> None:
    """It could not fail whatever torch did, so it proves nothing."""
    with pytest.raises(NoExpectation) as refused:
        Claim("test.empty", "One plus one is two.", _records_only).check()
    assert refused.value.claim_id == "test.empty"
    assert str(refused.value) == (
        "the check of claim 'test.empty' made no expectation (obs.expect or "
        "obs.expect_raises): a check that cannot fail proves nothing"
    )


def test_an_expect_raises_alone_is_an_expectation() -> None:
    def run(obs: Observer) -> None:
        with obs.expect_raises("int('x')", ValueError, "invalid literal"):
            int("x")

    assert Claim("test.raises-only", "int('x') raises.", run).check().status == "verified"


class RaisesCase(NamedTuple):
    name: str
    raised: BaseException | None
    fails: bool
    fragment: str  # in the ClaimFailed message, or in the recorded observation


RAISES_CASES = [
    RaisesCase("matching", ValueError("bad value here"), False, "ValueError: bad value here"),
    RaisesCase(
        "nothing-raised", None, True, "expected 'ValueError: bad value', observed 'no error'"
    ),
    RaisesCase("other-message", ValueError("different"), True, "observed 'different'"),
]


@pytest.mark.parametrize("case", RAISES_CASES, ids=lambda c: c.name)
def test_expect_raises(case: RaisesCase) -> None:
    def run(obs: Observer) -> None:
        with obs.expect_raises("f()", ValueError, "bad value"):
            if case.raised is not None:
                raise case.raised

    claim_ = Claim("test.raises", "It raises.", run)
    if case.fails:
        with pytest.raises(ClaimFailed, match=re.escape(case.fragment)):
            claim_.check()
    else:
        assert claim_.check().observations == (("f()", case.fragment),)


def test_expect_raises_lets_another_error_type_through() -> None:
    def run(obs: Observer) -> None:
        with obs.expect_raises("f()", ValueError, "bad"):
            raise KeyError("bad")

    with pytest.raises(KeyError):
        Claim("test.other", "It raises.", run).check()


def test_unknown_id_raises_unknown_claim_with_close_matches() -> None:
    with pytest.raises(
        UnknownClaim, match=r"unknown claim id 'eval\.flg'; did you mean eval\.flag"
    ):
        check("eval.flg")


def test_unknown_id_without_close_match_has_no_hint() -> None:
    with pytest.raises(UnknownClaim) as unknown:
        get_claim("zzz.qqq")
    assert str(unknown.value) == "unknown claim id 'zzz.qqq'"
    assert isinstance(unknown.value, KeyError)


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def _must_not_run(obs: Observer) -> None:
    raise AssertionError("a CUDA claim ran without CUDA")


@pytest.mark.usefixtures("no_cuda")
def test_cuda_claim_without_cuda_is_not_run() -> None:
    evidence = Claim("test.cuda", "It needs CUDA.", _must_not_run, needs_cuda=True).check()
    assert (evidence.status, evidence.device) == ("not-run", "none")
    assert evidence.observations == (("reason", "no CUDA device in this build"),)


@pytest.mark.usefixtures("no_cuda")
def test_cuda_claim_without_cuda_raises_when_required() -> None:
    cuda_claim = Claim("test.cuda", "It needs CUDA.", _must_not_run, needs_cuda=True)
    with pytest.raises(CUDAUnavailable, match=r"'test\.cuda' needs CUDA"):
        cuda_claim.check(require=True)


@pytest.mark.usefixtures("no_cuda")
def test_cpu_claim_asked_to_run_on_cuda_without_cuda_raises() -> None:
    with pytest.raises(CUDAUnavailable):
        check("eval.flag", "cuda")
