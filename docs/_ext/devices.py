"""The devices a build can use: the ``cuda`` tag, and one execution cache per kind of build.

Where torch sees a CUDA device, the tag ``cuda`` is set, so a page can show GPU
results in an ``{only} cuda`` block and say plainly in an ``{only} not cuda`` block
that they were not run. Notebooks executed with CUDA are cached apart from those
executed without: jupyter-cache keys on the code alone, and must not hand a CPU-only
execution (no GPU figures) to a build with CUDA, or the other way round.

With ``gradmodes_require_cuda = True`` (``docs/build.py --gpu``), a build without
CUDA stops at once, before reading any page.

A sentence must never state as fact a claim that this build did not check. So a page
cites a CUDA-only claim only inside an ``{only} cuda`` block (shown only by a build
that checked it), and cites no other claim that this build did not verify (such as one
outside its ``torch_versions``): anything else is a warning naming the page and the
claim, which fails a ``-W`` build, with or without a GPU.
"""

from __future__ import annotations

import functools
import importlib.metadata
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.errors import ConfigError
from sphinx.util import logging
from sphinx.util.tags import Tags

from claims import claim_mark
from gradmodes.claims import UnknownClaim, get_claim

logger = logging.getLogger(__name__)
CUDA_TAG = "cuda"


def cpu_only_torch(version: str | None) -> bool:
    """Whether a torch version string names a CPU-only build (``2.13.0+cpu``).

    >>> cpu_only_torch("2.13.0+cpu"), cpu_only_torch("2.13.0"), cpu_only_torch(None)
    (True, False, False)
    """
    return version is not None and version.partition("+")[2].startswith("cpu")


def torch_version() -> str | None:
    """The installed torch's version, read from its metadata (torch is not imported)."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def cuda_devices() -> tuple[str, ...]:
    """Names of the CUDA devices torch sees; empty without CUDA.

    A CPU-only build of torch sees none, which is known without importing torch
    (about 2 s); otherwise torch is asked.
    """
    if cpu_only_torch(torch_version()):
        return ()
    import torch

    if not torch.cuda.is_available():
        return ()
    return tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))


def on_config(app: Sphinx, config: Config) -> None:
    devices = cuda_devices()
    if config.gradmodes_require_cuda and not devices:
        raise ConfigError(
            "gradmodes_require_cuda is set (a GPU build), but torch sees no CUDA device "
            f"(torch {torch_version()}): build without --gpu, or on a machine with a GPU"
        )
    if devices:
        app.tags.add("cuda")
        if config.nb_execution_cache_path:  # empty: myst-nb's default, inside the output
            config.nb_execution_cache_path = f"{config.nb_execution_cache_path}-cuda"


def needs_cuda_block(node: nodes.Node, tags: Tags) -> bool:
    """Whether ``node`` sits in an ``{only}`` block that a build without CUDA leaves out.

    ``tags`` are the build's tags; the block's expression is evaluated without ``cuda``.

    >>> only = addnodes.only(expr="cuda")
    >>> only += nodes.paragraph()
    >>> needs_cuda_block(only[0], Tags(["cuda", "html"])), needs_cuda_block(only, Tags())
    (True, True)
    >>> only["expr"] = "html or cuda"
    >>> needs_cuda_block(only[0], Tags(["html"]))
    False
    """
    without_cuda = Tags([tag for tag in tags if tag != CUDA_TAG])
    current: nodes.Node | None = node
    while current is not None:
        if isinstance(current, addnodes.only) and not without_cuda.eval_condition(current["expr"]):
            return True
        current = current.parent
    return False


def recorded_as_verified(env: BuildEnvironment, claim_id: str) -> bool:
    """Whether a record that is not stale shows the claim verified (the evidence page's)."""
    from evidence import records, shown  # docs/_ext/evidence.py

    claim = get_claim(claim_id)
    return any(shown(record, claim) == "verified" for record in records(env))


def check_unverified_citations(app: Sphinx, doctree: nodes.document) -> None:
    """Warn where a page states a claim that a build may show without having checked it.

    Runs on each page as read, in every builder and language: a CUDA-only claim cited
    outside an ``{only} cuda`` block, or a claim that is neither verified, nor (CUDA-only,
    not run) inside such a block, nor outside this torch's range and verified by a current
    record of another release (``evidence.py``), is a warning naming the page and the claim.
    False and unknown claims are reported by the claim role itself.
    """
    for mark in doctree.findall(claim_mark):
        if mark.get("here"):  # the verification table lists every claim with its status
            continue
        claim_id, status = mark["claim_id"], mark["status"]
        try:
            cuda_only = get_claim(claim_id).needs_cuda
        except UnknownClaim:
            continue
        guarded = needs_cuda_block(mark, app.tags)
        if cuda_only and not guarded:
            problem = "is CUDA-only: cite it only inside an `{only} cuda` block"
        elif status in ("verified", "failed") or (status == "not-run" and guarded):
            continue
        elif status == "not-applicable" and recorded_as_verified(app.env, claim_id):
            continue  # outside this torch's range; a record of a release inside it proves it
        else:
            problem = f"is not checked in this build ({status}): a sentence must not state it"
        logger.warning(
            "page %r cites claim %r, which %s",
            app.env.docname,
            claim_id,
            problem,
            location=mark,
            type="claims",
            subtype="unchecked",
        )


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("claims")  # defines gradmodes_require_cuda
    app.connect("config-inited", on_config, priority=400)
    app.connect("doctree-read", check_unverified_citations)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
