"""Recorded evidence: where the claims were checked, from the records in ``_data/evidence/``.

A record is the JSON file ``python -m gradmodes check --record DIR`` writes for one
environment (``gradmodes.records``): torch and its git revision, Python, platform, CPU, CUDA
devices, date, and each claim's status with the fingerprint of what was checked. This
extension reads every record once per build process and renders:

- ``{evidence-environments}``: each recorded environment described, with its anchor;
- ``{evidence-matrix}``: claims x environments, one table per topic, each cell the claim's
  status there (verified, false, not applicable, stale, not run, not recorded);
- :func:`record_row`: one claim's statuses, for its entry on the verification page;
- :func:`outside_range`: for a claim with a torch range, how its check fails on each
  recorded release outside the range (a record runs every check): what changed.

A record whose fingerprint differs from the claim's current one is *stale* and is shown as
such, never as verified. Records from any platform (macOS, Windows, GPUs) render alike.
``gradmodes_evidence_dir`` (default ``_data/evidence``, relative to ``conf.py``) is the
folder; a page using these directives is read again when a record in it is added, changed or
removed (``build_inputs.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util.docutils import SphinxDirective

import build_inputs
from claims import (
    VERIFICATION_PAGE,
    claim_fingerprint,
    fixed,
    in_scope,
    labels,
    observed_text,
    topic_of,
    topic_title,
    value_literal,
)
from gradmodes.claims import Claim
from gradmodes.records import Record, load_records, outcome, status_of
from observation_text import Translator, failure_parts

EVIDENCE_PAGE = "evidence"
# What each shown status looks like in a cell (its word, from LABELS, is the cell's title).
SYMBOLS = {
    "verified": "✓",
    "false": "✗",
    "not-applicable": "–",
    "stale": "↻",
    "not-run": "○",
    "not-recorded": "·",
}


@functools.cache
def _records(folder: str) -> tuple[Record, ...]:
    return tuple(load_records(Path(folder)))


def records(env: BuildEnvironment) -> tuple[Record, ...]:
    """The records of ``gradmodes_evidence_dir``, oldest torch first (once per process)."""
    return _records(str(evidence_dir(env.app)))


def evidence_dir(app: Sphinx) -> Path:
    return Path(app.confdir) / app.config.gradmodes_evidence_dir


def shown(record: Record, claim: Claim) -> str:
    """What ``record`` says of ``claim`` today (``stale`` if the claim changed since)."""
    return status_of(record, claim, claim_fingerprint(claim))


def anchor(record: Record) -> str:
    """The id of a record's description on the evidence page: ``env-`` and its file name."""
    stem = record.path.stem if record.path else record.environment.torch
    return "env-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in stem.lower())


def short_label(record: Record, every: tuple[Record, ...]) -> str:
    """A column header: the torch release, with what tells it apart from another record of
    the same release (platform, Python, GPU)."""
    env = record.environment
    version = env.torch.split("+")[0]
    same = [r for r in every if r.environment.torch.split("+")[0] == version]
    if len(same) == 1:
        return version
    extra = []
    if len({r.environment.platform for r in same}) > 1:
        extra.append(env.platform.split()[0].replace("Darwin", "macOS"))
    if len({r.environment.python for r in same}) > 1:
        extra.append("py" + ".".join(env.python.split(".")[:2]))
    if len({bool(r.environment.cuda_devices) for r in same}) > 1:
        extra.append("GPU" if env.cuda_devices else "CPU")
    if not extra:  # the same release, platform, Python and devices: tell them by date
        extra.append(env.date[:10])
    return f"{version} {' '.join(extra)}"


def _uri(env: BuildEnvironment, target: str) -> str:
    try:
        return env.app.builder.get_relative_uri(env.docname, target)
    except Exception:  # builders without pages (gettext) keep the text only
        return ""


def status_cell(env: BuildEnvironment, status: str, title_prefix: str = "") -> nodes.Node:
    """A status as its symbol, its word in the page's language as the title."""
    word = labels(env)[f"rec-{status}"]
    return nodes.abbreviation(
        SYMBOLS[status],
        SYMBOLS[status],
        explanation=f"{title_prefix}{word}",
        classes=["rec", f"rec-{status}"],
    )


