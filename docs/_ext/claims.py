"""Cite a registered claim from prose and check it while the site is built.

``{claim}`eval.flag``` in a sentence or table cell runs the claim's check (once per
build process) and renders a small mark linking to its evidence on the verification
page. An unknown or false claim is an error naming the page and the claim, so a build
with ``-W`` fails. The ``{claim-entries}`` directive renders every claim in scope as an
entry (anchor ``claim-<id>``), grouped by topic (the id's prefix), with its status, torch
range, the pages citing it, its recorded environments (``evidence.py``) and its evidence,
after a table of contents of topics and statuses (plain links: no JavaScript needed);
``{build-environment}`` names the torch, Python and device the claims were checked with,
and every page's footer names the torch and the range of recorded releases.

``claims_scope`` (id prefixes, default ``[""]``: every registered claim) is the set of
claims the site states: the table lists them, and one that no page cites is a warning
once all pages are read, so it fails a ``-W`` build too.

Evidence is kept on disk (``evidence_cache.py``) and reused by a later build only while
the gradmodes source, these extensions, torch, Python, the platform and the CUDA devices
are unchanged: the Japanese build reuses the English build's checks. Set
``gradmodes_evidence_cache = False`` (``-D gradmodes_evidence_cache=0``) to check every
claim afresh.
"""

from __future__ import annotations

import functools
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

import build_inputs
from evidence_cache import (
    EvidenceCache,
    package_sources,
    runtime_facts,
    setup_key,
    torch_facts,
)
from gradmodes.claims import (
    Claim,
    ClaimFailed,
    CUDAUnavailable,
    Evidence,
    NoExpectation,
    UnknownClaim,
    all_claims,
    get_claim,
)
from gradmodes.records import fingerprint
from observation_text import Translator, translator
from ui_text import N_, _

logger = logging.getLogger(__name__)

VERIFICATION_PAGE = "verification"
# The interface text of this extension: English msgids, translated in each language's
# interface catalogue (ui_text.py); labels() gives them in the language being built.
LABELS = {
    "verified": N_("verified"),
    "verified-title": N_("Checked by running code while this page was built: {id}"),
    "not-run": N_("not checked in this build (no GPU)"),
    "not-applicable": N_("not applicable to this torch"),
    "failed": N_("FALSE"),
    "id": N_("Claim"),
    "statement": N_("Statement"),
    "status": N_("Status"),
    "evidence": N_("Evidence (observed)"),
    "cited-by": N_("Cited by"),
    "cited-by-separator": N_(", "),  # between the titles of the pages citing a claim
    "uncited": N_("(not cited)"),
    "evidence-key": N_(
        "The evidence above is stored under the key {key}, a hash of the gradmodes source, "
        "the site's extensions, torch (its version and installed files), what Python runs "
        "at startup (sitecustomize, .pth files, PYTHONPATH), Python, the platform and the "
        "CUDA devices; a later "
        "build reuses it only while that key is unchanged, and checks every claim again "
        "otherwise."
    ),
    "checked-with": N_("Claims checked with torch {version}"),
    "recorded-range": N_("recorded on torch {range}"),
    "topics": N_("Topics"),
    "statuses": N_("By status in this build"),
    "torch-range": N_("torch releases"),
    "range-all": N_("every release the package supports (torch 2.1 and later)"),
    "this-build": N_("This build"),
    "checked-on": N_("Recorded environments"),
    "outside-range": N_("Outside its range"),
    # After the mark of a claim stated for some torch releases only (the range, PEP 440).
    "mark-range": N_("(torch {range})"),
    "outside-fails": N_("its check fails there:"),
    # After the label of what a false check observed: {expected} and {observed} are values.
    "failure": N_(": expected {expected}, observed {observed}"),
    "topic-eval": N_("model.eval() and train()"),
    "topic-rg": N_("requires_grad: freezing parameters"),
    "topic-ng": N_("no_grad, set_grad_enabled and enable_grad"),
    "topic-im": N_("inference_mode"),
    "topic-perf": N_("Memory and speed"),
    "topic-x": N_("Switches combined"),
    "topic-rel": N_("What changed between torch releases"),
    "topic-audit": N_("Auditing training code"),
    "topic-co": N_("torch.compile"),
    "topic-ckpt": N_("Activation checkpointing"),
    "topic-ddp": N_("DistributedDataParallel"),
    "topic-attn": N_("Attention and transformers"),
    "topic-census": N_("Every layer that eval() changes"),
    "topic-ex": N_("Export and tracing"),
    "topic-fn": N_("torch.func"),
    "topic-hook": N_("Hooks and torch.autograd.grad"),
    "topic-ver": N_(".data, detach() and version counters"),
    "topic-bwd": N_("backward() under the grad-free modes"),
    "topic-lora": N_("Fine-tuning with LoRA"),
    "topic-amp": N_("Autocast"),
    "rec-verified": N_("verified"),
    "rec-false": N_("false"),
    "rec-not-applicable": N_("not applicable (outside the claim's torch range)"),
    "rec-stale": N_("stale (the claim changed after this record)"),
    "rec-not-run": N_("not run (needs a GPU)"),
    "rec-not-recorded": N_("not recorded (the record predates the claim)"),
    "rec-none": N_("No records yet."),
    "rec-torch-git": N_("torch git revision"),
    "rec-build": N_("build"),
    "rec-os": N_("operating system"),
    "rec-devices": N_("CUDA devices"),
    "rec-no-devices": N_("none"),
    "rec-date": N_("recorded"),
    "rec-file": N_("record file"),
}


