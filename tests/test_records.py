"""Specification of records (``gradmodes.records``): what one says, when it is stale, and how
the committed records in ``docs/_data/evidence/`` must agree with the claims' torch ranges."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import gradmodes
from gradmodes import records
from gradmodes.claims import Claim, Observer, all_claims, get_claim
from gradmodes.records import (
    BadRecord,
    ClaimResult,
    Record,
    contradictions,
    fingerprint,
    load_records,
    make_record,
    read_record,
    status_of,
    write_record,
)

ROOT = Path(__file__).parents[1]
EVIDENCE = ROOT / "docs" / "_data" / "evidence"
PACKAGE = Path(gradmodes.__file__).parent
pytestmark = pytest.mark.records


def _false(obs: Observer) -> None:
    obs.expect("1 + 1", 1 + 1, 2)
    obs.expect("2 + 2", 2 + 2, 5)


def _crashes(obs: Observer) -> None:
    raise ZeroDivisionError("division by zero")


@pytest.fixture(scope="module")
def record_now() -> Record:
    """A record of this environment, every claim checked (once for this module's tests)."""
    return make_record()


def test_a_record_describes_this_environment_and_every_claim(record_now: Record) -> None:
    made = record_now
    env = made.environment
    assert (env.torch, env.torch_git) == (torch.__version__, torch.version.git_version)
    assert env.torch_cuda == torch.version.cuda and env.python and env.cpu and env.os
    assert env.date.endswith("Z") and env.platform.split()[0] in ("Linux", "Darwin", "Windows")
    assert list(made.claims) == [c.id for c in all_claims()]
    for registered in all_claims():
        entry = made.claims[registered.id]
        assert entry.fingerprint == fingerprint(registered)
        assert records.outcome(made, registered) == entry.status
        inside = registered.applies()
        assert status_of(made, registered) == (entry.status if inside else "not-applicable")
        if entry.status == "verified":
            assert entry.observations and entry.failure is None


def test_a_false_claim_is_recorded_with_its_failure_and_the_run_goes_on() -> None:
    false = Claim("test.false", "Two and two make five.", _false)
    crash = Claim("test.crash", "It crashes.", _crashes)
    made = make_record([false, get_claim("eval.flag"), crash])
    assert [entry.status for entry in made.claims.values()] == ["false", "verified", "false"]
    entry = made.claims["test.false"]
    assert entry.observations == (("1 + 1", "2"), ("2 + 2", "4"))
    assert entry.failure == "claim 'test.false' is false: 2 + 2: expected 5, observed 4"
    assert made.claims["test.crash"].failure == "ZeroDivisionError: division by zero"


def test_a_record_is_written_and_read_back_unchanged(tmp_path: Path) -> None:
    made = make_record([get_claim("eval.flag"), get_claim("ng.decorator")])
    path = write_record(made, tmp_path / "new")
    assert path.name == records.record_name(made.environment)
    assert read_record(path) == made
    assert load_records(tmp_path / "new") == [made]
    assert load_records(tmp_path / "missing") == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not a readable JSON record"),
        ("[]", "not a gradmodes record"),
        ('{"format": 99}', "format 99, expected 1"),
        ('{"format": 1, "environment": {}}', r"not a gradmodes record \(KeyError"),
    ],
)
def test_a_file_that_is_not_a_record_is_refused_naming_it(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "bad.json").write_text(text, encoding="utf-8")
    with pytest.raises(BadRecord, match=rf"^bad\.json: {problem}"):
        load_records(tmp_path)


