"""Counterfactual torches: for each claim, a patch of torch under which its fact is false.

A counterfactual lives in ``tests/counterfactuals/<claims module name>.py`` (the claims of
``src/gradmodes/claims/no_grad.py`` in ``no_grad.py``) and patches torch at the Python level
through the ``pytest.MonkeyPatch`` it is given, which is undone afterwards::

    import torch
    from counterfactuals import counterfactual

    @counterfactual("ng.outputs", "no_grad() records the graph like enable_grad()")
    def _(patch):
        patch.setattr(torch, "no_grad", torch.enable_grad)

:func:`trial` runs the claim's check without the patch (it must verify) and with it (it
must raise ``ClaimFailed`` naming that claim); ``tests/test_counterfactuals.py`` tries every
counterfactual :func:`discover` finds, and fails while a registered claim has none.

>>> import math
>>> from gradmodes.claims import Claim, _registry
>>> pi = Claim("doc.pi", "Pi is more than 3.", lambda obs: obs.expect("pi > 3", math.pi > 3, True))
>>> with pytest.MonkeyPatch.context() as registry:  # registered for this example only
...     registry.setitem(_registry._REGISTRY, pi.id, pi)
...     killed = trial(Counterfactual(pi.id, "pi is 3", lambda p: p.setattr(math, "pi", 3)))
...     kept = trial(Counterfactual(pi.id, "a patch that changes nothing", lambda p: None))
>>> killed.outcome, kept.outcome, math.pi > 3
('killed', 'survived', True)
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import pytest
import torch

from gradmodes.claims import ClaimFailed, UnknownClaim, check, get_claim

__all__ = [
    "TRIED",
    "Counterfactual",
    "Trial",
    "counterfactual",
    "coverage",
    "discover",
    "trial",
]

Patch = Callable[[pytest.MonkeyPatch], None]
Outcome = Literal[
    "killed",  # the claim verifies, and fails under the patch naming itself: what we want
    "survived",  # the claim still verifies under the patch
    "error",  # the check raised something other than this claim's ClaimFailed
    "false-without-patch",  # the claim does not even verify on the real torch
    "unknown-claim",  # no claim is registered under this id
    "not-run",  # a CUDA claim, and torch sees no CUDA device
    "not-applicable",  # the claim does not apply to this torch release
]


@dataclass(frozen=True)
class Counterfactual:
    """A patch of torch under which the claim ``claim_id`` is false."""

    claim_id: str
    description: str
    patch: Patch

    @property
    def source(self) -> str:
        """Where the patch is defined: ``file:line``."""
        code = getattr(self.patch, "__code__", None)
        return f"{code.co_filename}:{code.co_firstlineno}" if code else repr(self.patch)


@dataclass(frozen=True)
class Trial:
    """What happened to a claim's check without and with one counterfactual's patch."""

    counterfactual: Counterfactual
    outcome: Outcome
    detail: str


_REGISTERED: dict[tuple[str, str], Counterfactual] = {}
TRIED: list[Trial] = []  # what tests/test_counterfactuals.py tried in this run, for the summary


def counterfactual(claim_id: str, description: str) -> Callable[[Patch], Patch]:
    """Register the decorated ``f(patch)`` as a counterfactual of ``claim_id``.

    ``description`` says, in a few words, what the patched torch does instead.
    """
    if not isinstance(claim_id, str) or not isinstance(description, str):
        raise TypeError(f"counterfactual(claim_id, description) takes two str, got {claim_id!r}")
    if not description.strip():
        raise ValueError(f"the counterfactual of {claim_id!r} needs a description")

    def register(patch: Patch) -> Patch:
        new = Counterfactual(claim_id, description, patch)
        old = _REGISTERED.get((claim_id, description))
        if old is not None and old.source != new.source:  # the same module imported again is fine
            raise ValueError(
                f"two counterfactuals of {claim_id!r} say {description!r}: "
                f"{old.source} and {new.source}"
            )
        _REGISTERED[(claim_id, description)] = new
        return patch

    return register


def discover() -> list[Counterfactual]:
    """Import every module of this folder; every registered counterfactual, by claim id."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return sorted(_REGISTERED.values(), key=lambda c: (c.claim_id, c.description))


