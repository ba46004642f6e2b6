"""Records: which claims held in one environment (torch release, Python, platform, devices).

``python -m gradmodes check --record DIR`` writes one record of this environment; the site
shows the records of ``docs/_data/evidence/`` claim by claim. Each claim's entry carries a
*fingerprint* of what was checked: its statement and the source of its check and of every
``gradmodes`` function, class or constant the check uses, followed through the package. A
record whose fingerprint differs from the current claim's is stale: it proves nothing about
the claim as it stands, and is never shown or counted as verified.

A record runs every check, also where the torch release is outside the claim's range, and
keeps what the check found there: the range is judged against the records (``status_of``,
``contradictions``), so a check that still holds outside the range shows that the range is
too narrow, and one that fails there shows what changed (its failure).

>>> from gradmodes.claims import get_claim
>>> made = make_record([get_claim("eval.flag")])
>>> made.claims["eval.flag"].status, status_of(made, get_claim("eval.flag"))
('verified', 'verified')
>>> sorted(make_record([get_claim("eval.flag")]).to_json()) == sorted(RECORD_KEYS)
True
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import inspect
import json
import os
import platform
import re
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from gradmodes.claims import Claim, ClaimFailed, all_claims
from gradmodes.claims._registry import Observer

__all__ = [
    "FORMAT",
    "BadRecord",
    "ClaimResult",
    "Environment",
    "Record",
    "contradictions",
    "current_environment",
    "fingerprint",
    "load_records",
    "make_record",
    "outcome",
    "read_record",
    "record_name",
    "status_of",
    "uses",
    "write_record",
]

FORMAT = 1  # the version of the JSON layout below
RECORD_KEYS = ("format", "environment", "claims")
RecordedStatus = Literal["verified", "false", "not-applicable", "not-run"]
RECORDED: tuple[RecordedStatus, ...] = ("verified", "false", "not-applicable", "not-run")
#: What a record says of a claim today: a recorded status, or ``stale`` (the claim changed
#: since), or ``not-recorded`` (the record predates the claim).
Shown = Literal["verified", "false", "not-applicable", "not-run", "stale", "not-recorded"]
_PACKAGE = "gradmodes"


# --- fingerprints ------------------------------------------------------------------------


def fingerprint(registered: Claim) -> str:
    """A sha256 (16 hex digits) of what a record of ``registered`` depends on.

    It covers the statement and the source text of the check and of every function, class,
    module-level constant and module of ``gradmodes`` that the check names, followed
    recursively (a helper of a helper counts). Not the torch range: a record keeps what the
    check found whatever the range, and the range is judged against it. Only source text is
    hashed, with line endings normalised, so the value is the same on every machine and
    Python version.

    >>> from gradmodes.claims import get_claim
    >>> value = fingerprint(get_claim("eval.flag"))
    >>> len(value), value == fingerprint(get_claim("eval.flag"))
    (16, True)
    >>> fingerprint("eval.flag")
    Traceback (most recent call last):
    ...
    TypeError: fingerprint() takes a registered Claim, got 'eval.flag'
    """
    if not isinstance(registered, Claim):
        raise TypeError(f"fingerprint() takes a registered Claim, got {registered!r}")
    sources = dict(_dependencies(registered))
    payload = {
        "statement": registered.statement,
        "needs_cuda": registered.needs_cuda,
        "sources": sorted(sources.items()),
    }
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def uses(registered: Claim) -> list[str]:
    """The qualified names of the ``gradmodes`` code a claim's check depends on, sorted.

    >>> from gradmodes.claims import get_claim
    >>> names = uses(get_claim("ng.outputs"))
    >>> "gradmodes.probes.observe" in names, "gradmodes.claims._common.deterministic" in names
    (True, True)
    """
    if not isinstance(registered, Claim):
        raise TypeError(f"uses() takes a registered Claim, got {registered!r}")
    return sorted(name for name, _ in _dependencies(registered))


def _dependencies(registered: Claim) -> Iterator[tuple[str, str]]:
    """(qualified name, source) of the check and of all it uses inside the package."""
    # Every check runs under the Observer it is given: its code decides what "holds" means.
    check = inspect.unwrap(registered.run)
    root = _code_key(check)
    pending = [root, f"{Observer.__module__}.{Observer.__qualname__}"]
    seen: set[str] = set()
    while pending:
        key = pending.pop()
        if key in seen:
            continue
        seen.add(key)
        source, used = _KNOWN[key] if key in _KNOWN else _learn(key, check)
        yield ("check" if key == root else key), source
        pending.extend(name for name in used if name not in seen)


# qualified name -> (source, the package names it uses); filled as fingerprints are taken
_KNOWN: dict[str, tuple[str, tuple[str, ...]]] = {}
_OBJECTS: dict[str, Any] = {}
# The registration decorator: the statement it passes is hashed on its own, the range not
# at all (it is judged against the records).
_REGISTRATION = "gradmodes.claims._registry.claim"


def _code_key(obj: Any) -> str:
    """A check's key: its module and first line (several checks may all be named ``_``)."""
    code = obj.__code__
    return f"{obj.__module__}:{code.co_firstlineno}"