def record_row(env: BuildEnvironment, claim: Claim) -> nodes.Node:
    """One claim's status in every record, each linking to the environment's description."""
    found = records(env)
    text = labels(env)
    if not found:
        return fixed(nodes.paragraph("", text["rec-none"]))
    page = _uri(env, EVIDENCE_PAGE)
    items = nodes.bullet_list(classes=["record-row"])
    for record in found:
        status = shown(record, claim)
        label = short_label(record, found)
        link = nodes.reference("", "", refuri=f"{page}#{anchor(record)}")
        link += nodes.Text(f"{label} ")
        link += status_cell(env, status, f"{label}: ")
        items += nodes.list_item("", fixed(nodes.paragraph("", "", link)))
    return items


def outside_range(env: BuildEnvironment, claim: Claim) -> nodes.Node | None:
    """For a claim with a torch range: each recorded release outside the range whose check,
    as it stands, fails there, with the failure (None if there is none)."""
    if not claim.torch_versions:
        return None
    found = records(env)
    page = _uri(env, EVIDENCE_PAGE)
    items = nodes.bullet_list(classes=["record-outside"])
    prefix = f"claim {claim.id!r} is false: "
    text, observed = labels(env), observed_text(env)
    for record in found:
        if claim.applies(record.environment.torch):
            continue
        if outcome(record, claim, claim_fingerprint(claim)) != "false":
            continue  # stale or not recorded; verified outside fails the tests
        failure = (record.claims[claim.id].failure or "").removeprefix(prefix)
        label = short_label(record, found)
        item = nodes.paragraph()
        item += nodes.reference("", label, refuri=f"{page}#{anchor(record)}")
        item += nodes.Text(f" {text['outside-fails']} ")
        item += _failure(failure, text, observed)
        items += nodes.list_item("", fixed(item))
    return items if len(items) else None


def _failure(failure: str, text: Mapping[str, str], observed: Translator) -> list[nodes.Node]:
    """A false claim's failure: what was observed (its label in the page's language), what
    was expected, what was seen; another error (a crash) as it is."""
    parts = failure_parts(failure)
    if parts is None:
        return [value_literal(failure, failure)]
    what, expected, seen = parts
    label = observed.label(what)
    before, _, rest = text["failure"].partition("{expected}")
    between, _, after = rest.partition("{observed}")
    shown: list[nodes.Node] = [value_literal(label, label), nodes.Text(before)]
    shown += [value_literal(expected, expected), nodes.Text(between)]
    shown += [value_literal(seen, seen), nodes.Text(after)]
    return shown


def recorded_range(env: BuildEnvironment) -> str | None:
    """``"2.1.2 – 2.14.1"``: the oldest and newest torch recorded (None without records)."""
    found = records(env)
    if not found:
        return None
    first, last = found[0].environment.torch, found[-1].environment.torch
    return first if first == last else f"{first} – {last}"