class claim_mark(nodes.Inline, nodes.Element):
    """Placeholder for a cited claim; becomes a link once pages are known."""


class cited_by(nodes.General, nodes.Element):
    """Placeholder for the pages citing one claim, filled after all pages are read."""


class value_literal(nodes.literal):
    """Inline code written as one piece: a value the checks observed or expected.

    Sphinx writes the text of an inline literal as one ``<span class="pre">`` per word. The
    verification page shows thousands of observed values: one piece each halves the page's
    elements, which the browser lays out and the accessibility check walks.
    """


def visit_value_literal(translator: Any, node: value_literal) -> None:
    translator.body.append(
        translator.starttag(node, "code", "", CLASS="docutils literal notranslate")
    )
    translator.body.append(translator.encode(node.astext()) + "</code>")
    raise nodes.SkipNode


def labels(env: BuildEnvironment) -> Mapping[str, str]:
    """``LABELS`` in the language being built (translated once per process and language:
    the verification page asks for them thousands of times)."""
    return _labels(env.config.language)


@functools.cache
def _labels(language: str) -> Mapping[str, str]:
    return MappingProxyType({key: _(text) for key, text in LABELS.items()})


_cache: EvidenceCache | None = None  # set when the builder starts, if enabled
_origin: dict[str, str] = {}  # claim id -> "checked" or "reused", in this process


@functools.cache
def evaluate(claim_id: str, require_cuda: bool) -> Evidence | str:
    """The claim's evidence, or the reason it failed (memoised for this process).

    Evidence stored under this setup's key is reused; a passing check is stored.
    """
    stored = _cache.load(claim_id) if _cache else None
    if stored is not None:
        _origin[claim_id] = "reused"
        observations = tuple((str(what), str(seen)) for what, seen in stored["observations"])
        return Evidence(claim_id, stored["status"], stored["device"], observations)
    _origin[claim_id] = "checked"
    try:
        registered = get_claim(claim_id)
        evidence = registered.check(require=require_cuda)
    except (ClaimFailed, UnknownClaim, CUDAUnavailable, NoExpectation) as exc:
        return str(exc)
    if _cache:
        _cache.store(
            claim_id,
            {
                "status": evidence.status,
                "device": evidence.device,
                "observations": [list(pair) for pair in evidence.observations],
                "fingerprint": fingerprint(registered),
            },
        )
    return evidence