def _learn(key: str, check: Any) -> tuple[str, tuple[str, ...]]:
    """The source of ``key`` and the package definitions it names (memoised)."""
    if ":" in key:  # a check, found by its line
        module_name = check.__module__
        source = _module_index(module_name)[1].get(check.__code__.co_firstlineno)
        source = source or _source(check)
        namespace: dict[str, Any] = check.__globals__
    else:
        obj = _OBJECTS.get(key)
        module_name, _, name = key.rpartition(".")
        if obj is None and module_name in sys.modules:  # Observer, or a module constant
            obj = getattr(sys.modules[module_name], name, None)
        # A class or function is indexed where it is defined; a constant (a compiled
        # pattern, a type alias) where it is assigned, whatever its own __module__ says.
        defined = inspect.isclass(obj) or inspect.isfunction(obj)
        namespace = vars(sys.modules[(defined and obj.__module__) or module_name])
        module_name = namespace["__name__"]
        found = _module_index(module_name)[0].get(obj.__qualname__ if defined else name)
        source = found if found is not None else _source(obj)
    used = tuple(sorted(set(_names_used(source, namespace)) - {_REGISTRATION}))
    _KNOWN[key] = (source, used)
    return _KNOWN[key]


def _source(obj: Any) -> str:
    text = inspect.getsource(obj)
    return textwrap.dedent(text.replace("\r\n", "\n").replace("\r", "\n"))


_INDEX: dict[str, tuple[dict[str, str], dict[int, str]]] = {}


def _module_index(module_name: str) -> tuple[dict[str, str], dict[int, str]]:
    """A module's top-level statements' source, by the name they define and by first line
    (decorators included): one parse per module."""
    if module_name in _INDEX:
        return _INDEX[module_name]
    by_name: dict[str, str] = {}
    by_line: dict[int, str] = {}
    module = sys.modules.get(module_name)
    try:
        text = inspect.getsource(module) if module else ""
    except (OSError, TypeError):
        text = ""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for node in ast.parse(text).body if text else []:
        decorators = getattr(node, "decorator_list", [])
        first = min([node.lineno, *(d.lineno for d in decorators)])
        segment = "\n".join(lines[first - 1 : node.end_lineno])
        names: list[str] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
            # A check's registration (@claim: its statement, hashed on its own, and its
            # range, judged against the records) is not part of what the check runs.
            kept = [d for d in decorators if not _registers(d)]
            parts = [lines[d.lineno - 1 : d.end_lineno] for d in kept]
            parts.append(lines[node.lineno - 1 : node.end_lineno])
            by_line[first] = "\n".join(line for part in parts for line in part)
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        for name in names:
            by_name[name] = segment
    _INDEX[module_name] = (by_name, by_line)
    return _INDEX[module_name]


