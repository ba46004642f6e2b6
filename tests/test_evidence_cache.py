"""Claim evidence is reused only under the same key, and only passing checks are stored."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _site import DOCS

sys.path.insert(0, str(DOCS / "_ext"))
import claims
from evidence_cache import EvidenceCache, torch_facts, tree_fingerprint
from gradmodes.claims import get_claim
from gradmodes.records import fingerprint


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EvidenceCache]:
    cache = EvidenceCache(tmp_path, claims.evidence_key(require_cuda=False))
    monkeypatch.setattr(claims, "_cache", cache)
    claims.evaluate.cache_clear()
    claims.claim_fingerprint.cache_clear()
    yield cache
    claims.evaluate.cache_clear()
    claims.claim_fingerprint.cache_clear()


def test_a_passing_check_is_stored_and_then_reused(store: EvidenceCache) -> None:
    fresh = claims.evaluate("eval.flag", False)
    assert claims._origin["eval.flag"] == "checked"
    assert store.load("eval.flag") is not None
    claims.evaluate.cache_clear()
    again = claims.evaluate("eval.flag", False)
    assert claims._origin["eval.flag"] == "reused"
    assert again == fresh


def test_a_claim_checked_by_one_reader_and_reused_by_another_counts_as_checked() -> None:
    """With ``-j``, each reader takes from the store what another stored: the build ran it."""
    from types import SimpleNamespace

    env = SimpleNamespace(gradmodes_citations={}, gradmodes_origin={"a": "checked", "b": "reused"})
    for other in ({"a": "reused", "b": "reused", "c": "reused"}, {"b": "checked"}):
        other_env = SimpleNamespace(gradmodes_citations={}, gradmodes_origin=other)
        claims.merge(None, env, set(), other_env)  # type: ignore[arg-type]
    assert env.gradmodes_origin == {"a": "checked", "b": "checked", "c": "reused"}


def test_a_stored_claim_keeps_its_fingerprint_which_is_then_not_computed_again(
    store: EvidenceCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered = get_claim("eval.flag")
    expected = fingerprint(registered)
    assert claims.claim_fingerprint(registered) == expected  # nothing stored: computed
    claims.claim_fingerprint.cache_clear()  # (kept once per process: as in a new process)
    claims.evaluate("eval.flag", False)
    assert store.load("eval.flag")["fingerprint"] == expected  # type: ignore[index]

    def computed(claim: object) -> str:
        raise AssertionError("computed again")

    monkeypatch.setattr(claims, "fingerprint", computed)
    assert claims.claim_fingerprint(registered) == expected


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


# --- what the keys know of torch ----------------------------------------------------------


def test_the_tree_fingerprint_sees_an_edit_that_keeps_size_and_time(tmp_path: Path) -> None:
    source, binary = tmp_path / "nn.py", tmp_path / "_C.so"
    source.write_text("def eval(self): return self.train(False)\n")
    binary.write_bytes(b"\0" * 8)
    (tmp_path / "__pycache__").mkdir()
    before = tree_fingerprint(tmp_path)

    stat = source.stat()
    source.write_text("def eval(self): return self.train(True) \n")  # the same size
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same time
    edited = tree_fingerprint(tmp_path)
    (tmp_path / "__pycache__" / "nn.cpython-311.pyc").write_bytes(b"compiled")
    assert tree_fingerprint(tmp_path) == edited != before  # compiled files do not count
    os.utime(binary, ns=(0, 0))  # a binary is known by its size and time
    assert tree_fingerprint(tmp_path) != edited


FACTS = "import evidence_cache; print(evidence_cache.torch_facts())"


def _facts(pythonpath: Path | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"PYTHONPATH": str(pythonpath)} if pythonpath else {}
    result = subprocess.run(
        [sys.executable, "-c", FACTS],
        cwd=DOCS / "_ext",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_a_sitecustomize_that_patches_torch_changes_what_the_keys_know(tmp_path: Path) -> None:
    """The files of the real torch are the same; what runs before it is not."""
    plain = _facts(None)
    (tmp_path / "sitecustomize.py").write_text("# a patch of torch would go here\n")
    patched = _facts(tmp_path)
    (tmp_path / "sitecustomize.py").write_text("# another patch of torch would go here\n")
    assert len({plain, patched, _facts(tmp_path)}) == 3


def test_the_evidence_key_covers_what_torch_is(monkeypatch: pytest.MonkeyPatch) -> None:
    real = claims.evidence_key(False)
    facts = {**torch_facts(), "torch files": "edited"}
    monkeypatch.setattr(claims, "torch_facts", lambda: facts)
    assert claims.evidence_key(False) != real
