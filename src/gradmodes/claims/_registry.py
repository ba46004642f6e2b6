"""The claim registry: each fact the site states, with the code that proves it.

A claim is an id, a one-sentence statement and a check function. The check
observes torch and calls :meth:`Observer.expect`; the first expectation that
does not hold raises :class:`ClaimFailed`, naming the claim, what was expected
and what was seen.

>>> from gradmodes.claims import check
>>> evidence = check("eval.flag")
>>> evidence.status
'verified'
>>> check("no.such.claim")
Traceback (most recent call last):
...
gradmodes.claims._registry.UnknownClaim: unknown claim id 'no.such.claim'...
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import torch
from packaging.specifiers import InvalidSpecifier, SpecifierSet

__all__ = [
    "CUDAUnavailable",
    "Claim",
    "ClaimFailed",
    "Evidence",
    "NoExpectation",
    "Observer",
    "UnknownClaim",
    "all_claims",
    "check",
    "claim",
    "get_claim",
]

Status = Literal["verified", "not-run", "not-applicable"]
_ID = re.compile(r"^[a-z]+\.[a-z0-9_-]+$")
_REGISTRY: dict[str, Claim] = {}


class ClaimFailed(AssertionError):
    """A registered claim is false on this torch / device.

    ``observations`` are those the check made up to the failure (the failing one last).
    """

    def __init__(
        self,
        claim_id: str,
        what: str,
        expected: object,
        observed: object,
        observations: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.claim_id = claim_id
        self.what = what
        self.expected = expected
        self.observed = observed
        self.observations = observations
        super().__init__(
            f"claim {claim_id!r} is false: {what}: expected {expected!r}, observed {observed!r}"
        )


class UnknownClaim(KeyError):
    """No claim is registered under this id."""

    def __init__(self, claim_id: str) -> None:
        self.claim_id = claim_id
        close = difflib.get_close_matches(claim_id, list(_REGISTRY), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        super().__init__(f"unknown claim id {claim_id!r}{hint}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class NoExpectation(RuntimeError):
    """A check ran without one expectation: it could not have failed, so it proves nothing."""

    def __init__(self, claim_id: str) -> None:
        self.claim_id = claim_id
        super().__init__(
            f"the check of claim {claim_id!r} made no expectation (obs.expect or "
            "obs.expect_raises): a check that cannot fail proves nothing"
        )


class CUDAUnavailable(RuntimeError):
    """A CUDA check was required but torch sees no CUDA device."""


@dataclass
class Observer:
    """What a check sees: named observations and the expectations on them."""

    claim_id: str
    device: torch.device
    observations: list[tuple[str, str]] = field(default_factory=list)
    expectations: int = field(default=0, init=False)  # expect / expect_raises calls made

    def record(self, what: str, value: object) -> None:
        """Record an observation without an expectation."""
        self.observations.append((what, _show(value)))

    def expect(self, what: str, observed: object, expected: object) -> None:
        """Record ``observed`` and raise :class:`ClaimFailed` unless it equals ``expected``."""
        self.record(what, observed)
        self.expectations += 1
        if observed != expected:
            raise self._failed(what, expected, observed)

    @contextmanager
    def expect_raises(self, what: str, error: type[BaseException], match: str) -> Iterator[None]:
        """Expect the block to raise ``error`` whose message contains ``match``."""
        self.expectations += 1
        try:
            yield
        except error as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.record(what, f"{type(exc).__name__}: {message}")
            if match not in str(exc):
                raise self._failed(what, match, str(exc)) from exc
        else:
            self.record(what, "no error")
            raise self._failed(what, f"{error.__name__}: {match}", "no error")

    def _failed(self, what: str, expected: object, observed: object) -> ClaimFailed:
        observations = tuple(self.observations)
        return ClaimFailed(self.claim_id, what, expected, observed, observations)


@dataclass(frozen=True)
class Evidence:
    """The outcome of one check: what was observed, where."""

    claim_id: str
    status: Status
    device: str
    observations: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Claim:
    """One fact the site states, and the function that checks it.

    ``torch_versions`` is a PEP 440 specifier (``">=2.1"``) for claims that hold only
    for some torch releases; empty means every release the package supports.
    """

    id: str
    statement: str
    run: Callable[[Observer], None]
    needs_cuda: bool = False
    torch_versions: str = ""

    def applies(self, version: str | None = None) -> bool:
        """Whether torch ``version`` (default: the installed one) is in ``torch_versions``.

        >>> Claim("t.x", "It holds from 2.1.", print, torch_versions=">=2.1").applies("2.0.1")
        False
        >>> Claim("t.x", "It holds from 2.1.", print, torch_versions=">=2.1").applies("2.13.0+cpu")
        True
        """
        return _versions(self.torch_versions).contains(
            version or torch.__version__, prereleases=True
        )

    def check(
        self, device: str | None = None, *, require: bool = False, anywhere: bool = False
    ) -> Evidence:
        """Run the check; ``not-applicable`` outside ``torch_versions`` unless ``anywhere``
        (a record runs it outside its range too: what the check finds there); a CUDA claim
        without CUDA is ``not-run`` unless ``require``. A check that made no expectation
        raises :class:`NoExpectation`."""
        if not isinstance(anywhere, bool):
            raise TypeError(f"anywhere must be True or False, got {anywhere!r}")
        if not anywhere and not self.applies():
            reason = f"torch {torch.__version__} is outside {self.torch_versions}"
            return Evidence(self.id, "not-applicable", "none", (("reason", reason),))
        if device is not None and not isinstance(device, (str, torch.device)):
            raise TypeError(f"device must be a str or torch.device, got {device!r}")
        if self.needs_cuda and device is None:
            device = "cuda"
        dev = torch.device(device or "cpu")
        if dev.type == "cuda" and not torch.cuda.is_available():
            if not self.needs_cuda:
                raise CUDAUnavailable(
                    f"claim {self.id!r} was asked to run on {device!r}, and torch sees no CUDA"
                )
            if require:
                raise CUDAUnavailable(f"claim {self.id!r} needs CUDA, and torch sees none")
            reason = "no CUDA device in this build"
            return Evidence(self.id, "not-run", "none", (("reason", reason),))
        observer = Observer(self.id, dev)
        self.run(observer)
        if not observer.expectations:
            raise NoExpectation(self.id)
        return Evidence(self.id, "verified", str(dev), tuple(observer.observations))


def claim(
    claim_id: str, statement: str, *, needs_cuda: bool = False, torch_versions: str = ""
) -> Callable[[Callable[[Observer], None]], Callable[[Observer], None]]:
    """Register the decorated function as the check of ``claim_id``.

    ``torch_versions`` limits the claim to a range of torch releases (see :class:`Claim`).
    """
    if not isinstance(claim_id, str) or not isinstance(statement, str):
        raise TypeError(f"a claim is an id and a statement (str), got {claim_id!r}, {statement!r}")
    if not _ID.match(claim_id):
        raise ValueError(f"claim id {claim_id!r} must look like 'section.name'")
    if not statement.strip():
        raise ValueError(f"claim {claim_id!r} needs its statement, one sentence")
    _versions(torch_versions)  # a malformed range is a ValueError now, not at check time

    def register(run: Callable[[Observer], None]) -> Callable[[Observer], None]:
        if claim_id in _REGISTRY:
            raise ValueError(f"claim id {claim_id!r} is registered twice")
        _REGISTRY[claim_id] = Claim(claim_id, statement, run, needs_cuda, torch_versions)
        return run

    return register


def get_claim(claim_id: str) -> Claim:
    """The claim registered under ``claim_id``; :class:`UnknownClaim` otherwise."""
    if not isinstance(claim_id, str):
        raise TypeError(f"a claim id is a str such as 'eval.flag', got {claim_id!r}")
    try:
        return _REGISTRY[claim_id]
    except KeyError:
        raise UnknownClaim(claim_id) from None


def all_claims() -> list[Claim]:
    """Every registered claim, sorted by id."""
    return [_REGISTRY[key] for key in sorted(_REGISTRY)]


def check(claim_id: str, device: str | None = None, *, require: bool = False) -> Evidence:
    """Check one claim by id (see :meth:`Claim.check`)."""
    return get_claim(claim_id).check(device, require=require)


def _versions(specifier: str) -> SpecifierSet:
    """The PEP 440 ``specifier`` as a SpecifierSet; ``ValueError`` if it is malformed."""
    try:
        return SpecifierSet(specifier)
    except InvalidSpecifier:
        raise ValueError(
            f"torch_versions {specifier!r} is not a PEP 440 specifier such as '>=2.1'"
        ) from None


def _show(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, torch.Size):
        return str(tuple(value))
    return repr(value)