def _registers(decorator: ast.expr) -> bool:
    """Whether a decorator is the claim registration, ``@claim(...)``."""
    func = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == _REGISTRATION.rpartition(".")[2]


def _in_package(module_name: object) -> bool:
    return isinstance(module_name, str) and (
        module_name == _PACKAGE or module_name.startswith(_PACKAGE + ".")
    )


def _names_used(source: str, namespace: dict[str, Any]) -> Iterator[str]:
    """The keys of the package definitions that ``source`` names, resolved in ``namespace``."""
    module_name = namespace.get("__name__", "")
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if isinstance(node, ast.Name) and node.id in namespace:
            yield from _resolve(namespace[node.id], node.id, module_name)
        elif isinstance(node, ast.Attribute):
            base = _attribute_base(node.value, namespace)
            package = isinstance(base, types.ModuleType) and _in_package(base.__name__)
            if package and hasattr(base, node.attr):
                yield from _resolve(getattr(base, node.attr), node.attr, base.__name__)


def _attribute_base(node: ast.expr, namespace: dict[str, Any]) -> object:
    """What a dotted name (``probes`` or ``gradmodes.probes``) refers to, if it is one."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _attribute_base(node.value, namespace)
        return getattr(base, node.attr, None) if isinstance(base, types.ModuleType) else None
    return None


def _resolve(value: object, name: str, module_name: str) -> Iterator[str]:
    if isinstance(value, types.ModuleType):
        return  # the attributes of it that are used are resolved one by one
    if inspect.isclass(value) or inspect.isfunction(value) or hasattr(value, "__wrapped__"):
        target = inspect.unwrap(value) if callable(value) else value
        defined_in = getattr(target, "__module__", None)
        if _in_package(defined_in) and hasattr(target, "__qualname__"):
            key = f"{defined_in}.{target.__qualname__}"
            _OBJECTS[key] = target
            yield key
        return
    if _in_package(module_name) and name in _module_index(module_name)[0]:
        yield f"{module_name}.{name}"  # a module-level constant of the package


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    """Where a record was made."""

    torch: str  # torch.__version__
    torch_git: str  # torch.version.git_version: the commit the release was built from
    torch_cuda: str | None  # the CUDA torch was built for; None for a CPU build
    python: str
    implementation: str
    platform: str  # "Linux x86_64", "Darwin arm64", "Windows AMD64"
    os: str  # platform.platform()
    cpu: str
    cuda_devices: tuple[str, ...]
    date: str  # ISO 8601, UTC

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "cuda_devices": list(self.cuda_devices)}


@dataclass(frozen=True)
class ClaimResult:
    """What one record says about one claim."""

    status: RecordedStatus
    device: str
    fingerprint: str
    observations: tuple[tuple[str, str], ...] = ()
    failure: str | None = None  # why a false claim is false

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "device": self.device,
            "fingerprint": self.fingerprint,
            "observations": [list(pair) for pair in self.observations],
            "failure": self.failure,
        }


@dataclass(frozen=True)
class Record:
    """One environment and the outcome of every claim there."""

    environment: Environment
    claims: dict[str, ClaimResult]
    path: Path | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "environment": self.environment.to_json(),
            "claims": {key: self.claims[key].to_json() for key in sorted(self.claims)},
        }


def cpu_model() -> str:
    """The CPU's model name as the operating system reports it (``platform.machine()``
    where it reports none)."""
    system = platform.system()
    if system == "Linux":
        try:
            for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                    return value.strip()
        except OSError:
            pass
    elif system == "Darwin":
        try:
            found = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
            if found.stdout.strip():
                return found.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def current_environment() -> Environment:
    """This interpreter's torch, Python, platform, CPU and CUDA devices, dated now."""
    devices: tuple[str, ...] = ()
    if torch.cuda.is_available():
        cuda = torch.cuda
        devices = tuple(
            "{} (sm {}.{})".format(cuda.get_device_name(i), *cuda.get_device_capability(i))
            for i in range(cuda.device_count())
        )
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return Environment(
        torch=torch.__version__,
        torch_git=str(getattr(torch.version, "git_version", "unknown")),
        torch_cuda=torch.version.cuda,
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        platform=f"{platform.system()} {platform.machine()}",
        os=platform.platform(),
        cpu=cpu_model(),
        cuda_devices=devices,
        date=now.isoformat().replace("+00:00", "Z"),
    )


