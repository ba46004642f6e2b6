"""Claims of the mixed-precision page: `torch.autocast` to bfloat16 with each switch.

The checks use ``torch.autocast`` through the ``torch`` module attribute, so a patched
``torch.autocast`` is the one checked.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
from torch import nn

from gradmodes.casts import watch_casts
from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim
from gradmodes.models import mlp
from gradmodes.probes import count_saved

__all__: list[str] = []

BF16 = torch.bfloat16
Context = Callable[[], AbstractContextManager[object]]


def _autocast(obs: Observer) -> AbstractContextManager[object]:
    return torch.autocast(obs.device.type, dtype=BF16)


def _modes() -> dict[str, Context]:
    return {
        "grad": torch.enable_grad,
        "no_grad": torch.no_grad,
        "inference_mode": torch.inference_mode,
    }


@claim(
    "amp.dtypes",
    "Under `torch.autocast('cpu', dtype=torch.bfloat16)`, `nn.Linear` returns bfloat16 in "
    "train and in eval mode, with gradients enabled, under `torch.no_grad()` and under "
    "`torch.inference_mode()`, with its parameters trainable or frozen; the parameters stay "
    "float32, and the gradients `backward()` gives them are float32.",
)
@deterministic
def _amp_dtypes(obs: Observer) -> None:
    layer = nn.Linear(8, 8).to(obs.device)
    x = torch.randn(4, 8, device=obs.device)
    for training in (True, False):
        for frozen in (False, True):
            layer.train(training).requires_grad_(not frozen)
            for mode, context in _modes().items():
                with _autocast(obs), context():
                    y = layer(x)
                where = f"train={training}, frozen={frozen}, {mode}"
                obs.expect(f"{where}: output dtype", y.dtype, BF16)
    obs.expect("parameter dtypes", {p.dtype for p in layer.parameters()}, {torch.float32})
    layer.requires_grad_(True)
    with _autocast(obs):
        y = layer(x)
    y.float().sum().backward()
    obs.expect(
        "gradient dtypes",
        {p.grad.dtype for p in layer.parameters() if p.grad is not None},
        {torch.float32},
    )


def _saved_storages(run: Callable[[], object], exclude: list[torch.Tensor]) -> list[torch.Tensor]:
    """The distinct tensors (one per storage) that ``run()`` saves for backward, outside
    the storages of ``exclude``."""
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    kept: dict[int, torch.Tensor] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        ptr = tensor.untyped_storage().data_ptr()
        if ptr not in skip:
            kept.setdefault(ptr, tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return list(kept.values())


@claim(
    "amp.saved",
    "Under autocast to bfloat16, a forward of `mlp(64)` on a float32 batch of 32 that does not "
    "require grad saves tensors that reference 20480 bytes, half the 40960 of the float32 "
    "forward, yet hold 16384 bytes of storage besides the input and the parameters, twice the "
    "float32 forward's 8192 (its ReLU output): the bfloat16 copies of the input and of the "
    "second weight are new storages kept for backward, beside the ReLU output; under "
    "`torch.no_grad()` or `torch.inference_mode()` it saves nothing, as without autocast.",
)
@deterministic
def _amp_saved(obs: Observer) -> None:
    net = mlp(64).to(obs.device)
    x = torch.randn(32, 64, device=obs.device)
    exclude = [x, *net.parameters()]
    with count_saved(exclude=exclude) as full:
        net(x)
    with count_saved(exclude=exclude) as low, _autocast(obs):
        net(x)
    obs.expect("float32: bytes referenced by saved tensors", full.bytes, 40960)
    obs.expect("float32: storage bytes besides x and parameters", full.storage_bytes, 8192)
    obs.expect("autocast: bytes referenced by saved tensors", low.bytes, 20480)
    obs.expect("autocast: storage bytes besides x and parameters", low.storage_bytes, 16384)

    def forward() -> object:
        with _autocast(obs):
            return net(x)

    kept = _saved_storages(forward, exclude)

    def found(value: torch.Tensor) -> bool:
        return any(
            t.dtype == BF16
            and t.shape in (value.shape, value.t().shape)
            and (torch.equal(t, value) or torch.equal(t, value.t()))
            for t in kept
        )

    plain = _saved_storages(lambda: net(x), exclude)
    with torch.no_grad():
        obs.expect(
            "float32: the one new storage kept is the ReLU output",
            len(plain) == 1 and torch.equal(plain[0], torch.relu(net[0](x))),
            True,
        )
    obs.expect("number of new storages kept", len(kept), 3)
    obs.expect("x.to(bfloat16) among them", found(x.to(BF16)), True)
    obs.expect(
        "net[2].weight.to(bfloat16) among them", found(net[2].weight.detach().to(BF16)), True
    )
    with torch.no_grad(), _autocast(obs):
        relu = torch.relu(net[0](x))  # what the ReLU returns under autocast
    obs.expect("the bfloat16 ReLU output among them", found(relu), True)
    for mode, context in (("no_grad", torch.no_grad), ("inference_mode", torch.inference_mode)):
        with count_saved() as saved, _autocast(obs), context():
            net(x)
        obs.expect(f"autocast, {mode}: saved tensors", saved.count, 0)


@claim(
    "amp.cache",
    "Inside one autocast region with the default `cache_enabled=True`, each float32 parameter "
    "that requires grad is cast to bfloat16 once and the copy is reused (autocast's weight "
    "cache), with gradients enabled and under `torch.no_grad()`: two forwards of `mlp(64)` "
    "make 4 copies, which stay alive (16640 bytes) until the region ends; under "
    "`torch.inference_mode()`, with the parameters frozen, or in a region opened with "
    "`cache_enabled=False`, every use casts again (8 copies) and no copy outlives its "
    "forward.",
    torch_versions=">=2.11",  # the records of other releases (evidence page)
)
@deterministic
def _amp_cache(obs: Observer) -> None:
    net = mlp(64).to(obs.device)
    x = torch.randn(32, 64, device=obs.device)
    cases = [(mode, context, False, True) for mode, context in _modes().items()]
    cases.append(("grad, frozen", torch.enable_grad, True, True))
    cases.append(("grad, cache_enabled=False", torch.enable_grad, False, False))
    for mode, context, frozen, cache in cases:
        net.requires_grad_(not frozen)
        cached = mode in ("grad", "no_grad")
        with torch.autocast(obs.device.type, dtype=BF16, cache_enabled=cache):
            with watch_casts(net.parameters()) as casts, context():
                net(x)
                net(x)
            obs.expect(f"{mode}: copies made", casts.made, 4 if cached else 8)
            obs.expect(
                f"{mode}: bytes of copies alive in the region",
                casts.alive_bytes(),
                16640 if cached else 0,
            )
        obs.expect(f"{mode}: copies alive after the region", casts.alive(), 0)


@claim(
    "amp.cache-no-grad",
    "Inside one autocast region, a forward with gradients enabled after one under "
    "`torch.no_grad()` reuses the bfloat16 weight copies cast under `no_grad` (it casts no "
    "parameter again), and `backward()` gives the parameters exactly the gradients of a region "
    "without the `no_grad` forward.",
    torch_versions=">=2.11",  # the records of other releases (evidence page)
)
@deterministic
def _amp_cache_no_grad(obs: Observer) -> None:
    net = mlp(8).to(obs.device)
    x = torch.randn(4, 8, device=obs.device)
    with _autocast(obs):
        net(x).float().sum().backward()
    expected = [p.grad.clone() for p in net.parameters() if p.grad is not None]
    net.zero_grad(set_to_none=True)
    with _autocast(obs):
        with watch_casts(net.parameters()) as first, torch.no_grad():
            net(x)
        with watch_casts(net.parameters()) as second:
            y = net(x)
    obs.expect("copies made under no_grad", first.made, 4)
    obs.expect("copies made by the next forward", second.made, 0)
    y.float().sum().backward()
    grads = [p.grad for p in net.parameters()]
    obs.expect(
        "gradients equal those of a region without the no_grad forward",
        len(grads) == len(expected)
        and all(g is not None and torch.equal(g, e) for g, e in zip(grads, expected, strict=True)),
        True,
    )