@functools.cache
def claim_fingerprint(claim: Claim) -> str:
    """``gradmodes.records.fingerprint(claim)``, as stored with the claim's evidence where it
    is: the store's key covers every source a fingerprint hashes. Computing all 211 took
    about 2 s in every build process that shows the records. Once per process and claim."""
    stored = _cache.load(claim.id) if _cache else None
    value = stored.get("fingerprint") if stored else None
    return value if isinstance(value, str) else fingerprint(claim)


def evidence_key(require_cuda: bool) -> str:
    """The key of this setup's stored evidence (see ``evidence_cache.py``).

    It covers the gradmodes package, the modules that register claims, these extensions
    and ``conf.py``, torch (its version, its files and what the interpreter runs at startup:
    ``evidence_cache.torch_facts``), Python, the platform and the CUDA devices.
    """
    cuda = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if torch.cuda.is_available()
        else []
    )
    sources = {f"gradmodes/{name}": path for name, path in package_sources().items()}
    here = Path(__file__).parent
    sources |= {f"_ext/{p.name}": p for p in here.glob("*.py")}
    sources |= {"conf.py": here.parent / "conf.py"} if (here.parent / "conf.py").exists() else {}
    for registered in all_claims():  # claims may be registered outside gradmodes too
        file = getattr(sys.modules.get(registered.run.__module__), "__file__", None)
        if file:
            sources[f"module/{registered.run.__module__}"] = Path(file)
    facts = {
        **runtime_facts(),
        **torch_facts(),
        "torch version": torch.__version__,
        "cuda devices": ", ".join(cuda),
        "require cuda": str(require_cuda),
    }
    return setup_key(sources, facts)


def init_cache(app: Sphinx) -> None:
    """Open this setup's evidence store (and drop the stores of older setups)."""
    global _cache
    if not app.config.gradmodes_evidence_cache:
        _cache = None
        return
    key = evidence_key(app.config.gradmodes_require_cuda)
    _cache = EvidenceCache(Path(app.confdir) / "_build" / ".claims-cache", key)
    _cache.forget_other_keys()


def in_scope(config: Any) -> list[Claim]:
    """The registered claims whose id starts with one of ``claims_scope``'s prefixes."""
    prefixes = tuple(config.claims_scope)
    return [c for c in all_claims() if c.id.startswith(prefixes)]


def _outcome(env: BuildEnvironment, claim_id: str, lineno: int) -> Evidence | None:
    """Check ``claim_id`` for the current page, logging an error naming page and claim."""
    build_inputs.shows(env, "claims")  # read again when what the check depends on changed
    result = evaluate(claim_id, env.config.gradmodes_require_cuda)
    env.gradmodes_origin[claim_id] = _origin.get(claim_id, "checked")  # type: ignore[attr-defined]
    if isinstance(result, str):
        logger.error(
            "page %r cites claim %r: %s",
            env.docname,
            claim_id,
            result,
            location=(env.docname, lineno),
            type="claims",
            subtype="failed",
        )
        return None
    return result


