"""Claims of the performance page: what each setting saves for backward, exactly.

Only byte counts are claimed: they are the same on every machine. Timings and
process memory depend on the machine and are reported on the page, never claimed.
"""

from __future__ import annotations

import torch

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim
from gradmodes.freeze import BATCHNORM_TYPES
from gradmodes.measure import (
    SETTINGS,
    WORKLOADS,
    forward,
    head_input_bytes,
    new_memory_bytes,
    saved_bytes,
)
from gradmodes.probes import count_saved

__all__: list[str] = []

MLPS = ("small_mlp", "large_mlp")


def _batchnorm_channels(workload: str) -> int:
    """Channels of all BatchNorm layers of ``workload``'s model."""
    model = WORKLOADS[workload].build()
    return sum(m.num_features for m in model.modules() if isinstance(m, BATCHNORM_TYPES))


@claim(
    "perf.eval-same-bytes",
    "A forward in eval mode saves exactly as many bytes for backward as in train mode for "
    "the two MLP workloads, and for the conv net only 8 bytes per BatchNorm channel fewer "
    "(the batch mean and inverse standard deviation that train mode computes): `eval()` "
    "alone does not shrink what autograd keeps.",
)
@deterministic
def _perf_eval_same_bytes(obs: Observer) -> None:
    for name, workload in WORKLOADS.items():
        train = saved_bytes(workload, SETTINGS["train"], obs.device)
        evaluated = saved_bytes(workload, SETTINGS["eval"], obs.device)
        obs.record(f"saved_bytes({name!r}, 'train')", train)
        expected = train - 8 * _batchnorm_channels(name)
        obs.expect(f"saved_bytes({name!r}, 'eval')", evaluated, expected)
    obs.expect(
        "sum(m.num_features for m in small_cnn.modules() if isinstance(m, BATCHNORM_TYPES))",
        _batchnorm_channels("small_cnn"),
        48,
    )


@claim(
    "perf.nothing-saved",
    "Under `torch.no_grad()` or `torch.inference_mode()`, or with every parameter frozen and "
    "an input that does not require grad, a forward of each of the three workloads saves 0 "
    "bytes for backward and its output has no `grad_fn`.",
)
@deterministic
def _perf_nothing_saved(obs: Observer) -> None:
    for name, workload in WORKLOADS.items():
        for setting in ("no_grad", "inference_mode", "frozen"):
            run = forward(workload, SETTINGS[setting], obs.device)
            with count_saved() as saved:
                output = run()
            obs.expect(f"saved_bytes({name!r}, {setting!r})", saved.bytes, 0)
            obs.expect(
                f"output.grad_fn is None ({name!r}, {setting!r})", output.grad_fn is None, True
            )


@claim(
    "perf.head-only",
    "With every parameter frozen except the head (the last `Linear`), a forward saves exactly "
    "the head's input for backward, batch size × `head.in_features` × 4 bytes (2048, 1024 and "
    "1048576 bytes for the three workloads), and nothing for the frozen layers.",
)
@deterministic
def _perf_head_only(obs: Observer) -> None:
    for name, workload in WORKLOADS.items():
        expected = head_input_bytes(workload)
        obs.record(f"head_input_bytes({name!r})", expected)
        saved = saved_bytes(workload, SETTINGS["frozen_but_head"], obs.device)
        obs.expect(f"saved_bytes({name!r}, 'frozen_but_head')", saved, expected)
    sizes = [head_input_bytes(w) for w in WORKLOADS.values()]
    obs.expect("[head_input_bytes(w) for w in WORKLOADS.values()]", sizes, [2048, 1024, 1048576])


@claim(
    "perf.new-memory",
    "Of the 19824640 bytes that the large MLP saves for backward in train mode, only 3145728 "
    "are new memory, its three ReLU outputs: the rest is its input, weights saved as "
    "transposed views, and the same ReLU outputs counted again by the next `Linear`.",
)
@deterministic
def _perf_new_memory(obs: Observer) -> None:
    workload = WORKLOADS["large_mlp"]
    obs.expect(
        "saved_bytes('large_mlp', 'train')",
        saved_bytes(workload, SETTINGS["train"], obs.device),
        19824640,
    )
    obs.expect(
        "new_memory_bytes('large_mlp', 'train')",
        new_memory_bytes(workload, SETTINGS["train"], obs.device),
        3 * 256 * 1024 * 4,
    )


@claim(
    "perf.autocast",
    "`torch.autocast` is independent of the grad modes: under autocast to `bfloat16`, "
    "`torch.is_grad_enabled()` is unchanged, a default-mode forward of the MLP workloads still "
    "records a graph and saves exactly half the bytes of the `float32` forward, and under "
    "`torch.no_grad()` or `torch.inference_mode()` it saves 0 bytes.",
)
@deterministic
def _perf_autocast(obs: Observer) -> None:
    device_type = obs.device.type
    with torch.autocast(device_type, dtype=torch.bfloat16):
        obs.expect(
            "with torch.autocast(...): torch.is_grad_enabled()", torch.is_grad_enabled(), True
        )
    for name in MLPS:
        full = saved_bytes(WORKLOADS[name], SETTINGS["train"], obs.device)
        for setting in ("train", "no_grad", "inference_mode"):
            run = forward(WORKLOADS[name], SETTINGS[setting], obs.device)
            with count_saved() as saved, torch.autocast(device_type, dtype=torch.bfloat16):
                output = run()
            where = f"autocast: saved_bytes({name!r}, {setting!r})"
            obs.expect(where, saved.bytes, full // 2 if setting == "train" else 0)
            obs.expect(
                f"autocast: output.dtype ({name!r}, {setting!r})", output.dtype, torch.bfloat16
            )


@claim(
    "perf.cuda-saved",
    "On a CUDA device, each of the six settings saves exactly as many bytes for backward as on "
    "the CPU for the two MLP workloads, so this page's byte counts hold on the GPU too.",
    needs_cuda=True,
)
@deterministic
def _perf_cuda_saved(obs: Observer) -> None:
    for name in MLPS:
        for setting in SETTINGS.values():
            here = saved_bytes(WORKLOADS[name], setting, obs.device)
            cpu = saved_bytes(WORKLOADS[name], setting, "cpu")
            obs.expect(
                f"saved_bytes({name!r}, {setting.name!r}) on {obs.device.type} == on cpu", here, cpu
            )
