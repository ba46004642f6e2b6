"""Claims of the performance page: what each setting saves for backward, exactly.

Only byte counts are claimed, in two figures named for what they count: the bytes the
saved tensors *reference* and the bytes of the *distinct storages* they keep alive
besides the model's parameters, buffers and input (``gradmodes.measure``). Timings
and process memory depend on the machine and are reported on the page, never claimed.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim
from gradmodes.freeze import BATCHNORM_TYPES, freeze
from gradmodes.measure import (
    SETTINGS,
    WORKLOADS,
    forward,
    head_input_bytes,
    saved_tensors,
)
from gradmodes.modes import grad_context
from gradmodes.probes import count_saved

__all__: list[str] = []

MLPS = ("small_mlp", "large_mlp")


def _batchnorm_channels(workload: str) -> int:
    """Channels of all BatchNorm layers of ``workload``'s model."""
    model = WORKLOADS[workload].build()
    return sum(m.num_features for m in model.modules() if isinstance(m, BATCHNORM_TYPES))


def _figures(
    workload: str, setting: str, device: torch.device, **kwargs: object
) -> tuple[int, int]:
    """(referenced bytes, distinct storage bytes) one forward saves for backward."""
    saved = saved_tensors(WORKLOADS[workload], SETTINGS[setting], device, **kwargs)  # type: ignore[arg-type]
    return saved.bytes, saved.storage_bytes


@claim(
    "perf.eval-same-bytes",
    "The three workloads have no dropout module, and in eval mode each of the two MLPs saves "
    "for backward exactly what it saves in train mode (referenced and distinct bytes alike), "
    "while the conv net saves 8 bytes per BatchNorm channel fewer in both figures (384 bytes "
    "for its 48 channels: the batch mean and inverse standard deviation that train mode "
    "saves).",
)
@deterministic
def _perf_eval_same_bytes(obs: Observer) -> None:
    dropouts = nn.modules.dropout._DropoutNd
    for name, workload in WORKLOADS.items():
        model = workload.build()
        obs.expect(
            f"any dropout module in {name}",
            any(isinstance(m, dropouts) for m in model.modules()),
            False,
        )
        train = _figures(name, "train", obs.device)
        evaluated = _figures(name, "eval", obs.device)
        obs.record(f"(saved_bytes, storage_bytes) of {name!r} in 'train'", train)
        fewer = 8 * _batchnorm_channels(name)
        obs.expect(
            f"(saved_bytes, storage_bytes) of {name!r} in 'eval'",
            evaluated,
            (train[0] - fewer, train[1] - fewer),
        )
    obs.expect(
        "sum(m.num_features for m in small_cnn.modules() if isinstance(m, BATCHNORM_TYPES))",
        _batchnorm_channels("small_cnn"),
        48,
    )