class ClaimRole(SphinxRole):
    """``{claim}`id``` - check the claim and render its mark."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        claim_id = self.text.strip()
        evidence = _outcome(self.env, claim_id, self.lineno)
        status = evidence.status if evidence else "failed"
        cites = self.env.gradmodes_citations  # type: ignore[attr-defined]
        cites.setdefault(claim_id, set()).add(self.env.docname)
        return [claim_mark(claim_id=claim_id, status=status)], []


def fixed(node: nodes.Element) -> nodes.Element:
    """Mark a node whose text comes from ``LABELS``, in the page's language already, as not
    for the catalogues."""
    node["translatable"] = False
    return node


def topic_of(claim_id: str) -> str:
    """A claim's topic: its id's prefix (``eval`` for ``eval.flag``)."""
    return claim_id.partition(".")[0]


def topic_title(env: BuildEnvironment, topic: str) -> str:
    """The topic's name in the page's language (the prefix itself for a topic without one)."""
    return labels(env).get(f"topic-{topic}", topic)


STATUS_ORDER = ("verified", "not-run", "not-applicable", "failed")


class ClaimEntries(SphinxDirective):
    """Every claim in scope as an entry (anchor ``claim-<id>``), grouped by topic: statement,
    status, torch range, citing pages, recorded environments and evidence. A table of
    contents of topics and of statuses (plain links) comes first."""

    def run(self) -> list[nodes.Node]:
        import evidence  # docs/_ext/evidence.py (it imports this module)

        outcomes = {}
        by_topic: dict[str, list[Claim]] = {}
        for claim in in_scope(self.config):
            outcomes[claim.id] = _outcome(self.env, claim.id, self.lineno)
            by_topic.setdefault(topic_of(claim.id), []).append(claim)
        build_inputs.shows(self.env, "records")  # the entries show the records too
        status = {k: (e.status if e else "failed") for k, e in outcomes.items()}
        out: list[nodes.Node] = [self._contents(by_topic, status)]
        for topic, claims in by_topic.items():
            section = nodes.section(ids=[f"topic-{topic}"], classes=["claim-topic"])
            section += fixed(nodes.title("", topic_title(self.env, topic)))
            for claim in claims:
                section += self._entry(claim, outcomes[claim.id], status[claim.id], evidence)
            out.append(section)
        return out

    def _contents(self, by_topic: dict[str, list[Claim]], status: dict[str, str]) -> nodes.Node:
        """Links to each topic and, for each status, to the claims that have it."""
        text = labels(self.env)
        box = nodes.container(classes=["claim-contents"])
        topics = fixed(nodes.paragraph("", "", nodes.strong("", text["topics"] + ": ")))
        for i, (topic, claims) in enumerate(by_topic.items()):
            if i:
                topics += nodes.Text(" · ")
            name = f"{topic_title(self.env, topic)} ({len(claims)})"
            topics += nodes.reference("", name, refuri=f"#topic-{topic}")
        box += topics
        box += fixed(nodes.paragraph("", "", nodes.strong("", text["statuses"] + ":")))
        statuses = nodes.bullet_list(classes=["claim-statuses"])
        for state in STATUS_ORDER:
            ids = [claim_id for claim_id, seen in status.items() if seen == state]
            if not ids:
                continue
            item = nodes.paragraph()
            item += claim_mark(claim_id="", status=state, here=True)
            item += nodes.Text(f" ({len(ids)}): ")
            for i, claim_id in enumerate(ids):
                if i:
                    item += nodes.Text(", ")
                item += nodes.reference(
                    "", "", nodes.literal(claim_id, claim_id), refuri=f"#claim-{claim_id}"
                )
            statuses += nodes.list_item("", item)
        box += statuses
        return box

    def _entry(
        self, claim: Claim, found: Evidence | None, status: str, evidence: Any
    ) -> nodes.Node:
        text = labels(self.env)
        entry = nodes.container(ids=[f"claim-{claim.id}"], classes=["claim-entry"])
        head = nodes.paragraph(classes=["claim-entry-head"])
        head += nodes.literal(claim.id, claim.id)
        head += nodes.Text(" ")
        head += claim_mark(claim_id=claim.id, status=status, here=True)
        entry += head
        entry += self._statement(claim.statement)
        facts = nodes.field_list(classes=["claim-facts"])
        version = torch.__version__
        torch_range = (
            nodes.paragraph("", "", nodes.literal(claim.torch_versions, claim.torch_versions))
            if claim.torch_versions
            else fixed(nodes.paragraph("", text["range-all"]))
        )
        build = fixed(nodes.paragraph("", "", claim_mark(claim_id="", status=status, here=True)))
        build += nodes.Text(f" torch {version}")
        rows = [
            (text["this-build"], build),
            (text["torch-range"], torch_range),
            (text["cited-by"], cited_by(claim_id=claim.id)),
            (text["checked-on"], evidence.record_row(self.env, claim)),
            (text["outside-range"], evidence.outside_range(self.env, claim)),
            (text["evidence"], self._observed(claim, found)),
        ]
        rows = [(name, body) for name, body in rows if body is not None]
        for name, body in rows:
            field = nodes.field()
            field += fixed(nodes.field_name("", name))
            field += nodes.field_body("", body)
            facts += field
        entry += facts
        return entry

    def _observed(self, claim: Claim, found: Evidence | None) -> nodes.Node:
        """What the check observed, its labels in the page's language."""
        text = observed_text(self.env)
        for what, _value in found.observations if found else ():
            if not text.knows(what):
                logger.warning(
                    f"claim {claim.id!r}: the label {what!r} of what its check observed is in "
                    "no catalogue: write it in the check as a string or an f-string "
                    "(docs/_ext/observation_text.py)",
                    location=self.get_location(),
                )
        return _evidence(found, text)

    def _statement(self, statement: str) -> nodes.paragraph:
        """A translatable paragraph: its msgid is the statement's MyST source."""
        inline, messages = self.state.inline_text(statement, self.lineno)
        para = nodes.paragraph(statement, "", *inline, *messages, classes=["claim-statement"])
        para.source, para.line = self.get_source_info()
        return para


