"""Measure how long the site takes to build, clean and after typical edits.

    python docs/bench.py              # one run of every step
    python docs/bench.py --repeat 3   # three runs: each time's median, min and max

Every step runs the project's own build script (``docs/build.py``) in a temporary copy
of ``docs/``, so the working tree and its ``_build`` are left alone:

1. a clean build of every language (nothing cached), one language after the other;
2. a rebuild of every language after a prose-only edit of ``index.md``;
3. a rebuild of every language after an edit of one code cell of ``index.md``.

It prints the wall time and the CPU time (of the build and every process it started) of
each language's build, the notebooks each one executed and the claims it checked or
reused (counted from its log), and the machine with its load average. Times are
reported, not judged; the counts are: a translation that executes a notebook, a
prose edit that executes one, or a code edit that executes anything but its own
notebook makes the script exit with status 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))
from build import LANGUAGES  # noqa: E402  (the build script's own list)

EDITED = "index.md"
PROSE_EDIT = "\nThis sentence was added by docs/bench.py, to time a prose-only rebuild.\n"
CODE_EDIT = "# docs/bench.py: a code edit, to time a rebuild that executes one notebook\n"


@dataclass(frozen=True)
class Step:
    """One language's build in one step of the benchmark."""

    step: str
    lang: str
    seconds: float
    cpu_seconds: float
    """CPU time (user + system) of the build and every process it started."""
    executed: tuple[str, ...]
    """The pages whose notebook this build executed."""
    checked: int
    reused: int


def executed_notebooks(log: str) -> tuple[str, ...]:
    """The pages whose notebook a build log says were executed, in order.

    >>> executed_notebooks("/x/docs/a.md: Executing notebook using local CWD [mystnb]\\n"
    ...                    "/x/docs/b.md: Using cached notebook: ID=2 [mystnb]")
    ('a.md',)
    """
    return tuple(Path(m).name for m in re.findall(r"^(\S+): Executing notebook", log, re.M))


def claim_counts(log: str) -> tuple[int, int]:
    """(checked, reused) from the build log's ``claims: ...`` line; (0, 0) without one.

    >>> claim_counts("claims: 2 checked, 54 reused from the evidence store")
    (2, 54)
    """
    found = re.search(r"claims: (\d+) checked, (\d+) reused", log)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(docs: Path, step: str, lang: str, jobs: str) -> Step:
    """Run ``docs/build.py --lang LANG --jobs JOBS`` in the copy; SystemExit if it fails."""
    start, cpu = time.perf_counter(), children_cpu()
    result = subprocess.run(
        [sys.executable, str(docs / "build.py"), "--lang", lang, "--jobs", jobs],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds, cpu = time.perf_counter() - start, children_cpu() - cpu
    log = result.stdout + result.stderr
    if result.returncode:
        raise SystemExit(f"{step}: building {lang!r} failed:\n{log[-4000:]}")
    return Step(step, lang, seconds, cpu, executed_notebooks(log), *claim_counts(log))


def edit_prose(page: Path) -> None:
    """Append a paragraph: the code cells, and so the notebook's cache key, stay the same."""
    page.write_text(page.read_text(encoding="utf-8") + PROSE_EDIT, encoding="utf-8")


def edit_code(page: Path) -> None:
    """Add a comment as the last line of the page's first code cell."""
    text = page.read_text(encoding="utf-8")
    start = text.index("```{code-cell}")
    end = text.index("\n```", start + 1) + 1
    page.write_text(text[:end] + CODE_EDIT + text[end:], encoding="utf-8")


def run_once(workdir: Path, jobs: str = "auto") -> list[Step]:
    """Every step, in a fresh copy of docs/ under ``workdir``."""
    docs = workdir / "docs"
    shutil.rmtree(docs, ignore_errors=True)
    shutil.copytree(DOCS, docs, ignore=shutil.ignore_patterns("_build", "__pycache__", "*.mo"))
    steps = [build(docs, "clean build", lang, jobs) for lang in LANGUAGES]
    edit_prose(docs / EDITED)
    steps += [build(docs, "prose-only edit", lang, jobs) for lang in LANGUAGES]
    edit_code(docs / EDITED)
    steps += [build(docs, "code-cell edit", lang, jobs) for lang in LANGUAGES]
    return steps


def problems(steps: list[Step]) -> list[str]:
    """What the counts say is wrong (times are never judged)."""
    source = next(iter(LANGUAGES))
    found = []
    for s in steps:
        if s.lang != source and s.executed:
            found.append(f"{s.step}, {s.lang}: a translation executed {s.executed}")
        if s.step == "prose-only edit" and s.executed:
            found.append(f"{s.step}, {s.lang}: a prose edit executed {s.executed}")
        if s.step == "code-cell edit" and s.lang == source and s.executed != (EDITED,):
            found.append(f"{s.step}, {s.lang}: executed {s.executed}, expected ({EDITED!r},)")
    return found


def machine() -> str:
    """The machine, as the performance page names it, and its load average now."""
    from gradmodes.measure import machine_facts

    facts = machine_facts()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "-"
    return (
        f"{facts['cpu']}, {facts['logical_cpus']} logical CPUs, {facts['platform']}, "
        f"torch {facts['torch']} ({facts['torch_threads']} threads), "
        f"Python {platform.python_version()}; load average (1, 5, 15 min): {load}"
    )


def report(runs: list[list[Step]]) -> str:
    """A table: each step and language, its time (median, min, max over runs) and counts."""
    lines = [
        f"{'step':16} {'lang':4} {'seconds':>8} {'min':>6} {'max':>6} {'cpu_s':>6}  "
        "claims checked/reused  notebooks executed"
    ]
    for i, first in enumerate(runs[0]):
        times = [run[i].seconds for run in runs]
        cpu = statistics.median(run[i].cpu_seconds for run in runs)
        executed = f"{len(first.executed)} {', '.join(first.executed)}".rstrip()
        claims = f"{first.checked}/{first.reused}"
        lines.append(
            f"{first.step:16} {first.lang:4} {statistics.median(times):8.1f} "
            f"{min(times):6.1f} {max(times):6.1f} {cpu:6.1f}  {claims:21}  {executed}"
        )
    source, *translations = LANGUAGES

    def median(step: str, lang: str) -> float:
        return statistics.median(
            s.seconds for run in runs for s in run if (s.step, s.lang) == (step, lang)
        )

    clean = {lang: median("clean build", lang) for lang in LANGUAGES}
    lines.append("")
    lines.append(f"clean build, all languages: {sum(clean.values()):.1f} s (median per language)")
    for lang in translations:
        share = clean[lang] / clean[source]
        lines.append(f"clean build, {lang} / {source}: {share:.0%}")
    for lang in LANGUAGES:
        lines.append(f"prose-only rebuild, {lang}: {median('prose-only edit', lang):.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of every step (default 1)")
    parser.add_argument("-j", "--jobs", default="auto", help="passed to docs/build.py --jobs")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}", flush=True)
    print(f"docs/build.py --jobs {args.jobs}", flush=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="gradmodes-bench-") as workdir:
        for i in range(args.repeat):
            print(f"run {i + 1} of {args.repeat} ...", flush=True)
            runs.append(run_once(Path(workdir), args.jobs))
    print(report(runs))
    print(f"machine after: {machine()}")
    found = [p for run in runs for p in problems(run)]
    for problem in found:
        print("PROBLEM:", problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