def _check_claim(registered: Claim) -> ClaimResult:
    """Check one claim and keep its outcome, false or not (a crashing check is false too),
    inside its torch range or not."""
    stamp = fingerprint(registered)
    device = "cuda" if registered.needs_cuda else "cpu"
    try:
        evidence = registered.check(anywhere=True)
    except ClaimFailed as failed:
        observations = tuple(getattr(failed, "observations", ()))
        return ClaimResult("false", device, stamp, observations, str(failed))
    except Exception as exc:  # a check that crashes on this release: the claim is not shown
        return ClaimResult("false", device, stamp, (), f"{type(exc).__name__}: {exc}")
    return ClaimResult(evidence.status, evidence.device, stamp, evidence.observations)


def make_record(claims: Iterable[Claim] | None = None) -> Record:
    """Check ``claims`` (default: every registered claim) and record this environment.

    Every claim is checked: a false one is recorded with its failure, and the next is run.
    """
    chosen = all_claims() if claims is None else list(claims)
    for registered in chosen:
        if not isinstance(registered, Claim):
            raise TypeError(f"make_record() takes registered Claims, got {registered!r}")
    return Record(current_environment(), {c.id: _check_claim(c) for c in chosen})


def record_name(environment: Environment) -> str:
    """The file name of a record: one per torch, Python, platform and device set.

    >>> env = Environment("2.1.2+cu121", "a8e7c98", "12.1", "3.11.7", "CPython",
    ...                   "Linux x86_64", "Linux-6.1", "Intel Xeon", (), "2026-01-01T00:00:00Z")
    >>> record_name(env)
    'torch-2.1.2+cu121-py3.11-linux-x86_64.json'
    >>> record_name(Environment(**{**env.__dict__, "cuda_devices": ("NVIDIA H100 (sm 9.0)",)}))
    'torch-2.1.2+cu121-py3.11-linux-x86_64-nvidia-h100.json'
    """
    if not isinstance(environment, Environment):
        raise TypeError(f"record_name() takes an Environment, got {environment!r}")
    python = ".".join(environment.python.split(".")[:2])
    parts = ["torch", environment.torch, f"py{python}", *environment.platform.split()]
    if environment.cuda_devices:
        parts.append(re.sub(r"\s*\(sm [^)]*\)", "", environment.cuda_devices[0]))
    name = "-".join(parts).lower()
    return re.sub(r"[^a-z0-9.+_]+", "-", name).strip("-") + ".json"


