"""Command line: check the site's claims against your torch, print the behaviour matrix, or
audit a model of yours for the site's pitfalls.

>>> main(["check", "eval.flag", "ng.outputs"])  # doctest: +ELLIPSIS
torch ..., Python ...
eval.flag   verified  cpu
ng.outputs  verified  cpu
2 claims: 2 verified
0
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import traceback
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from gradmodes import records
from gradmodes._rng import seeded
from gradmodes.audit import Finding, audit
from gradmodes.claims import Claim, ClaimFailed, UnknownClaim, all_claims, get_claim
from gradmodes.matrix import behaviour_matrix, format_matrix
from gradmodes.models import SimpleModel

__all__ = ["main"]

DEVICES = ("cpu", "cuda")

EPILOG = """\
examples:
  python -m gradmodes check                     check every claim on CPU
  python -m gradmodes check --device cuda       run them on your GPU
  python -m gradmodes check rg.memory im.faster check two claims
  python -m gradmodes check --record DIR        and write this environment's record
                                                into DIR (one JSON file)
  python -m gradmodes check --json              print the record (JSON) instead
  python -m gradmodes list                      ids and statements
  python -m gradmodes matrix                    train/eval x grad mode x frozen
  python -m gradmodes audit train:build         audit what train.build() returns

exit status: 0 all checked claims hold (audit: no finding), 1 a claim is
false or its check crashed (audit: findings), 2 usage error (unknown command,
claim id or device; audit: a factory that cannot be imported, raises or
returns something else than a model)."""

AUDIT_EPILOG = """\
FACTORY is module:function, e.g. train:build for build() in train.py (the
current directory is searched first). It is called without arguments and
returns the model, or (model, optimizer), or (model, optimizer, inputs); the
optimizer may be a list of optimizers. With inputs, the model also runs two
forwards in eval mode on them.