def trial(cf: Counterfactual) -> Trial:
    """Check ``cf``'s claim on the real torch, then with ``cf``'s patch applied (undone after)."""
    try:
        claim = get_claim(cf.claim_id)
    except UnknownClaim as exc:
        return Trial(cf, "unknown-claim", str(exc))
    if not claim.applies():
        return Trial(cf, "not-applicable", f"torch {torch.__version__} is outside its range")
    if claim.needs_cuda and not torch.cuda.is_available():
        return Trial(cf, "not-run", "a CUDA claim, and torch sees no CUDA device here")
    try:
        check(cf.claim_id)
    except Exception as exc:
        return Trial(cf, "false-without-patch", f"{type(exc).__name__}: {exc}")
    with pytest.MonkeyPatch.context() as patch:
        try:
            cf.patch(patch)
            check(cf.claim_id)
            result = Trial(cf, "survived", "the check still verifies with the patch applied")
        except ClaimFailed as exc:
            if exc.claim_id == cf.claim_id:
                result = Trial(cf, "killed", str(exc))
            else:
                result = Trial(cf, "error", f"ClaimFailed names {exc.claim_id!r}: {exc}")
        except Exception as exc:
            result = Trial(cf, "error", f"{type(exc).__name__}: {exc}")
    try:  # the patch is undone: the real torch is back
        check(cf.claim_id)
    except Exception as exc:
        return Trial(
            cf,
            "error",
            f"after the patch was undone, {type(exc).__name__}: {exc} "
            "(did it change torch other than through `patch`?)",
        )
    return result


_FAILED = {"survived", "error", "false-without-patch", "unknown-claim"}


def coverage(claim_ids: Iterable[str], trials: Iterable[Trial], registered: int) -> str:
    """One line: how many claims a counterfactual killed, of all claims.

    ``registered`` is how many counterfactuals exist; fewer ``trials`` means a partial run.

    >>> def tried(claim_id, outcome):
    ...     return Trial(Counterfactual(claim_id, "d", print), outcome, "")
    >>> trials = [tried("a.x", "killed"), tried("a.z", "not-run")]
    >>> print(*coverage(["a.x", "a.y", "a.z"], trials, 2).split("; "), sep="\\n  ")
    counterfactuals: 1/3 claims killed by a counterfactual
      1 CUDA claims not run here (a.z)
      1 claims without a counterfactual (a.y)
    """
    ids = list(claim_ids)
    outcomes: dict[str, set[str]] = {}
    done = list(trials)
    for t in done:
        outcomes.setdefault(t.counterfactual.claim_id, set()).add(t.outcome)
    killed = [i for i in ids if "killed" in outcomes.get(i, ())]
    skipped = {"not-run", "not-applicable"}
    groups = {
        "CUDA claims not run here": [i for i in ids if outcomes.get(i) == {"not-run"}],
        "not applicable to this torch": [i for i in ids if outcomes.get(i) == {"not-applicable"}],
        "claims no counterfactual killed": [
            i for i in ids if i in outcomes and i not in killed and outcomes[i] - skipped
        ],
        "claims without a counterfactual": [i for i in ids if i not in outcomes],
    }
    parts = [f"counterfactuals: {len(killed)}/{len(ids)} claims killed by a counterfactual"]
    parts += [f"{len(v)} {k} ({', '.join(v)})" for k, v in groups.items() if v]
    failed = [f"{t.counterfactual.claim_id}: {t.outcome}" for t in done if t.outcome in _FAILED]
    if failed:
        parts.append(f"{len(failed)} counterfactuals failed their test ({', '.join(failed)})")
    if len(done) < registered:
        parts.append(f"only {len(done)} of {registered} counterfactuals tried in this run")
    return "; ".join(parts)
