"""Claim evidence is reused only under the same key, and only passing checks are stored."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _site import DOCS

sys.path.insert(0, str(DOCS / "_ext"))
import claims
from evidence_cache import EvidenceCache


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EvidenceCache]:
    cache = EvidenceCache(tmp_path, claims.evidence_key(require_cuda=False))
    monkeypatch.setattr(claims, "_cache", cache)
    claims.evaluate.cache_clear()
    yield cache
    claims.evaluate.cache_clear()


def test_a_passing_check_is_stored_and_then_reused(store: EvidenceCache) -> None:
    fresh = claims.evaluate("eval.flag", False)
    assert claims._origin["eval.flag"] == "checked"
    assert store.load("eval.flag") is not None
    claims.evaluate.cache_clear()
    again = claims.evaluate("eval.flag", False)
    assert claims._origin["eval.flag"] == "reused"
    assert again == fresh


def test_a_failing_claim_is_never_stored(store: EvidenceCache) -> None:
    result = claims.evaluate("no.such-claim", False)
    assert isinstance(result, str) and "unknown claim id" in result
    assert store.load("no.such-claim") is None


def test_the_key_covers_the_cuda_requirement_and_is_stable() -> None:
    assert claims.evidence_key(False) == claims.evidence_key(False)
    assert claims.evidence_key(False) != claims.evidence_key(True)


def test_stores_of_other_keys_are_dropped(tmp_path: Path) -> None:
    old = EvidenceCache(tmp_path, "a" * 64)
    old.store("eval.flag", {"status": "verified", "device": "cpu", "observations": []})
    new = EvidenceCache(tmp_path, "b" * 64)
    new.store("eval.flag", {"status": "verified", "device": "cpu", "observations": []})
    new.forget_other_keys()
    assert old.load("eval.flag") is None and new.load("eval.flag") is not None