def write_record(record: Record, folder: Path) -> Path:
    """Write ``record`` into ``folder`` (made if missing) under :func:`record_name`."""
    if not isinstance(record, Record):
        raise TypeError(f"write_record() takes a Record, got {record!r}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"record folder {str(folder)!r} is a file")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / record_name(record.environment)
    text = json.dumps(record.to_json(), ensure_ascii=False, indent=1) + "\n"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path


class BadRecord(ValueError):
    """A file in the evidence folder is not a record this package can read."""


def read_record(path: Path) -> Record:
    """Read one record; :class:`BadRecord` naming the file and the problem otherwise."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRecord(f"{path.name}: not a readable JSON record ({exc})") from None
    try:
        if data.get("format") != FORMAT:
            raise BadRecord(f"{path.name}: format {data.get('format')!r}, expected {FORMAT}")
        env = dict(data["environment"])
        env["cuda_devices"] = tuple(env["cuda_devices"])
        environment = Environment(**{key: env[key] for key in Environment.__dataclass_fields__})
        claims: dict[str, ClaimResult] = {}
        for claim_id, entry in data["claims"].items():
            if entry["status"] not in RECORDED:
                raise BadRecord(f"{path.name}: claim {claim_id!r} has status {entry['status']!r}")
            claims[claim_id] = ClaimResult(
                status=entry["status"],
                device=str(entry["device"]),
                fingerprint=str(entry["fingerprint"]),
                observations=tuple((str(a), str(b)) for a, b in entry.get("observations", [])),
                failure=entry.get("failure"),
            )
    except BadRecord:
        raise
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        raise BadRecord(f"{path.name}: not a gradmodes record ({problem})") from None
    return Record(environment, claims, path)


def load_records(folder: Path) -> list[Record]:
    """Every ``*.json`` record in ``folder``, oldest torch first (none if it is missing)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"record folder {str(folder)!r} is a file")
    records = [read_record(path) for path in sorted(folder.glob("*.json"))]
    return sorted(records, key=_order)


def _order(record: Record) -> tuple[Any, ...]:
    from packaging.version import Version

    env = record.environment
    return (Version(env.torch), env.platform, env.python, env.cuda_devices, env.date)


def status_of(record: Record, registered: Claim, current: str | None = None) -> Shown:
    """What ``record`` says of the claim as it stands: ``not-applicable`` where the claim's
    torch range excludes the record's torch (the claim says nothing there, whatever the
    check found: see :func:`outcome` and :func:`contradictions`), ``stale`` where the claim
    changed since, otherwise what its check found.

    ``current`` is the claim's :func:`fingerprint` (computed if not given).
    """
    if not isinstance(record, Record) or not isinstance(registered, Claim):
        raise TypeError(f"status_of() takes a Record and a Claim, got {record!r}, {registered!r}")
    found = outcome(record, registered, current)
    if found != "not-recorded" and not registered.applies(record.environment.torch):
        return "not-applicable"
    return found


def outcome(record: Record, registered: Claim, current: str | None = None) -> Shown:
    """What the claim's check, as it stands, found in ``record``, inside its range or not:
    ``stale`` where the claim changed since (``current``: as in :func:`status_of`)."""
    if not isinstance(record, Record) or not isinstance(registered, Claim):
        raise TypeError(f"outcome() takes a Record and a Claim, got {record!r}, {registered!r}")
    entry = record.claims.get(registered.id)
    if entry is None:
        return "not-recorded"
    if entry.fingerprint != (current or fingerprint(registered)):
        return "stale"
    return entry.status


def contradictions(records: Iterable[Record], claims: Iterable[Claim] | None = None) -> list[str]:
    """Where a current (not stale) record contradicts a claim's torch range: the claim was
    false inside its range, or verified where the claim says it does not apply.
    """
    chosen = all_claims() if claims is None else list(claims)
    given = list(records)
    if not all(isinstance(record, Record) for record in given):
        raise TypeError(f"contradictions() takes Records (load_records()), got {given!r}")
    stamps = {c.id: fingerprint(c) for c in chosen}
    found: list[str] = []
    for record in given:
        version = record.environment.torch
        where = record.path.name if record.path else f"torch {version}"
        for registered in chosen:
            status = outcome(record, registered, stamps[registered.id])
            inside = registered.applies(version)
            rng = registered.torch_versions or "every release"
            if status == "false" and inside:
                failure = record.claims[registered.id].failure
                found.append(f"{where}: {registered.id} is false inside {rng}: {failure}")
            elif status == "verified" and not inside:
                found.append(f"{where}: {registered.id} is verified outside {rng}")
            elif status == "not-applicable" and inside:
                found.append(f"{where}: {registered.id} is not-applicable inside {rng}")
    return found
