"""Command line: check the site's claims against your torch, or print the behaviour matrix.

>>> main(["check", "eval.flag", "ng.outputs"])  # doctest: +ELLIPSIS
torch ..., Python ...
eval.flag   verified  cpu
ng.outputs  verified  cpu
2 claims: 2 verified
0
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch

from gradmodes import records
from gradmodes._rng import seeded
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

exit status: 0 all checked claims hold, 1 a claim is false or its check
crashed, 2 usage error (unknown command, claim id or device)."""


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
    failures = [
        f"FAILED {claim_id}: {result.failure}"
        for claim_id, result in record.claims.items()
        if result.status == "false"
    ]
    if as_json:
        print(json.dumps(record.to_json(), ensure_ascii=False, indent=1))
    else:
        env = record.environment
        print(f"torch {env.torch}, Python {env.python}")
        width = max(len(claim_id) for claim_id in record.claims)
        for claim_id, result in record.claims.items():
            shown = "FAILED" if result.status == "false" else result.status
            print(f"{claim_id:<{width}}  {shown:<8}  {result.device}")
        counts = Counter(result.status for result in record.claims.values())
        order = ("verified", "not-run", "not-applicable", "false")
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


if __name__ == "__main__":
    raise SystemExit(main())
