"""Measure what each way of running a forward costs: saved bytes, peak memory, latency.

Three workloads (:data:`WORKLOADS`) run under six settings (:data:`SETTINGS`), each
changing one thing from the default (train mode, gradients on, every parameter
trainable). What a forward saves for backward is counted exactly, in two figures:
the bytes the saved tensors *reference* (:func:`saved_bytes`) and the bytes of the
distinct storages they keep alive besides the model's parameters, buffers and input
(:func:`storage_bytes`). Peak memory growth and latency depend on the machine and
are reported, never asserted.

>>> result = measure(WORKLOADS["small_mlp"], SETTINGS["no_grad"], min_run_time=0.01)
>>> result.saved_bytes, result.storage_bytes, result.latency.median > 0
(0, 0, True)
>>> [setting.name for setting in SETTINGS.values()]
['train', 'eval', 'no_grad', 'inference_mode', 'frozen', 'frozen_but_head']
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform
import re
import statistics
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from gradmodes._rng import seeded
from gradmodes.freeze import freeze, unfreeze
from gradmodes.modes import GradMode, grad_context
from gradmodes.probes import SavedTensors, count_saved

__all__ = [
    "SETTINGS",
    "WORKLOADS",
    "Latency",
    "Result",
    "Setting",
    "Workload",
    "cuda_latency",
    "cuda_peak_growth",
    "format_results",
    "forward",
    "head_input_bytes",
    "latency",
    "machine_facts",
    "measure",
    "measure_all",
    "peak_rss_growth",
    "saved_bytes",
    "saved_tensors",
    "storage_bytes",
]


@dataclass(frozen=True)
class Workload:
    """A model, built fresh on demand, and the shape of its input batch.

    ``build()`` returns ``nn.Sequential(body=..., head=nn.Linear(...))``: the head is the
    module that stays trainable in the ``frozen_but_head`` setting.
    """

    name: str
    build: Callable[[], nn.Sequential]
    input_shape: tuple[int, ...]

    def make(
        self, device: torch.device | str = "cpu", seed: int = 0
    ) -> tuple[nn.Module, torch.Tensor]:
        """A new model and input batch on ``device``, the same for the same ``seed``.

        >>> model, x = WORKLOADS["small_cnn"].make()
        >>> tuple(model(x).shape)
        (8, 10)
        """
        with seeded(seed, device):
            model = self.build().to(device)
            x = torch.randn(self.input_shape, device=device)
        return model, x


def _with_head(body: list[nn.Module], head: nn.Linear) -> nn.Sequential:
    return nn.Sequential(OrderedDict(body=nn.Sequential(*body), head=head))


def _small_mlp() -> nn.Sequential:
    """Eight ``Linear(32, 32)`` + ``ReLU`` pairs: 17 small operations per forward."""
    body = [layer for _ in range(8) for layer in (nn.Linear(32, 32), nn.ReLU())]
    return _with_head(body, nn.Linear(32, 10))


def _small_cnn() -> nn.Sequential:
    """Two convolution blocks with BatchNorm, pooled to a 32-feature vector."""
    body = [
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    ]
    return _with_head(body, nn.Linear(32, 10))


def _large_mlp() -> nn.Sequential:
    """Three ``Linear(1024, 1024)`` + ``ReLU`` pairs: matrix products dominate."""
    body = [layer for _ in range(3) for layer in (nn.Linear(1024, 1024), nn.ReLU())]
    return _with_head(body, nn.Linear(1024, 1000))


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("small_mlp", _small_mlp, (16, 32)),
        Workload("small_cnn", _small_cnn, (8, 3, 32, 32)),
        Workload("large_mlp", _large_mlp, (256, 1024)),
    )
}
"""The workloads by name: many small operations, a small conv net, a matmul-bound MLP."""


@dataclass(frozen=True)
class Setting:
    """How the forward runs: module mode, grad mode, and which parameters are trainable."""

    name: str
    code: str
    """What a reader writes to get this setting."""
    training: bool
    grad_mode: GradMode
    trainable: Literal["all", "head", "none"]

    def apply(self, model: nn.Module) -> nn.Module:
        """Put ``model`` in this setting's mode and set its parameters' ``requires_grad``.

        >>> model = SETTINGS["frozen_but_head"].apply(WORKLOADS["small_mlp"].build())
        >>> [name for name, p in model.named_parameters() if p.requires_grad]
        ['head.weight', 'head.bias']
        """
        model.train(self.training)
        freeze(model)
        if self.trainable == "all":
            unfreeze(model)
        elif self.trainable == "head":
            unfreeze(model, "head")
        return model


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("train", "model.train()", True, "grad", "all"),
        Setting("eval", "model.eval()", False, "grad", "all"),
        Setting("no_grad", "torch.no_grad()", True, "no_grad", "all"),
        Setting("inference_mode", "torch.inference_mode()", True, "inference_mode", "all"),
        Setting("frozen", "freeze(model)", True, "grad", "none"),
        Setting("frozen_but_head", "freeze(model); unfreeze(model, 'head')", True, "grad", "head"),
    )
}
"""The six settings by name; ``train`` is the default every ratio is taken against."""


def forward(
    workload: Workload, setting: Setting, device: torch.device | str = "cpu", seed: int = 0
) -> Callable[[], torch.Tensor]:
    """A function running one forward of ``workload`` in ``setting`` (model built once).

    The input never requires grad. Each call enters the setting's grad mode afresh, so
    in ``train`` mode the graph and what it saved are freed when the output is dropped.

    >>> run = forward(WORKLOADS["small_mlp"], SETTINGS["inference_mode"])
    >>> torch.is_inference(run())
    True
    """
    model, x = workload.make(device, seed)
    setting.apply(model)

    def run() -> torch.Tensor:
        with grad_context(setting.grad_mode):
            return model(x)

    return run


def saved_tensors(
    workload: Workload,
    setting: Setting,
    device: torch.device | str = "cpu",
    *,
    autocast: torch.dtype | None = None,
) -> SavedTensors:
    """What one forward of ``workload`` in ``setting`` saves for backward, both figures.

    ``bytes`` is what the saved tensors reference; ``storage_bytes`` the distinct
    storages they keep alive, each once, leaving out the model's parameters and
    buffers and the input, which exist whether or not a graph is kept (see
    ``probes.count_saved``). With ``autocast`` (a dtype such as ``torch.bfloat16``),
    the forward runs under ``torch.autocast`` to that dtype on ``device``'s type.

    >>> saved = saved_tensors(WORKLOADS["large_mlp"], SETTINGS["train"])
    >>> saved.bytes, saved.storage_bytes  # the ReLU outputs are the only new storage
    (19824640, 3145728)
    """
    if not isinstance(workload, Workload) or not isinstance(setting, Setting):
        raise TypeError(
            "saved_tensors() needs a Workload and a Setting (from WORKLOADS and SETTINGS), "
            f"got {type(workload).__name__} and {type(setting).__name__}"
        )
    if autocast is not None and not (
        isinstance(autocast, torch.dtype) and autocast.is_floating_point
    ):
        raise TypeError(f"autocast must be a floating-point torch.dtype or None, got {autocast!r}")
    model, x = workload.make(device)
    setting.apply(model)
    existing = [*model.parameters(), *model.buffers(), x]
    dev = torch.device(device)
    cast = (
        torch.autocast(dev.type, dtype=autocast)
        if autocast is not None
        else contextlib.nullcontext()
    )
    with count_saved(exclude=existing) as saved, grad_context(setting.grad_mode), cast:
        model(x)
    return saved


def saved_bytes(workload: Workload, setting: Setting, device: torch.device | str = "cpu") -> int:
    """Bytes referenced by the tensors one forward saves for backward.

    Every saved tensor counts its own size, without de-duplication: a tensor saved by
    two operations counts twice, a weight saved as a transposed view counts too.

    >>> saved_bytes(WORKLOADS["small_mlp"], SETTINGS["frozen_but_head"])  # the head's input
    2048
    """
    return saved_tensors(workload, setting, device).bytes


def storage_bytes(workload: Workload, setting: Setting, device: torch.device | str = "cpu") -> int:
    """Bytes of distinct storage the graph of one forward keeps alive for backward.

    Unlike :func:`saved_bytes`, a storage counts once however many saved tensors
    (views, or the same tensor saved by two operations) refer to it, and the storages
    of the model's parameters and buffers and of the input do not count: they exist
    anyway. This is the memory a training step holds on to until backward.

    >>> storage_bytes(WORKLOADS["large_mlp"], SETTINGS["train"])  # 3 ReLU outputs
    3145728
    """
    return saved_tensors(workload, setting, device).storage_bytes


def head_input_bytes(workload: Workload) -> int:
    """Size of the head's input, from the shapes: batch x ``head.in_features`` x float32.

    >>> head_input_bytes(WORKLOADS["small_mlp"])  # 16 x 32 x 4
    2048
    """
    head = workload.build().head
    return workload.input_shape[0] * head.in_features * torch.float32.itemsize


@dataclass(frozen=True)
class Latency:
    """Seconds per call: median and interquartile range over blocks of calls.

    ``times`` holds the mean time per call of each block; ``runs`` counts all calls.
    """

    median: float
    iqr: float
    runs: int
    times: tuple[float, ...] = ()

    @classmethod
    def of(cls, times: Sequence[float], runs: int) -> Latency:
        """The median and IQR of ``times`` (at least one).

        >>> Latency.of([1.0, 2.0, 3.0, 4.0, 5.0], runs=5).median
        3.0
        """
        if len(times) < 2:
            return cls(times[0], 0.0, runs, tuple(times))
        q1, median, q3 = statistics.quantiles(times, n=4, method="inclusive")
        return cls(median, q3 - q1, runs, tuple(times))

    def __add__(self, other: Latency) -> Latency:
        """Pool the blocks of two measurements of the same thing."""
        return Latency.of(self.times + other.times, self.runs + other.runs)


def latency(
    fn: Callable[[], object], *, min_run_time: float = 0.2, num_threads: int | None = None
) -> Latency:
    """Time ``fn()`` on the CPU with ``torch.utils.benchmark.Timer.blocked_autorange``.

    The timer warms up, picks a block size (calls per block) large enough for its own
    overhead to be negligible, and times blocks until ``min_run_time`` has passed.
    ``num_threads`` defaults to torch's current intra-op thread count.

    >>> timing = latency(lambda: torch.ones(8).sum(), min_run_time=0.01)
    >>> timing.median > 0 and timing.iqr >= 0 and timing.runs > 0
    True
    """
    import torch.utils.benchmark as benchmark  # here: importing it takes about 0.3 s

    timer = benchmark.Timer(
        stmt="fn()", globals={"fn": fn}, num_threads=num_threads or torch.get_num_threads()
    )
    m = timer.blocked_autorange(min_run_time=min_run_time)
    return Latency.of(m.times, m.number_per_run * len(m.times))


def cuda_latency(fn: Callable[[], object], *, runs: int = 50, warmup: int = 5) -> Latency:
    """Time ``fn()`` on the current CUDA device with CUDA events: median and IQR.

    Each run is bracketed by two events on the current stream; the elapsed times are
    read after one synchronisation, so they are the device time of the queued work.
    """
    for _ in range(warmup):
        fn()
    pairs = []
    for _ in range(runs):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        pairs.append((start, end))
    torch.cuda.synchronize()
    return Latency.of([start.elapsed_time(end) / 1000 for start, end in pairs], runs)


def cuda_peak_growth(fn: Callable[[], object]) -> int:
    """Bytes ``torch.cuda.max_memory_allocated()`` rose above the allocation before ``fn()``.

    Counts tensors only (what the caching allocator handed out), not its cached
    reserve nor the CUDA context. Run ``fn`` once before, so one-time buffers (such
    as the cuBLAS workspace) are not counted as the setting's cost.
    """
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (give freed heap pages back to the OS), or ``None``."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    if match is None:
        raise OSError(f"no {field} in /proc/self/status")
    return int(match.group(1))


def peak_rss_growth(fn: Callable[[], object], *, repeat: int = 5) -> int | None:
    """Median growth of this process's peak resident memory while ``fn()`` runs, in bytes.

    Linux with glibc only; ``None`` elsewhere. Before each run, freed heap memory is
    handed back to the OS (``malloc_trim(0)``) and the kernel's high-water mark is
    reset (``5`` written to ``/proc/self/clear_refs``); the growth is ``VmHWM`` after
    the run minus ``VmRSS`` before it. ``fn`` runs once first, unmeasured, so one-time
    costs (code pages loaded, buffers allocated once) do not count. Page-granular.

    >>> growth = peak_rss_growth(lambda: torch.ones(4_000_000).sum())  # 16 MB of ones
    >>> growth is None or isinstance(growth, int)
    True
    """
    trim = _malloc_trim()
    clear_refs = Path("/proc/self/clear_refs")
    if trim is None or not clear_refs.exists():
        return None
    fn()
    growths = []
    for _ in range(repeat):
        trim(0)
        try:
            clear_refs.write_text("5")
            before = _status_kib("VmRSS")
            fn()
            growths.append(max(0, _status_kib("VmHWM") - before) * 1024)
        except OSError:
            return None
    return int(statistics.median(growths))


@dataclass(frozen=True)
class Result:
    """One workload in one setting, on one device."""

    workload: str
    setting: str
    device: str
    saved_bytes: int
    """Exact: bytes referenced by the tensors autograd saved for backward in one forward."""
    storage_bytes: int
    """Exact: bytes of the distinct storages those tensors keep alive, besides the model's
    parameters and buffers and the input (see :func:`storage_bytes`)."""
    peak_growth: int | None
    """Bytes: process peak RSS growth on the CPU, ``max_memory_allocated`` growth on CUDA."""
    latency: Latency


def measure(
    workload: Workload,
    setting: Setting,
    *,
    device: torch.device | str = "cpu",
    min_run_time: float = 0.2,
) -> Result:
    """Saved bytes, peak memory growth and forward latency of ``workload`` in ``setting``.

    >>> r = measure(WORKLOADS["small_mlp"], SETTINGS["train"], min_run_time=0.01)
    >>> r.workload, r.setting, r.device, r.saved_bytes, r.storage_bytes
    ('small_mlp', 'train', 'cpu', 64768, 16384)
    """
    return measure_all([workload], [setting], device=device, min_run_time=min_run_time)[0]


def measure_all(
    workloads: Iterable[Workload] = WORKLOADS.values(),
    settings: Iterable[Setting] = SETTINGS.values(),
    *,
    device: torch.device | str = "cpu",
    min_run_time: float = 0.2,
    rounds: int = 1,
) -> list[Result]:
    """:func:`measure` every workload in every setting, timing them in interleaved rounds.

    Saved bytes (both figures, from :func:`saved_tensors`) and memory are measured once
    per pair. Latency is measured ``rounds``
    times, each round visiting every pair for ``min_run_time / rounds`` seconds, and
    the blocks of all rounds are pooled: a burst of load on a shared machine then
    falls on every setting alike rather than on one. On the CPU, memory is
    :func:`peak_rss_growth` and latency :func:`latency`; on CUDA,
    :func:`cuda_peak_growth` and :func:`cuda_latency`.

    >>> results = measure_all([WORKLOADS["small_mlp"]], min_run_time=0.02, rounds=2)
    >>> [r.saved_bytes for r in results]
    [64768, 64768, 0, 0, 0, 2048]
    >>> [r.storage_bytes for r in results]
    [16384, 16384, 0, 0, 0, 2048]
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds!r}")
    dev = torch.device(device)
    chosen = list(settings)
    pairs = [(w, s, forward(w, s, dev)) for w in workloads for s in chosen]
    memory = []
    for w, s, run in pairs:
        saved = saved_tensors(w, s, dev)
        if dev.type == "cuda":
            run()  # warm-up
            growth: int | None = cuda_peak_growth(run)
        else:
            growth = peak_rss_growth(run)
        memory.append((saved.bytes, saved.storage_bytes, growth))
    timings: list[Latency | None] = [None] * len(pairs)
    for _ in range(rounds):
        for i, (_, _, run) in enumerate(pairs):
            if dev.type == "cuda":
                timing = cuda_latency(run, runs=max(10, 50 // rounds))
            else:
                timing = latency(run, min_run_time=min_run_time / rounds)
            previous = timings[i]
            timings[i] = timing if previous is None else previous + timing
    return [
        Result(w.name, s.name, str(dev), saved, storage, growth, timing)
        for (w, s, _), (saved, storage, growth), timing in zip(pairs, memory, timings, strict=True)
        if timing is not None
    ]


def format_results(
    results: Sequence[Result],
    baseline: str = "train",
    style: Literal["text", "markdown"] = "text",
) -> str:
    """A table of ``results``; ``vs_<baseline>`` is the ratio of median latencies.

    Headers are field names and units, values are numbers, so the table reads the
    same in any language. ``-`` marks a figure that could not be measured.
    ``style="markdown"`` gives a pipe table with the numbers right-aligned and the headers
    as code spans (they are field names, not words to translate).

    >>> fast = Result("w", "train", "cpu", 100, 60, 2**20, Latency(2e-3, 1e-4, 10))
    >>> slow = Result("w", "eval", "cpu", 100, 60, None, Latency(3e-3, 2e-4, 10))
    >>> print(format_results([fast, slow]))
    workload  setting  saved_bytes  storage_bytes  peak_KiB  median_us  iqr_us  vs_train
    w         train    100          60             1024      2000.0     100.0   1.00
    w         eval     100          60             -         3000.0     200.0   1.50
    >>> table = format_results([fast], style="markdown").splitlines()
    >>> print(table[0][:42])
    | `workload` | `setting` | `saved_bytes` |
    >>> print(table[2])
    | w | train | 100 | 60 | 1024 | 2000.0 | 100.0 | 1.00 |
    """
    base = {r.workload: r.latency.median for r in results if r.setting == baseline}
    header = ("workload", "setting", "saved_bytes", "storage_bytes", "peak_KiB", "median_us")
    header += ("iqr_us",)
    header += (f"vs_{baseline}",)
    lines = [header]
    for r in results:
        ratio = r.latency.median / base[r.workload] if r.workload in base else None
        lines.append(
            (
                r.workload,
                r.setting,
                str(r.saved_bytes),
                str(r.storage_bytes),
                "-" if r.peak_growth is None else f"{r.peak_growth / 1024:.0f}",
                f"{r.latency.median * 1e6:.1f}",
                f"{r.latency.iqr * 1e6:.1f}",
                "-" if ratio is None else f"{ratio:.2f}",
            )
        )
    if style == "markdown":
        rule = ("---", "---", *["---:"] * (len(header) - 2))
        names = tuple(f"`{name}`" for name in header)
        return "\n".join("| " + " | ".join(line) + " |" for line in [names, rule, *lines[1:]])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def machine_facts() -> dict[str, str]:
    """What the timings depend on: CPU model, cores, torch threads, torch, load average.

    >>> sorted(machine_facts())
    ['cpu', 'load_average_1min', 'logical_cpus', 'platform', 'torch', 'torch_threads']
    """
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        cpu = found.group(1).strip() if found else cpu
    load = f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "-"
    return {
        "cpu": cpu,
        "logical_cpus": str(os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "platform": f"{platform.system()} {platform.machine()}",
        "load_average_1min": load,
    }
