"""A GPU build (``docs/build.py --gpu``) requires CUDA and says so before building anything."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from _site import DOCS, run_build

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only case")


def test_gpu_build_fails_clearly_without_cuda() -> None:
    result = run_build("--gpu")
    assert result.returncode != 0
    assert "--gpu needs a CUDA device" in result.stderr
    assert torch.__version__ in result.stderr
    assert "sphinx" not in result.stdout  # it stopped before running sphinx-build


def test_requiring_cuda_stops_sphinx_at_the_configuration(tmp_path: object) -> None:
    """Without the build script: ``gradmodes_require_cuda`` alone stops a build at once."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-q",
            "-D",
            "gradmodes_require_cuda=1",
            str(DOCS),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "gradmodes_require_cuda is set" in result.stderr
    assert "torch sees no CUDA device" in result.stderr