class BuildEnvironmentTable(SphinxDirective):
    """The torch, Python, platform and device this build checked the claims with."""

    def run(self) -> list[nodes.Node]:
        build_inputs.shows(self.env, "records")  # the machine's facts and the evidence key
        rows = environment_facts().items()
        items = nodes.bullet_list()
        for key, value in rows:
            items += nodes.list_item(
                "",
                nodes.paragraph(
                    "", "", nodes.strong(key, key), nodes.Text(": "), nodes.literal(value, value)
                ),
            )
        if _cache is None:
            return [items]
        before, _, after = labels(self.env)["evidence-key"].partition("{key}")
        key = _cache.key[:16]
        note = nodes.paragraph(
            "", "", nodes.Text(before), nodes.literal(key, key), nodes.Text(after)
        )
        note["translatable"] = False  # labels() gives it in the page's language already
        return [items, note]


def environment_facts() -> dict[str, str]:
    """Language-neutral facts about the machine that ran the checks."""
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu (no CUDA)"
    return {
        "torch": torch.__version__,
        "Python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "device": device,
        "torch threads": str(torch.get_num_threads()),
    }


def observed_text(env: BuildEnvironment) -> Translator:
    """What the checks observed, in the language being built (``observation_text.py``)."""
    config = env.config
    return translator(Path(env.srcdir), config.locale_dirs, config.language)


def _evidence(evidence: Evidence | None, text: Translator) -> nodes.Node:
    if evidence is None:
        return nodes.paragraph("", "-")
    items = nodes.bullet_list(classes=["claim-evidence"])
    for what, value in evidence.observations:
        shown = f"{text.label(what)} → {text.value(value)}"
        items += nodes.list_item("", fixed(nodes.paragraph("", "", value_literal(shown, shown))))
    return items