def test_a_record_with_an_unknown_status_is_refused(tmp_path: Path) -> None:
    data = make_record([get_claim("eval.flag")]).to_json()
    data["claims"]["eval.flag"]["status"] = "probably"
    (tmp_path / "r.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(BadRecord, match=r"claim 'eval\.flag' has status 'probably'"):
        read_record(tmp_path / "r.json")


# --- fingerprints ----------------------------------------------------------------------------

FINGERPRINTS = """
import json, sys
from gradmodes.claims import all_claims
from gradmodes.records import fingerprint
print(json.dumps({c.id: fingerprint(c) for c in all_claims()}))
"""


def _fingerprints_in(package_parent: Path, cwd: Path) -> dict[str, str]:
    """Every claim's fingerprint, computed by a fresh interpreter importing the given copy."""
    env = {**os.environ, "PYTHONPATH": str(package_parent), "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", FINGERPRINTS],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def copy_of_the_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the gradmodes sources elsewhere, with Windows line endings: a clone on
    another machine. Returns the folder to put on PYTHONPATH."""
    parent = tmp_path_factory.mktemp("elsewhere") / "src"
    shutil.copytree(PACKAGE, parent / "gradmodes", ignore=shutil.ignore_patterns("__pycache__"))
    for path in (parent / "gradmodes").rglob("*.py"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    return parent


def test_fingerprints_do_not_depend_on_the_machine_the_path_or_line_endings(
    copy_of_the_package: Path, tmp_path: Path
) -> None:
    here = {c.id: fingerprint(c) for c in all_claims()}
    assert _fingerprints_in(copy_of_the_package, tmp_path) == here
    assert len(set(here.values())) == len(here)  # and every claim has its own


def _edited_copy(tmp_path: Path, module: str, old: str, new: str) -> Path:
    parent = tmp_path / "src"
    shutil.copytree(PACKAGE, parent / "gradmodes", ignore=shutil.ignore_patterns("__pycache__"))
    path = parent / "gradmodes" / module
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {module}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return parent


def _statuses_in_copy(parent: Path, cwd: Path, folder: Path) -> dict[str, set[str]]:
    """What every record in ``folder`` says of each claim, as the copied package sees it."""
    script = f"""
import json
from gradmodes.claims import all_claims
from gradmodes.records import load_records, status_of
found = load_records({str(folder)!r})
print(json.dumps({{c.id: sorted({{status_of(r, c) for r in found}}) for c in all_claims()}}))
"""
    env = {**os.environ, "PYTHONPATH": str(parent)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=cwd, check=True
    )
    return {key: set(value) for key, value in json.loads(done.stdout).items()}


@pytest.fixture(scope="module")
def every_record(tmp_path_factory: pytest.TempPathFactory, record_now: Record) -> Path:
    """The committed records and one made now, in one folder."""
    folder = tmp_path_factory.mktemp("records")
    for path in EVIDENCE.glob("*.json"):
        shutil.copy(path, folder / path.name)
    (folder / "now.json").write_text(json.dumps(record_now.to_json()), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("module", "old", "new", "changed"),
    [
        # the statement
        ("claims/eval_mode.py", "and returns the module itself;", "and returns it;", ["eval.flag"]),
        # the check
        (
            "claims/no_grad.py",
            'obs.expect("w.requires_grad", w.requires_grad, True)',
            'obs.expect("w.requires_grad", w.requires_grad, 1)',
            ["ng.outputs"],
        ),
        # a helper the check uses, two calls away (observe -> _watch_dropout)
        ("probes.py", "def _watch_dropout(", "def _watch_dropout(  # edited\n", None),
    ],
    ids=["statement", "check", "helper"],
)
def test_a_claim_changed_in_a_copy_is_stale_for_every_record(
    every_record: Path,
    record_now: Record,
    tmp_path: Path,
    module: str,
    old: str,
    new: str,
    changed: list[str] | None,
) -> None:
    copy = _edited_copy(tmp_path, module, old, new)
    if changed is None:  # every claim whose check reaches the helper
        changed = [
            c.id for c in all_claims() if "gradmodes.probes._watch_dropout" in records.uses(c)
        ]
        assert len(changed) > 1
    seen = _statuses_in_copy(copy, tmp_path, every_record)
    for claim_id in changed:  # a record made before the claim existed does not record it
        assert seen[claim_id] - {"not-recorded"} == {"stale"}, claim_id
    # A claim left alone still reads as it was recorded now: the copy did not stale it.
    unchanged = [c for c in all_claims() if c.id not in changed]
    assert all(status_of(record_now, c) in seen[c.id] for c in unchanged)


@pytest.mark.parametrize(
    ("new", "shown"), [(">=2.0", {"verified"}), (">=99", {"not-applicable"})], ids=["wider", "past"]
)
def test_a_range_changed_in_a_copy_is_judged_against_the_records_without_staling_them(
    record_now: Record, tmp_path: Path, new: str, shown: set[str]
) -> None:
    """The records keep what each check found, inside its range or not: a new range is judged
    against them, and does not make them stale."""
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "now.json").write_text(json.dumps(record_now.to_json()), encoding="utf-8")
    copy = _edited_copy(
        tmp_path, "claims/no_grad.py", 'torch_versions=">=2.1",', f'torch_versions="{new}",'
    )
    assert _statuses_in_copy(copy, tmp_path, folder)["ng.decorator-bare"] == shown


def _holds(obs: Observer) -> None:
    obs.expect("1 + 1", 1 + 1, 2)


@pytest.mark.parametrize(
    ("check", "status", "found"),
    [
        (_holds, "verified", ["torch 2.13.0: test.narrow is verified outside >=99"]),
        (_false, "false", []),
    ],
    ids=["holds-outside", "fails-outside"],
)
def test_a_record_runs_a_check_outside_its_range_and_judges_the_range_by_it(
    check: Callable[[Observer], None], status: str, found: list[str]
) -> None:
    """Outside its range a claim is not applicable, and a record still runs its check: one
    that holds there shows the range too narrow (a contradiction), one that fails there
    records what changed (its failure) and agrees with the range."""
    narrow = Claim("test.narrow", "It holds from torch 99.", check, torch_versions=">=99")
    assert narrow.check().status == "not-applicable"
    made = make_record([narrow])
    entry = made.claims["test.narrow"]
    assert entry.status == status
    assert (entry.failure is not None) == (status == "false")
    assert status_of(made, narrow) == "not-applicable"
    assert records.outcome(made, narrow) == status
    environment = replace(made.environment, torch="2.13.0")
    assert contradictions([Record(environment, made.claims)], [narrow]) == found


def test_a_stale_record_is_never_shown_or_counted_as_verified() -> None:
    registered = get_claim("eval.flag")
    made = make_record([registered])
    stale = Record(
        made.environment, {registered.id: replace(made.claims[registered.id], fingerprint="0" * 16)}
    )
    assert status_of(stale, registered) == "stale"
    assert status_of(Record(made.environment, {}), registered) == "not-recorded"
    # A stale false record contradicts nothing either: it says nothing about the claim today.
    false = replace(stale.claims[registered.id], status="false", failure="made up")
    assert contradictions([Record(made.environment, {registered.id: false})], [registered]) == []


@pytest.mark.parametrize(("version", "shown"), [("2.0.1", "not-applicable"), ("2.4.1", "stale")])
def test_another_version_of_a_claim_reads_not_applicable_outside_its_range_else_stale(
    version: str, shown: str
) -> None:
    """A record of an older version of ``ng.decorator-bare`` (>=2.1): on torch 2.0 the claim as
    it stands does not apply, whatever was recorded; on 2.4 the record is stale."""
    old = _fabricated(version, "ng.decorator-bare", "verified")
    entry = replace(old.claims["ng.decorator-bare"], fingerprint="0" * 16)
    record = Record(old.environment, {"ng.decorator-bare": entry})
    assert status_of(record, get_claim("ng.decorator-bare")) == shown
    assert contradictions([record], [get_claim("ng.decorator-bare")]) == []


# --- records against the claims' torch ranges ------------------------------------------------


def test_no_committed_record_contradicts_a_claims_torch_range() -> None:
    """A claim false inside its range, or verified where it says it does not apply, is a
    finding: narrow the claim (its range, its sentence) or fix its check."""
    assert contradictions(load_records(EVIDENCE)) == []


def _fabricated(version: str, claim_id: str, status: str) -> Record:
    """A record of torch ``version`` in which ``claim_id`` has ``status`` (current fingerprint)."""
    registered = get_claim(claim_id)
    made = make_record([registered])
    entry = ClaimResult(
        status, "cpu", fingerprint(registered), (), "made up" if status == "false" else None
    )  # type: ignore[arg-type]
    return Record(replace(made.environment, torch=version), {claim_id: entry})


@pytest.mark.parametrize(
    ("version", "status", "found"),
    [
        ("2.4.1", "false", "ng.decorator-bare is false inside >=2.1: made up"),
        ("2.0.1", "verified", "ng.decorator-bare is verified outside >=2.1"),
        ("2.4.1", "not-applicable", "ng.decorator-bare is not-applicable inside >=2.1"),
    ],
)
def test_a_fabricated_record_that_contradicts_a_range_fails(
    tmp_path: Path, version: str, status: str, found: str
) -> None:
    path = write_record(_fabricated(version, "ng.decorator-bare", status), tmp_path)
    assert contradictions(load_records(tmp_path)) == [f"{path.name}: {found}"]
    with pytest.raises(AssertionError):
        assert contradictions(load_records(tmp_path)) == []


@pytest.mark.parametrize(
    ("version", "status"), [("2.0.1", "not-applicable"), ("2.4.1", "verified"), ("2.0.1", "false")]
)
def test_a_record_that_agrees_with_the_range_contradicts_nothing(version: str, status: str) -> None:
    assert contradictions([_fabricated(version, "ng.decorator-bare", status)]) == []