class EvidenceEnvironments(SphinxDirective):
    """Each recorded environment: torch and its git revision, Python, platform, CPU, devices,
    date, its file, and how many claims it verifies as they stand today."""

    def run(self) -> list[nodes.Node]:
        build_inputs.shows(self.env, "records")
        text = labels(self.env)
        found = records(self.env)
        if not found:
            return [fixed(nodes.paragraph("", text["rec-none"]))]
        claims = in_scope(self.config)
        out: list[nodes.Node] = []
        for record in found:
            env = record.environment
            box = nodes.container(ids=[anchor(record)], classes=["record-environment"])
            head = fixed(nodes.paragraph(classes=["record-head"]))
            head += nodes.strong("", f"torch {env.torch}")
            head += nodes.Text(f" · Python {env.python} · {env.platform}")
            box += head
            devices = ", ".join(env.cuda_devices) or text["rec-no-devices"]
            build = f"CUDA {env.torch_cuda}" if env.torch_cuda else "CPU"
            facts = [
                (text["rec-torch-git"], env.torch_git),
                (text["rec-build"], build),
                ("Python", f"{env.python} ({env.implementation})"),
                (text["rec-os"], env.os),
                ("CPU", env.cpu),
                (text["rec-devices"], devices),
                (text["rec-date"], env.date),
                (text["rec-file"], record.path.name if record.path else "-"),
            ]
            items = nodes.bullet_list(classes=["record-facts"])
            for key, value in facts:
                para = fixed(
                    nodes.paragraph("", "", nodes.Text(f"{key}: "), nodes.literal(value, value))
                )
                items += nodes.list_item("", para)
            counts: dict[str, int] = {}
            for claim in claims:
                status = shown(record, claim)
                counts[status] = counts.get(status, 0) + 1
            summary = fixed(nodes.paragraph(classes=["record-counts"]))
            for i, status in enumerate(s for s in SYMBOLS if counts.get(s)):
                if i:
                    summary += nodes.Text(", ")
                summary += status_cell(self.env, status)
                summary += nodes.Text(f" {text[f'rec-{status}']} {counts[status]}")
            items += nodes.list_item("", summary)
            box += items
            out.append(box)
        return out


class EvidenceMatrix(SphinxDirective):
    """Claims x recorded environments, one table per topic, with a legend."""

    def run(self) -> list[nodes.Node]:
        build_inputs.shows(self.env, "records")
        text = labels(self.env)
        found = records(self.env)
        if not found:
            return [fixed(nodes.paragraph("", text["rec-none"]))]
        legend = fixed(nodes.paragraph(classes=["record-legend"]))
        for i, status in enumerate(SYMBOLS):
            if i:
                legend += nodes.Text(" · ")
            legend += status_cell(self.env, status)
            legend += nodes.Text(f" {text[f'rec-{status}']}")
        out: list[nodes.Node] = [legend]
        verification = _uri(self.env, VERIFICATION_PAGE)
        by_topic: dict[str, list[Claim]] = {}
        for claim in in_scope(self.config):
            by_topic.setdefault(topic_of(claim.id), []).append(claim)
        for topic, claims in by_topic.items():
            out.append(fixed(nodes.rubric("", topic_title(self.env, topic))))
            out.append(self._table(found, claims, verification))
        return out

    def _table(
        self, found: tuple[Record, ...], claims: list[Claim], verification: str
    ) -> nodes.table:
        text = labels(self.env)
        table = nodes.table(classes=["evidence-matrix"])
        group = nodes.tgroup(cols=len(found) + 1)
        table += group
        group += nodes.colspec(colwidth=20, stub=1)
        for _ in found:
            group += nodes.colspec(colwidth=3)
        head = nodes.thead()
        row = nodes.row()
        row += nodes.entry("", fixed(nodes.paragraph("", text["id"])), classes=["claim-col"])
        page = _uri(self.env, EVIDENCE_PAGE) if self.env.docname != EVIDENCE_PAGE else ""
        for record in found:
            label = short_label(record, found)
            link = nodes.reference("", label, refuri=f"{page}#{anchor(record)}")
            row += nodes.entry("", nodes.paragraph("", "", link), classes=["env-col"])
        head += row
        group += head
        body = nodes.tbody()
        for claim in claims:
            row = nodes.row()
            link = nodes.reference(
                "", "", nodes.literal(claim.id, claim.id), refuri=f"{verification}#claim-{claim.id}"
            )
            row += nodes.entry("", nodes.paragraph("", "", link), classes=["claim-col"])
            for record in found:
                label = short_label(record, found)
                cell = status_cell(self.env, shown(record, claim), f"{label}: ")
                row += nodes.entry("", nodes.paragraph("", "", cell), classes=["rec-cell"])
            body += row
        group += body
        return table


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("gradmodes_evidence_dir", "_data/evidence", "env", str)
    app.add_directive("evidence-environments", EvidenceEnvironments)
    app.add_directive("evidence-matrix", EvidenceMatrix)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


__all__ = ["setup"]