def resolve(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Turn claim marks into links and fill the citing pages, now that all pages are read."""
    env = app.env
    text = labels(env)
    builder = app.builder
    for mark in list(doctree.findall(claim_mark)):
        claim_id, status = mark["claim_id"], mark["status"]
        label = {
            "verified": "✓ " + text["verified"],
            "not-run": text["not-run"],
            "not-applicable": text["not-applicable"],
            "failed": "✗ " + text["failed"],
        }[status]
        try:
            uri = builder.get_relative_uri(docname, VERIFICATION_PAGE)
        except Exception:  # builders without pages (gettext, linkcheck) keep the text only
            uri = ""
        try:
            ranged = get_claim(claim_id).torch_versions
        except UnknownClaim:  # reported where it is cited
            ranged = ""
        shown = [nodes.inline(label, label)]
        if ranged:  # where the claim holds, next to it: the releases it is stated for
            since = text["mark-range"].format(range=ranged)  # spaced by the style sheet
            shown.append(nodes.inline(since, since, classes=["claim-range"]))
        link = nodes.reference(
            "",
            "",
            *shown,
            refuri=f"{uri}#claim-{claim_id}",
            reftitle=text["verified-title"].format(id=claim_id),
            classes=["claim-mark", f"claim-{status}"],
        )
        mark.replace_self(
            link
            if not mark.get("here")
            else nodes.inline(label, label, classes=["claim-mark", f"claim-{status}"])
        )
    cites = env.gradmodes_citations  # type: ignore[attr-defined]
    for node in list(doctree.findall(cited_by)):
        pages = sorted(cites.get(node["claim_id"], set()) - {VERIFICATION_PAGE})
        para = nodes.paragraph()
        for i, page in enumerate(pages):
            if i:
                para += nodes.Text(text["cited-by-separator"])
            title = env.titles[page].astext() if page in env.titles else page
            para += nodes.reference("", title, refuri=builder.get_relative_uri(docname, page))
        if not pages:
            para += nodes.Text(text["uncited"])
        node.replace_self(para)


def warn_uncited(app: Sphinx, env: BuildEnvironment) -> None:
    """Once every page is read: warn about each claim in scope that no page cites."""
    cites = env.gradmodes_citations  # type: ignore[attr-defined]
    for claim in in_scope(app.config):
        if not cites.get(claim.id, set()) - {VERIFICATION_PAGE}:
            logger.warning(
                "claim %r (%s) is registered but no page cites it",
                claim.id,
                claim.run.__module__,
                type="claims",
                subtype="uncited",
            )


def footer_context(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """``checked_with``: the footer's sentence naming the torch the claims ran on."""
    import evidence  # docs/_ext/evidence.py (it imports this module)

    text = labels(app.env)
    context["checked_with"] = text["checked-with"].format(version=torch.__version__)
    context["checked_with_href"] = app.builder.get_relative_uri(pagename, VERIFICATION_PAGE)
    recorded = evidence.recorded_range(app.env)
    context["recorded"] = recorded and text["recorded-range"].format(range=recorded)
    if recorded and evidence.EVIDENCE_PAGE in app.env.found_docs:
        context["recorded_href"] = app.builder.get_relative_uri(pagename, evidence.EVIDENCE_PAGE)


def init_env(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    if not hasattr(env, "gradmodes_citations"):
        env.gradmodes_citations = {}  # type: ignore[attr-defined]
    env.gradmodes_origin = {}  # type: ignore[attr-defined]  # this build's claims only


def purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    for pages in getattr(env, "gradmodes_citations", {}).values():
        pages.discard(docname)


def merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: Any) -> None:
    for claim_id, pages in other.gradmodes_citations.items():
        env.gradmodes_citations.setdefault(claim_id, set()).update(pages)  # type: ignore[attr-defined]
    # A claim that one reader checked and another then took from the store was checked by
    # this build: the log's count of checked claims says what the build ran.
    origin = env.gradmodes_origin  # type: ignore[attr-defined]
    for claim_id, how in other.gradmodes_origin.items():
        if origin.get(claim_id) != "checked":
            origin[claim_id] = how


def report_origin(app: Sphinx, env: BuildEnvironment) -> None:
    """Log how many claims this build checked, and how many it took from the evidence store."""
    origin = list(getattr(env, "gradmodes_origin", {}).values())
    logger.info(
        "claims: %d checked, %d reused from the evidence store",
        origin.count("checked"),
        origin.count("reused"),
    )


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("gradmodes_require_cuda", False, "env", bool)
    app.add_config_value("gradmodes_evidence_cache", True, "env", bool)
    app.add_config_value("claims_scope", [""], "env", list)
    app.add_node(claim_mark)
    app.add_node(cited_by)
    app.add_node(value_literal, html=(visit_value_literal, None))
    app.add_role("claim", ClaimRole())
    app.add_directive("claim-entries", ClaimEntries)
    app.add_directive("build-environment", BuildEnvironmentTable)
    app.connect("builder-inited", init_cache)
    app.connect("env-before-read-docs", init_env)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-check-consistency", report_origin)
    app.connect("doctree-resolved", resolve)
    app.connect("env-check-consistency", warn_uncited)
    app.connect("html-page-context", footer_context)
    return {
        "version": "1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
        "env_version": 1,
    }


__all__ = ["setup"]
