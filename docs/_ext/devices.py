"""The devices a build can use: the ``cuda`` tag, and one execution cache per kind of build.

Where torch sees a CUDA device, the tag ``cuda`` is set, so a page can show GPU
results in an ``{only} cuda`` block and say plainly in an ``{only} not cuda`` block
that they were not run. Notebooks executed with CUDA are cached apart from those
executed without: jupyter-cache keys on the code alone, and must not hand a CPU-only
execution (no GPU figures) to a build with CUDA, or the other way round.

With ``gradmodes_require_cuda = True`` (``docs/build.py --gpu``), a build without
CUDA stops at once, before reading any page.
"""

from __future__ import annotations

import functools
import importlib.metadata
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError


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


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("claims")  # defines gradmodes_require_cuda
    app.connect("config-inited", on_config, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