@claim(
    "perf.nothing-saved",
    "Under `torch.no_grad()` or `torch.inference_mode()`, or with every parameter frozen and "
    "an input that does not require grad, a forward of each of the three workloads saves 0 "
    "bytes for backward and its output has no `grad_fn`; with every parameter frozen but an "
    "input that requires grad, each still records a graph and saves tensors for backward.",
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
        model, x = workload.make(obs.device)
        freeze(model)
        x.requires_grad_(True)
        with count_saved() as saved:
            output = model(x)
        obs.expect(
            f"{name}, frozen, x.requires_grad: (output.grad_fn is None, saved.bytes > 0)",
            (output.grad_fn is None, saved.bytes > 0),
            (False, True),
        )


@claim(
    "perf.head-only",
    "With every parameter frozen except the head (the last `Linear`), a forward saves one "
    "tensor for backward, the head's input: batch size × `head.in_features` × 4 bytes, "
    "referenced and distinct alike (2048, 1024 and 1048576 bytes for the three workloads), "
    "and nothing for the frozen layers.",
)
@deterministic
def _perf_head_only(obs: Observer) -> None:
    for name, workload in WORKLOADS.items():
        expected = head_input_bytes(workload)
        obs.record(f"head_input_bytes({name!r})", expected)
        saved = saved_tensors(workload, SETTINGS["frozen_but_head"], obs.device)
        obs.expect(
            f"saved_tensors({name!r}, 'frozen_but_head'): (count, bytes, storage_bytes)",
            (saved.count, saved.bytes, saved.storage_bytes),
            (1, expected, expected),
        )
    sizes = [head_input_bytes(w) for w in WORKLOADS.values()]
    obs.expect("[head_input_bytes(w) for w in WORKLOADS.values()]", sizes, [2048, 1024, 1048576])


@claim(
    "perf.new-memory",
    "In train mode the tensors that `small_mlp`, `small_cnn` and `large_mlp` save for backward "
    "reference 64768, 2612096 and 19824640 bytes but keep only 16384, 1967488 and 3145728 "
    "bytes of distinct storage alive besides the parameters, buffers and input; for "
    "`large_mlp` that storage is its three `ReLU` outputs, and the rest of the referenced bytes "
    "are its input, its weights saved as transposed views, and the same `ReLU` outputs saved "
    "again by the next `Linear`.",
    torch_versions=">=2.2",  # the records of other releases (evidence page)
)
@deterministic
def _perf_new_memory(obs: Observer) -> None:
    expected = {
        "small_mlp": (64768, 16384),
        "small_cnn": (2612096, 1967488),
        "large_mlp": (19824640, 3145728),
    }
    for name, figures in expected.items():
        obs.expect(
            f"(saved_bytes, storage_bytes) of {name!r} in 'train'",
            _figures(name, "train", obs.device),
            figures,
        )
    # Which storages: those of the ReLU outputs, seen by forward hooks.
    model, x = WORKLOADS["large_mlp"].make(obs.device)
    relu_outputs: set[int] = set()
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.register_forward_hook(
                lambda _m, _a, out: relu_outputs.add(out.untyped_storage().data_ptr())
            )
    existing = {t.untyped_storage().data_ptr() for t in (*model.parameters(), x)}
    kept: set[int] = set()

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        if (ptr := tensor.untyped_storage().data_ptr()) not in existing:
            kept.add(ptr)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    obs.expect("large_mlp: the new storages kept are the ReLU outputs'", kept == relu_outputs, True)
    obs.expect("len(relu_outputs)", len(relu_outputs), 3)


@claim(
    "perf.autocast",
    "`torch.autocast` is independent of the grad modes: under autocast to `bfloat16` on the "
    "CPU, entered inside or outside `torch.no_grad()` and `torch.inference_mode()`, "
    "`torch.is_grad_enabled()` is unchanged and the three workloads' outputs are `bfloat16`; "
    "a default-mode forward still records a graph; for the two MLPs its saved tensors are all "
    "`bfloat16`, so none of them is a `float32` parameter or the input, and they reference "
    "exactly half the bytes of the `float32` forward but keep more distinct storage alive "
    "(16384 → 24192 and 3145728 → 8339456 bytes), while the conv net's distinct storage "
    "shrinks (1967488 → 1174880 bytes); under `torch.no_grad()` or `torch.inference_mode()` "
    "nothing is saved.",
)
@deterministic
def _perf_autocast(obs: Observer) -> None:
    device = torch.device("cpu")  # what the statement is about, whatever device is asked for
    device_type = device.type
    with torch.autocast(device_type, dtype=torch.bfloat16):
        obs.expect(
            "with torch.autocast(...): torch.is_grad_enabled()", torch.is_grad_enabled(), True
        )
    for mode in ("no_grad", "inference_mode"):
        with grad_context(mode), torch.autocast(device_type, dtype=torch.bfloat16):
            obs.expect(
                f"with {mode}, autocast: torch.is_grad_enabled()", torch.is_grad_enabled(), False
            )
        with torch.autocast(device_type, dtype=torch.bfloat16), grad_context(mode):
            obs.expect(
                f"with autocast, {mode}: torch.is_grad_enabled()", torch.is_grad_enabled(), False
            )
    distinct = {
        "small_mlp": (16384, 24192),
        "small_cnn": (1967488, 1174880),
        "large_mlp": (3145728, 8339456),
    }
    for name, (full_storage, cast_storage) in distinct.items():
        full = _figures(name, "train", device)
        cast = _figures(name, "train", device, autocast=torch.bfloat16)
        obs.expect(f"storage_bytes({name!r}, 'train')", full[1], full_storage)
        obs.expect(f"autocast: storage_bytes({name!r}, 'train')", cast[1], cast_storage)
        if name in MLPS:
            obs.expect(f"autocast: saved_bytes({name!r}, 'train') * 2", cast[0] * 2, full[0])
            obs.expect(
                f"autocast: dtypes of the tensors {name!r} saves in 'train'",
                _saved_dtypes(name, device),
                {torch.bfloat16},
            )
        for setting in ("train", "no_grad", "inference_mode"):
            run = forward(WORKLOADS[name], SETTINGS[setting], device)
            with count_saved() as saved, torch.autocast(device_type, dtype=torch.bfloat16):
                output = run()  # the grad mode entered inside autocast
            where = f"autocast, {name!r}, {setting!r}"
            if setting != "train":
                obs.expect(f"{where}: saved_bytes", saved.bytes, 0)
            obs.expect(
                f"{where}: (output.dtype, output.grad_fn is None)",
                (output.dtype, output.grad_fn is None),
                (torch.bfloat16, setting != "train"),
            )
        model, x = WORKLOADS[name].make(device)
        for mode in ("no_grad", "inference_mode"):  # autocast entered inside the grad mode
            with (
                grad_context(mode),
                count_saved() as saved,
                torch.autocast(device_type, dtype=torch.bfloat16),
            ):
                output = model(x)
            obs.expect(
                f"with {mode}, autocast: {name}(x): (output.dtype, saved_bytes)",
                (output.dtype, saved.bytes),
                (torch.bfloat16, 0),
            )


def _saved_dtypes(workload: str, device: torch.device) -> set[torch.dtype]:
    """The dtypes of the tensors a train-mode forward of ``workload`` saves under autocast."""
    model, x = WORKLOADS[workload].make(device)
    dtypes: set[torch.dtype] = set()

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        dtypes.add(tensor.dtype)
        return tensor

    with (
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        torch.autocast(device.type, dtype=torch.bfloat16),
    ):
        model(x)
    return dtypes


def _what_linear_saves(layer: nn.Linear, x: torch.Tensor) -> list[str]:
    """What ``layer(x)`` saves for backward: ``"x"``, ``"weight.t()"`` (a view) or another."""
    saved: list[str] = []
    weight = layer.weight

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        if tensor is x:
            saved.append("x")
        elif (
            tensor._base is weight
            and tensor.untyped_storage().data_ptr() == weight.untyped_storage().data_ptr()
            and tensor.shape == weight.t().shape
        ):
            saved.append("weight.t()")
        else:
            saved.append(f"other {tuple(tensor.shape)}")
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        layer(x)
    return saved


@claim(
    "perf.linear-saves",
    "With gradients on, a `Linear` on a 2-D input saves its input itself for backward when its "
    "weight requires grad, and its weight as a transposed view of the weight's own storage "
    "when its input requires grad (nothing when neither does, whatever its bias requires); a "
    "`ReLU` saves its output itself.",
)
@deterministic
def _perf_linear_saves(obs: Observer) -> None:
    for input_grad, weight_grad, bias_grad in itertools.product((False, True), repeat=3):
        layer = nn.Linear(4, 3).to(obs.device)
        layer.weight.requires_grad_(weight_grad)
        layer.bias.requires_grad_(bias_grad)
        x = torch.randn(2, 4, device=obs.device, requires_grad=input_grad)
        obs.expect(
            f"x.requires_grad={input_grad}, weight.requires_grad={weight_grad}, "
            f"bias.requires_grad={bias_grad}: saved",
            _what_linear_saves(layer, x),
            ["x"] * weight_grad + ["weight.t()"] * input_grad,
        )
    relu = nn.ReLU()
    x = torch.randn(5, device=obs.device, requires_grad=True)
    kept: list[torch.Tensor] = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: kept.append(t) or t, lambda t: t):
        y = relu(x)
    obs.expect("nn.ReLU()(x): [t is y for t in saved]", [t is y for t in kept], [True])


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
            here = saved_tensors(WORKLOADS[name], setting, obs.device)
            cpu = saved_tensors(WORKLOADS[name], setting, "cpu")
            obs.expect(
                f"(saved_bytes, storage_bytes)({name!r}, {setting.name!r}) on "
                f"{obs.device.type} == on cpu",
                (here.bytes, here.storage_bytes),
                (cpu.bytes, cpu.storage_bytes),
            )