exit status: 0 no finding, 1 findings, 2 usage error."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.command == "list":
        for registered in all_claims():
            print(f"{registered.id}: {registered.statement}")
        return 0
    if args.command == "audit":
        return _audit(args.factory, args.json)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            f"error: --device cuda: torch {torch.__version__} sees no CUDA device; "
            "valid devices here: cpu",
            file=sys.stderr,
        )
        return 2
    if args.command == "matrix":
        return _matrix(args.device)
    if args.record is not None or args.json:
        if args.device != "cpu":
            print(
                "error: a record runs each claim where it runs by default (no --device)",
                file=sys.stderr,
            )
            return 2
        return _record(args.ids, args.record, args.json)
    return _check(args.ids, args.device)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gradmodes",
        description="Check the facts of the gradmodes site (model.eval(), requires_grad, "
        "no_grad, inference_mode) against the torch installed here.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="run claim checks and report each one",
        description="Run the checks of the given claims (default: all) and print one line "
        "per claim: id, status (verified, not-run, not-applicable, FAILED, ERROR) and device.",
    )
    check.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all)")
    check.add_argument(
        "--record",
        metavar="DIR",
        type=Path,
        help="write a record of this environment (torch, Python, platform, CPU, CUDA devices, "
        "date, and each claim's status, observations and fingerprint) into DIR: see the "
        "site's page 'Where the claims were checked'",
    )
    check.add_argument(
        "--json",
        action="store_true",
        help="print that record as JSON on stdout (instead of the table)",
    )
    _device_option(check, "run device-independent checks on DEVICE (default: cpu)")
    commands.add_parser("list", help="list the claim ids and statements")
    matrix = commands.add_parser(
        "matrix",
        help="print the behaviour matrix of SimpleModel",
        description="Measure SimpleModel in train/eval mode x grad/no_grad/inference_mode x "
        "trainable/frozen parameters, and print the table.",
    )
    _device_option(matrix, "run the model on DEVICE (default: cpu)")
    audit_ = commands.add_parser(
        "audit",
        help="find the site's pitfalls in a model of yours",
        description="Build a model (and optimizer) with FACTORY and report every pitfall of "
        "the site found in them, each with the page that explains it and the claim behind it.",
        epilog=AUDIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit_.add_argument("factory", metavar="FACTORY", help="module:function, e.g. train:build")
    audit_.add_argument("--json", action="store_true", help="print the findings as JSON")
    return parser


def _device_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--device", choices=DEVICES, default="cpu", help=help_text)


def _check(ids: Sequence[str], device: str) -> int:
    try:
        claims = [get_claim(claim_id) for claim_id in ids] if ids else all_claims()
    except UnknownClaim as unknown:
        print(f"error: {unknown} (see: python -m gradmodes list)", file=sys.stderr)
        return 2
    print(f"torch {torch.__version__}, Python {platform.python_version()}")
    width = max(len(registered.id) for registered in claims)
    counts: dict[str, int] = {}
    problems: list[str] = []
    for registered in claims:
        status, where, problem = _run(registered, device)
        counts[status] = counts.get(status, 0) + 1
        print(f"{registered.id:<{width}}  {status:<8}  {where}")
        if problem:
            problems.append(problem)
    order = ("verified", "not-run", "not-applicable", "FAILED", "ERROR")
    summary = ", ".join(f"{counts[status]} {status}" for status in order if status in counts)
    print(f"{len(claims)} claim{'s' if len(claims) != 1 else ''}: {summary}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _record(ids: Sequence[str], folder: Path | None, as_json: bool) -> int:
    """Check the claims, print them (or the JSON record), write the record into ``folder``."""
    try:
        claims = [get_claim(claim_id) for claim_id in ids] if ids else all_claims()
    except UnknownClaim as unknown:
        print(f"error: {unknown} (see: python -m gradmodes list)", file=sys.stderr)
        return 2
    if folder is not None and folder.exists() and not folder.is_dir():
        print(f"error: --record {folder}: not a folder", file=sys.stderr)
        return 2
    record = records.make_record(claims)
    by_id = {c.id: c for c in claims}
    # A record runs every check, outside its claim's torch range too; there the claim is
    # not applicable, and its check's outcome only judges the range.
    shown = {
        claim_id: (
            "not-applicable"
            if not by_id[claim_id].applies()
            else "FAILED"
            if result.status == "false"
            else result.status
        )
        for claim_id, result in record.claims.items()
    }
    failures = [
        f"FAILED {claim_id}: {record.claims[claim_id].failure}"
        for claim_id, status in shown.items()
        if status == "FAILED"
    ]
    failures += [
        f"OUTSIDE {claim_id}: holds outside its torch range {by_id[claim_id].torch_versions}"
        for claim_id, result in record.claims.items()
        if shown[claim_id] == "not-applicable" and result.status == "verified"
    ]
    if as_json:
        print(json.dumps(record.to_json(), ensure_ascii=False, indent=1))
    else:
        env = record.environment
        print(f"torch {env.torch}, Python {env.python}")
        width = max(len(claim_id) for claim_id in record.claims)
        for claim_id, result in record.claims.items():
            print(f"{claim_id:<{width}}  {shown[claim_id]:<8}  {result.device}")
        counts = Counter(shown.values())
        order = ("verified", "not-run", "not-applicable", "FAILED")
        summary = ", ".join(f"{counts[status]} {status}" for status in order if counts[status])
        print(f"{len(claims)} claim{'s' if len(claims) != 1 else ''}: {summary}")
    if folder is not None:
        path = records.write_record(record, folder)
        print(f"record: {path}", file=sys.stderr if as_json else sys.stdout)
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


def _run(registered: Claim, device: str) -> tuple[str, str, str | None]:
    """Check one claim: (status, device, message for a failure or crash)."""
    # A CUDA-only claim picks CUDA itself (and is not-run without it).
    target = "cuda" if device == "cuda" else None
    try:
        evidence = registered.check(target)
    except ClaimFailed as failed:
        return "FAILED", device, f"FAILED {registered.id}: {failed}"
    except Exception as exc:  # a crashing check is reported, not hidden
        return "ERROR", device, f"ERROR {registered.id}: {type(exc).__name__}: {exc}"
    return evidence.status, evidence.device, None


def _matrix(device: str) -> int:
    with seeded(0):  # the same inputs as behaviour_matrix()'s default
        inputs = torch.randn(16, 10).to(device)
    print(format_matrix(behaviour_matrix(lambda: SimpleModel().to(device), inputs)))
    return 0


class UsageError(Exception):
    """The audit cannot run: a bad FACTORY, or one that fails; exit status 2."""


def _audit(spec: str, as_json: bool) -> int:
    try:
        model, optimizer, inputs = _built(spec)
        findings = audit(model, optimizer, inputs)  # type: ignore[arg-type]
    except (UsageError, TypeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if as_json:
        report = {
            "factory": spec,
            "model": type(model).__name__,
            "optimizer": _optimizer_name(optimizer) if optimizer is not None else None,
            "inputs": inputs is not None,
            "findings": [finding.as_dict() for finding in findings],
        }
        print(json.dumps(report, indent=2))
    else:
        print(_report(spec, model, optimizer, inputs, findings))
    return 1 if findings else 0


def _built(spec: str) -> tuple[nn.Module, object, object]:
    """Import and call ``module:function``; return (model, optimizer, inputs)."""
    module_name, colon, function_name = spec.partition(":")
    names = [module_name, *function_name.split(".")]
    if not colon or not all(name.isidentifier() for part in names for name in part.split(".")):
        raise UsageError(
            f"FACTORY must be module:function (e.g. train:build for build() in train.py), "
            f"got {spec!r}"
        )
    if os.getcwd() not in sys.path:  # as `python -m` does, also for the `gradmodes` script
        sys.path.insert(0, os.getcwd())
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(f"cannot import {module_name!r} for {spec}: {error}") from None
    for name in function_name.split("."):
        if not hasattr(target, name):
            raise UsageError(f"{spec}: {module_name!r} has no attribute {function_name!r}")
        target = getattr(target, name)
    if not callable(target):
        raise UsageError(
            f"{spec} is not a function to call (it is {type(target).__name__}: {target!r:.40})"
        )
    try:
        built = target()
    except Exception as error:
        traceback.print_exc()
        raise UsageError(f"{spec}() raised {type(error).__name__}: {error}") from None
    parts = built if isinstance(built, tuple) else (built,)
    if not 1 <= len(parts) <= 3 or not isinstance(parts[0], nn.Module):
        raise UsageError(
            f"{spec}() must return a model, (model, optimizer) or (model, optimizer, inputs), "
            f"got {_describe(built)}"
        )
    model, optimizer, inputs = (*parts, None, None)[:3]
    return model, optimizer, inputs


def _optimizer_name(optimizer: object) -> str:
    """``SGD``, or ``[SGD, AdamW]`` for a list of optimizers."""
    if isinstance(optimizer, (list, tuple)):
        return "[" + ", ".join(type(item).__name__ for item in optimizer) + "]"
    return type(optimizer).__name__


def _describe(value: object) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(type(item).__name__ for item in value) + ")"
    return type(value).__name__


def _report(
    spec: str, model: nn.Module, optimizer: object, inputs: object, findings: list[Finding]
) -> str:
    optimizer_name = _optimizer_name(optimizer) if optimizer is not None else "no optimizer"
    lines = [f"audit {spec}: {type(model).__name__}, {optimizer_name}"]
    if inputs is None:
        lines.append("no inputs: the two eval-mode forwards did not run")
    for finding in findings:
        lines += [
            "",
            f"{finding.code}: {finding.message}",
            *([f"  objects: {', '.join(finding.objects)}"] if len(finding.objects) > 4 else []),
            f"  see {finding.link} (claim {finding.claim})",
        ]
    count = len(findings)
    lines += ["", f"{count} finding{'s' if count != 1 else ''}" if count else "no finding"]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
