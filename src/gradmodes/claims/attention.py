"""Claims about attention under the switches: the fused fast paths of ``nn.MultiheadAttention``
and the transformer layers, what they change in the output, and which dropout follows ``eval()``
(issue 9 defect 2, issue 10 topic 4).

The code path is observed, not assumed: :func:`gradmodes.ops.recorded_ops` records the ATen
operators a call dispatches, and the fast paths are single fused operators.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim
from gradmodes.ops import recorded_ops

__all__ = ["FUSED_ATTENTION", "FUSED_LAYER"]

FUSED_ATTENTION = "_native_multi_head_attention"
"""The operator of ``nn.MultiheadAttention``'s fast path."""
FUSED_LAYER = "_transformer_encoder_layer_fwd"
"""The operator of ``nn.TransformerEncoderLayer``'s fast path."""
_FLASH = "_scaled_dot_product_flash_attention_for_cpu"


@contextmanager
def _quiet_nested() -> Iterator[None]:
    """Hide torch's 'nested tensors are a prototype' warning (the encoder's fast path)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")
        yield


def _ops(call: Callable[[], object], context: AbstractContextManager[object]) -> list[str]:
    with _quiet_nested(), context, recorded_ops() as ops:
        call()
    return ops


def _contexts() -> dict[str, Callable[[], AbstractContextManager[object]]]:
    return {
        "grad": torch.enable_grad,
        "torch.no_grad()": torch.no_grad,
        "torch.inference_mode()": torch.inference_mode,
    }


def _mha(**kwargs: object) -> nn.MultiheadAttention:
    return nn.MultiheadAttention(8, kwargs.pop("num_heads", 2), **{"batch_first": True, **kwargs})  # type: ignore[arg-type]


def _layer(**kwargs: object) -> nn.TransformerEncoderLayer:
    defaults = {"dim_feedforward": 16, "batch_first": True}
    return nn.TransformerEncoderLayer(8, kwargs.pop("nhead", 2), **{**defaults, **kwargs})  # type: ignore[arg-type]


def _frozen_cases(
    module: nn.Module, x: torch.Tensor, call: Callable[[torch.Tensor], object], fused: str
) -> Iterator[tuple[str, bool, bool]]:
    """(case, fused op seen, expected) in eval mode with gradients on, by what requires grad."""
    module.eval().requires_grad_(False)
    yield "all frozen, x frozen", fused in _ops(lambda: call(x), nullcontext()), True
    xg = x.detach().clone().requires_grad_()
    yield "all frozen, x requires grad", fused in _ops(lambda: call(xg), nullcontext()), False
    for name, param in module.named_parameters():
        param.requires_grad_(True)
        yield f"only {name} trainable", fused in _ops(lambda: call(x), nullcontext()), False
        param.requires_grad_(False)
    module.requires_grad_(True)


def _check_paths(
    obs: Observer,
    module: nn.Module,
    x: torch.Tensor,
    call: Callable[[torch.Tensor], object],
    fused: str,
    parameters: int,
) -> None:
    obs.expect("len(list(module.parameters()))", len(list(module.parameters())), parameters)
    for training in (True, False):
        module.train(training)
        for name, context in _contexts().items():
            obs.expect(
                f"module.train({training}); {name}: {fused!r} in ops",
                fused in _ops(lambda: call(x), context()),
                not training and name != "grad",
            )
    for case, seen, expected in _frozen_cases(module, x, call, fused):
        obs.expect(f"eval, gradients enabled, {case}: {fused!r} in ops", seen, expected)


@claim(
    "attn.mha-path",
    "In eval mode, a batched self-attention call `mha(x, x, x)` of "
    "`nn.MultiheadAttention(8, 2, batch_first=True)` runs the fused operator "
    "`_native_multi_head_attention` under `torch.no_grad()`, under `torch.inference_mode()`, "
    "and with gradients enabled when neither `x` nor any of its 4 parameters requires grad; "
    "it runs op by op in train mode under each of the three, and in eval mode with gradients "
    "enabled when `x` or any one of its parameters requires grad.",
)
@deterministic
def _attn_mha_path(obs: Observer) -> None:
    mha = _mha()
    x = torch.randn(2, 5, 8)
    _check_paths(obs, mha, x, lambda t: mha(t, t, t), FUSED_ATTENTION, 4)


@claim(
    "attn.layer-path",
    "In eval mode, `nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)` "
    "on a batched input runs the fused operator `_transformer_encoder_layer_fwd` under "
    "`torch.no_grad()`, under `torch.inference_mode()`, and with gradients enabled when "
    "neither the input nor any of its 12 parameters requires grad; it runs op by op in train "
    "mode under each of the three, and in eval mode with gradients enabled when the input or "
    "any one of its parameters requires grad.",
)
@deterministic
def _attn_layer_path(obs: Observer) -> None:
    layer = _layer()
    _check_paths(obs, layer, torch.randn(2, 5, 8), layer, FUSED_LAYER, 12)


def _fused_under_no_grad(module: nn.Module, *args: torch.Tensor, **kwargs: object) -> set[str]:
    module.eval()
    ops = _ops(lambda: module(*args, **kwargs), torch.no_grad())
    return {op for op in (FUSED_ATTENTION, FUSED_LAYER) if op in ops}


@contextmanager
def _fast_path_disabled() -> Iterator[None]:
    was = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(was)


def _cpu_autocast() -> AbstractContextManager[object]:
    return torch.autocast("cpu", dtype=torch.bfloat16)


class _Passthrough(TorchFunctionMode):
    """A ``__torch_function__`` override that changes nothing: it runs every call as is."""

    def __torch_function__(
        self,
        func: Callable[..., object],
        types: object,
        args: tuple[object, ...] = (),
        kwargs: dict[str, object] | None = None,
    ) -> object:
        return func(*args, **(kwargs or {}))


@claim(
    "attn.mha-conditions",
    "In eval mode under `torch.no_grad()`, `nn.MultiheadAttention(8, 2, batch_first=True)` "
    "runs `_native_multi_head_attention` for a batched self-attention call, also with a "
    "boolean `attn_mask` or `key_padding_mask`, with `need_weights=False`, and under "
    "`torch.autocast('cpu')`; each of these alone makes it run op by op instead: "
    "`batch_first=False`, an odd number of heads (`MultiheadAttention(9, 3)`), a key and "
    "value that are other tensors than the query, `add_bias_kv=True`, `add_zero_attn=True`, "
    "`bias=False`, an unbatched (2-D) input, a floating-point `attn_mask`, an active "
    "`TorchFunctionMode` (a `__torch_function__` override that only passes calls on), and "
    "`torch.backends.mha.set_fastpath_enabled(False)`.",
    torch_versions=">=2.3",  # the records of other releases (evidence page)
)
@deterministic
def _attn_mha_conditions(obs: Observer) -> None:
    x, other = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    bool_mask = torch.zeros(5, 5, dtype=torch.bool)
    padding = torch.zeros(2, 5, dtype=torch.bool)
    padding[1, 3:] = True
    fused = {FUSED_ATTENTION}
    taken: dict[str, Callable[[], set[str]]] = {
        "mha(x, x, x)": lambda: _fused_under_no_grad(_mha(), x, x, x),
        "attn_mask (bool)": lambda: _fused_under_no_grad(_mha(), x, x, x, attn_mask=bool_mask),
        "key_padding_mask (bool)": lambda: _fused_under_no_grad(
            _mha(), x, x, x, key_padding_mask=padding
        ),
        "need_weights=False": lambda: _fused_under_no_grad(_mha(), x, x, x, need_weights=False),
    }
    for case, run in taken.items():
        obs.expect(f"{case}: fused operators", run(), fused)
    with _cpu_autocast():
        obs.expect(
            "torch.autocast('cpu'): fused operators", _fused_under_no_grad(_mha(), x, x, x), fused
        )
    x9 = torch.randn(2, 5, 9)
    off: dict[str, Callable[[], set[str]]] = {
        "batch_first=False": lambda: _fused_under_no_grad(_mha(batch_first=False), x, x, x),
        "MultiheadAttention(9, 3)": lambda: _fused_under_no_grad(
            nn.MultiheadAttention(9, 3, batch_first=True), x9, x9, x9
        ),
        "mha(x, other, other)": lambda: _fused_under_no_grad(_mha(), x, other, other),
        "add_bias_kv=True": lambda: _fused_under_no_grad(_mha(add_bias_kv=True), x, x, x),
        "add_zero_attn=True": lambda: _fused_under_no_grad(_mha(add_zero_attn=True), x, x, x),
        "bias=False": lambda: _fused_under_no_grad(_mha(bias=False), x, x, x),
        "unbatched": lambda: _fused_under_no_grad(_mha(), x[0], x[0], x[0]),
        "attn_mask (float)": lambda: _fused_under_no_grad(
            _mha(), x, x, x, attn_mask=torch.zeros(5, 5)
        ),
    }
    for case, run in off.items():
        obs.expect(f"{case}: fused operators", run(), set())
    with _Passthrough():
        obs.expect(
            "TorchFunctionMode: fused operators", _fused_under_no_grad(_mha(), x, x, x), set()
        )
    with _fast_path_disabled():
        obs.expect(
            "set_fastpath_enabled(False): fused operators",
            _fused_under_no_grad(_mha(), x, x, x),
            set(),
        )


@claim(
    "attn.layer-conditions",
    "In eval mode under `torch.no_grad()`, `nn.TransformerEncoderLayer(8, 2, "
    "dim_feedforward=16, batch_first=True)` runs `_transformer_encoder_layer_fwd` on a "
    "batched input, also with `activation='gelu'`, `norm_first=True`, a boolean or "
    "floating-point `src_mask`, a full backward hook, and under `torch.autocast('cpu')`; each "
    "of these alone makes it run op by op instead: `batch_first=False`, an odd number of "
    "heads (`TransformerEncoderLayer(9, 3)`), `bias=False`, an activation given as another "
    "function (`torch.tanh`), `norm2.eps` different from `norm1.eps`, a forward hook or "
    "forward pre-hook on the layer or on one of its submodules, an unbatched (2-D) input, and "
    "`torch.backends.mha.set_fastpath_enabled(False)`; with `torch.tanh`, another `eps` or a "
    "hook, its self-attention still runs `_native_multi_head_attention`.",
    torch_versions=">=2.5",  # the records of other releases (evidence page)
)
@deterministic
def _attn_layer_conditions(obs: Observer) -> None:
    x = torch.randn(2, 5, 8)
    layer_op, attention_op = {FUSED_LAYER}, {FUSED_ATTENTION}

    def hooked(where: str, kind: str) -> nn.TransformerEncoderLayer:
        layer = _layer()
        module = layer if where == "layer" else layer.linear1
        if kind == "forward":
            module.register_forward_hook(lambda *args: None)
        else:
            module.register_forward_pre_hook(lambda *args: None)
        return layer

    def other_eps() -> nn.TransformerEncoderLayer:
        layer = _layer()
        layer.norm2.eps = 1e-6
        return layer

    def backward_hooked() -> nn.TransformerEncoderLayer:
        layer = _layer()
        layer.register_full_backward_hook(lambda *args: None)
        return layer

    expected: dict[str, tuple[Callable[[], set[str]], set[str]]] = {
        "layer(x)": (lambda: _fused_under_no_grad(_layer(), x), layer_op),
        "activation='gelu'": (lambda: _fused_under_no_grad(_layer(activation="gelu"), x), layer_op),
        "norm_first=True": (lambda: _fused_under_no_grad(_layer(norm_first=True), x), layer_op),
        "src_mask (bool)": (
            lambda: _fused_under_no_grad(_layer(), x, src_mask=torch.zeros(5, 5, dtype=torch.bool)),
            layer_op,
        ),
        "src_mask (float)": (
            lambda: _fused_under_no_grad(_layer(), x, src_mask=torch.zeros(5, 5)),
            layer_op,
        ),
        "register_full_backward_hook": (
            lambda: _fused_under_no_grad(backward_hooked(), x),
            layer_op,
        ),
        "batch_first=False": (lambda: _fused_under_no_grad(_layer(batch_first=False), x), set()),
        "TransformerEncoderLayer(9, 3)": (
            lambda: _fused_under_no_grad(
                nn.TransformerEncoderLayer(9, 3, dim_feedforward=16, batch_first=True),
                torch.randn(2, 5, 9),
            ),
            set(),
        ),
        "bias=False": (lambda: _fused_under_no_grad(_layer(bias=False), x), set()),
        "unbatched": (lambda: _fused_under_no_grad(_layer(), x[0]), set()),
        "activation=torch.tanh": (
            lambda: _fused_under_no_grad(_layer(activation=torch.tanh), x),
            attention_op,
        ),
        "norm2.eps = 1e-6": (lambda: _fused_under_no_grad(other_eps(), x), attention_op),
    }
    for where in ("layer", "linear1"):
        for kind in ("forward", "forward_pre"):
            expected[f"{where}.register_{kind}_hook"] = (
                lambda where=where, kind=kind: _fused_under_no_grad(hooked(where, kind), x),
                attention_op,
            )
    for case, (run, ops) in expected.items():
        obs.expect(f"{case}: fused operators", run(), ops)
    with _cpu_autocast():
        obs.expect(
            "torch.autocast('cpu'): fused operators", _fused_under_no_grad(_layer(), x), layer_op
        )
    with _fast_path_disabled():
        obs.expect(
            "set_fastpath_enabled(False): fused operators", _fused_under_no_grad(_layer(), x), set()
        )


_SIZES = (8, 16, 32, 64)


@claim(
    "attn.rounding",
    "In eval mode, for each `d_model` in 8, 16, 32 and 64, "
    "`nn.TransformerEncoderLayer(d_model, 2, dim_feedforward=2 * d_model, batch_first=True)` "
    "gives an output under `torch.no_grad()` (the fused path) that is not bit-for-bit equal to "
    "its output with gradients enabled (op by op) on the same input, on the CPU this site "
    "was built on, and within 1e-5 of it; so does `nn.MultiheadAttention(d_model, 2, "
    "batch_first=True)` called with `need_weights=False`, while with the default "
    "`need_weights=True` its two outputs were bit-for-bit equal for these sizes.",
    torch_versions=">=2.3",  # the records of other releases (evidence page)
)
@deterministic
def _attn_rounding(obs: Observer) -> None:
    for d in _SIZES:
        x = torch.randn(4, 7, d)
        layer = nn.TransformerEncoderLayer(d, 2, dim_feedforward=2 * d, batch_first=True).eval()
        slow = layer(x).detach()
        with torch.no_grad():
            fast = layer(x)
        obs.record(f"d_model={d}: layer, max |no_grad - grad|", (fast - slow).abs().max().item())
        obs.expect(f"d_model={d}: layer, torch.equal", torch.equal(fast, slow), False)
        obs.expect(
            f"d_model={d}: layer, allclose(atol=1e-5)",
            torch.allclose(fast, slow, rtol=0, atol=1e-5),
            True,
        )
        mha = nn.MultiheadAttention(d, 2, batch_first=True).eval()
        for need_weights in (False, True):
            slow = mha(x, x, x, need_weights=need_weights)[0].detach()
            with torch.no_grad():
                fast = mha(x, x, x, need_weights=need_weights)[0]
            what = f"d_model={d}: mha(need_weights={need_weights})"
            obs.record(f"{what}, max |no_grad - grad|", (fast - slow).abs().max().item())
            obs.expect(f"{what}, torch.equal", torch.equal(fast, slow), need_weights)
            obs.expect(
                f"{what}, allclose(atol=1e-5)", torch.allclose(fast, slow, rtol=0, atol=1e-5), True
            )


def _encoder(**kwargs: object) -> nn.TransformerEncoder:
    with _quiet_nested():
        return nn.TransformerEncoder(_layer(), num_layers=2, **kwargs)  # type: ignore[arg-type]


def _padding() -> torch.Tensor:
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[1, 3:] = True  # the second sequence: 3 tokens, then 2 padded positions
    return mask


@claim(
    "attn.padding-zeros",
    "In eval mode, a 2-layer `nn.TransformerEncoder` of `TransformerEncoderLayer(8, 2, "
    "dim_feedforward=16, batch_first=True)` given a `src_key_padding_mask` that pads the end "
    "of a sequence returns exactly 0 at every padded position under `torch.no_grad()`, under "
    "`torch.inference_mode()` and with gradients enabled when it and its input are frozen "
    "(the fused path, through a nested tensor), and non-zero values there with gradients "
    "enabled and trainable parameters and in train mode; at the positions that are not padded, "
    "its outputs under `torch.no_grad()` and with gradients enabled agree within 1e-5; under "
    "`torch.no_grad()`, a padding mask that pads the start of a sequence instead, or a "
    "`mask` given with it, gives non-zero values at the padded positions.",
)
@deterministic
def _attn_padding_zeros(obs: Observer) -> None:
    encoder = _encoder().eval()
    x, mask = torch.randn(2, 5, 8), _padding()

    def run(context: AbstractContextManager[object]) -> torch.Tensor:
        with _quiet_nested(), context:
            return encoder(x, src_key_padding_mask=mask).detach()

    slow = run(nullcontext())
    padded = slow[1, 3:]
    obs.expect("grad, trainable: (out[1, 3:] != 0).all()", bool((padded != 0).all()), True)
    for name, context in _contexts().items():
        if name == "grad":
            continue
        out = run(context())
        obs.expect(f"{name}: (out[1, 3:] == 0).all()", bool((out[1, 3:] == 0).all()), True)
        obs.expect(
            f"{name}: allclose(out[~mask], grad_out[~mask], atol=1e-5)",
            torch.allclose(out[~mask], slow[~mask], rtol=0, atol=1e-5),
            True,
        )
    encoder.requires_grad_(False)
    frozen = run(nullcontext())
    obs.expect("grad, all frozen: (out[1, 3:] == 0).all()", bool((frozen[1, 3:] == 0).all()), True)
    encoder.requires_grad_(True).train()
    for name, context in _contexts().items():
        out = run(context())
        obs.expect(
            f"train mode, {name}: (out[1, 3:] != 0).all()", bool((out[1, 3:] != 0).all()), True
        )
    encoder.eval()
    start = torch.zeros(2, 5, dtype=torch.bool)
    start[1, :2] = True  # the second sequence: 2 padded positions, then 3 tokens
    with _quiet_nested(), torch.no_grad():
        out = encoder(x, src_key_padding_mask=start)
        obs.expect(
            "no_grad, padding at the start: (out[1, :2] != 0).all()",
            bool((out[1, :2] != 0).all()),
            True,
        )
        out = encoder(x, mask=torch.zeros(5, 5, dtype=torch.bool), src_key_padding_mask=mask)
        obs.expect(
            "no_grad, with a mask: (out[1, 3:] != 0).all()", bool((out[1, 3:] != 0).all()), True
        )


@claim(
    "attn.encoder-autocast",
    "Under `torch.autocast('cpu', dtype=torch.bfloat16)`, the eval-mode 2-layer "
    "`nn.TransformerEncoder` of `TransformerEncoderLayer(8, 2, dim_feedforward=16, "
    "batch_first=True)` given a `src_key_padding_mask` raises `RuntimeError` (`expected "
    "scalar type Float but found BFloat16`) under `torch.no_grad()` and under "
    "`torch.inference_mode()`, while with gradients enabled it runs; without the padding "
    "mask, or built with `enable_nested_tensor=False`, it runs under each of the three grad "
    "modes.",
    torch_versions=">=2.6",  # the records of other releases (evidence page)
)
@deterministic
def _attn_encoder_autocast(obs: Observer) -> None:
    encoder = _encoder().eval()
    plain = _encoder(enable_nested_tensor=False).eval()
    plain.load_state_dict(encoder.state_dict())
    x, mask = torch.randn(2, 5, 8), _padding()
    with _quiet_nested(), _cpu_autocast():
        for name, context in _contexts().items():
            with context():
                if name == "grad":
                    out = encoder(x, src_key_padding_mask=mask)
                    obs.expect("grad, padding mask: output shape", tuple(out.shape), (2, 5, 8))
                else:
                    with obs.expect_raises(
                        f"{name}, padding mask: encoder(x, src_key_padding_mask=mask)",
                        RuntimeError,
                        "expected scalar type Float but found BFloat16",
                    ):
                        encoder(x, src_key_padding_mask=mask)
                out = encoder(x)
                obs.expect(f"{name}, no mask: output shape", tuple(out.shape), (2, 5, 8))
                out = plain(x, src_key_padding_mask=mask)
                obs.expect(
                    f"{name}, enable_nested_tensor=False, padding mask: output shape",
                    tuple(out.shape),
                    (2, 5, 8),
                )


@claim(
    "attn.partial-freeze",
    "In eval mode with gradients enabled and a `src_key_padding_mask`, a 2-layer "
    "`nn.TransformerEncoder` of `TransformerEncoderLayer(8, 2, dim_feedforward=16, "
    "batch_first=True)` whose first layer is frozen and whose second layer is trainable "
    "raises `AssertionError` (`MultiheadAttention does not support NestedTensor outside of "
    "its fast path`), while with its first layer trainable and its second frozen it runs and "
    "gives non-zero values at the padded positions; built with `enable_nested_tensor=False`, "
    "the same encoder runs, gives non-zero values at the padded positions under each of the "
    "three grad modes, and its outputs under `torch.no_grad()` and with gradients enabled "
    "agree within 1e-5.",
)
@deterministic
def _attn_partial_freeze(obs: Observer) -> None:
    x, mask = torch.randn(2, 5, 8), _padding()
    encoder = _encoder().eval()
    encoder.layers[0].requires_grad_(False)
    with (
        _quiet_nested(),
        obs.expect_raises(
            "layers[0] frozen, layers[1] trainable: encoder(x, src_key_padding_mask=mask)",
            AssertionError,
            "MultiheadAttention does not support NestedTensor outside of its fast path",
        ),
    ):
        encoder(x, src_key_padding_mask=mask)
    reverse = _encoder().eval()
    reverse.layers[1].requires_grad_(False)
    with _quiet_nested():
        out = reverse(x, src_key_padding_mask=mask).detach()
    obs.expect(
        "layers[0] trainable, layers[1] frozen: (out[1, 3:] != 0).all()",
        bool((out[1, 3:] != 0).all()),
        True,
    )
    plain = _encoder(enable_nested_tensor=False).eval()
    plain.layers[0].requires_grad_(False)
    outputs = {}
    for name, context in _contexts().items():
        with context():
            outputs[name] = plain(x, src_key_padding_mask=mask).detach()
        obs.expect(
            f"enable_nested_tensor=False, {name}: (out[1, 3:] != 0).all()",
            bool((outputs[name][1, 3:] != 0).all()),
            True,
        )
    obs.expect(
        "enable_nested_tensor=False: allclose(no_grad, grad, atol=1e-5)",
        torch.allclose(outputs["torch.no_grad()"], outputs["grad"], rtol=0, atol=1e-5),
        True,
    )


@claim(
    "attn.mha-dropout",
    "`nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)` follows `eval()`: in train "
    "mode two calls on the same input give different outputs, under each of the three grad "
    "modes; in eval mode the two calls are equal, and within 1e-6 of the output of the same "
    "weights with `dropout=0.0`.",
)
@deterministic
def _attn_mha_dropout(obs: Observer) -> None:
    x = torch.randn(2, 5, 8)
    mha = _mha(dropout=0.5)
    reference = _mha(dropout=0.0)
    reference.load_state_dict(mha.state_dict())
    reference.eval()
    with torch.no_grad():
        expected = reference(x, x, x)[0]
    for training in (True, False):
        mha.train(training)
        for name, context in _contexts().items():
            with context():
                first, second = mha(x, x, x)[0].detach(), mha(x, x, x)[0].detach()
            obs.expect(
                f"train({training}), {name}: torch.equal(mha(x, x, x), mha(x, x, x))",
                torch.equal(first, second),
                not training,
            )
            if not training:
                obs.expect(
                    f"eval, {name}: allclose(out, dropout=0.0 output, atol=1e-6)",
                    torch.allclose(first, expected, rtol=0, atol=1e-6),
                    True,
                )


class _SDPABlock(nn.Module):
    """Calls ``F.scaled_dot_product_attention`` with a fixed ``dropout_p``, as written."""

    def __init__(self, p: float, follow_mode: bool) -> None:
        super().__init__()
        self.p, self.follow_mode = p, follow_mode

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        p = self.p if (self.training or not self.follow_mode) else 0.0
        return F.scaled_dot_product_attention(q, q, q, dropout_p=p)


@claim(
    "attn.sdpa-dropout",
    "`F.scaled_dot_product_attention` has no training flag: called with `dropout_p=0.5` "
    "inside a module in eval mode, it gives different outputs on two calls with the same "
    "input, under each of the three grad modes; written as `dropout_p=self.p if "
    "self.training else 0.0`, it gives in eval mode the output of `dropout_p=0.0`.",
)
@deterministic
def _attn_sdpa_dropout(obs: Observer) -> None:
    q = torch.randn(2, 2, 5, 4)
    plain = F.scaled_dot_product_attention(q, q, q)
    fixed, following = _SDPABlock(0.5, False).eval(), _SDPABlock(0.5, True).eval()
    for name, context in _contexts().items():
        with context():
            first, second = fixed(q), fixed(q)
            guarded = following(q)
        obs.expect(
            f"{name}: dropout_p=0.5 in eval mode, torch.equal(block(q), block(q))",
            torch.equal(first, second),
            False,
        )
        obs.expect(
            f"{name}: guarded, torch.equal(block(q), dropout_p=0.0 output)",
            torch.equal(guarded, plain),
            True,
        )


@claim(
    "attn.sdpa-path",
    "On CPU, `F.scaled_dot_product_attention(q, k, v)` on 4-D inputs `(batch, heads, "
    "sequence, head dim)` with the default `dropout_p=0.0` runs the fused kernel "
    "`_scaled_dot_product_flash_attention_for_cpu` with gradients enabled, "
    "under `torch.no_grad()` and under `torch.inference_mode()`, whether or not `q`, `k` and "
    "`v` require grad, and gives the same output with gradients enabled as under "
    "`torch.no_grad()`; with `dropout_p=0.5` it does not run that kernel (it computes the "
    "attention op by op and draws the dropout mask); on 3-D inputs `(batch, sequence, dim)` "
    "it does not run that kernel under any of the three grad modes.",
    torch_versions=">=2.3,<2.14",  # the records of other releases (evidence page)
)
@deterministic
def _attn_sdpa_path(obs: Observer) -> None:
    q = torch.randn(2, 2, 5, 4)
    for requires_grad in (False, True):
        t = q.detach().clone().requires_grad_(requires_grad)
        for name, context in _contexts().items():
            for p in (0.0, 0.5):
                ops = _ops(
                    lambda t=t, p=p: F.scaled_dot_product_attention(t, t, t, dropout_p=p), context()
                )
                obs.expect(
                    f"q.requires_grad={requires_grad}, {name}, dropout_p={p}: {_FLASH!r} in ops",
                    _FLASH in ops,
                    p == 0.0,
                )
                obs.expect(
                    f"q.requires_grad={requires_grad}, {name}, dropout_p={p}: a dropout mask "
                    "is drawn ('bernoulli_' or 'native_dropout' in ops)",
                    bool({"bernoulli_", "native_dropout"} & set(ops)),
                    p > 0.0,
                )
    flat = torch.randn(2, 5, 4)
    for name, context in _contexts().items():
        ops = _ops(lambda: F.scaled_dot_product_attention(flat, flat, flat), context())
        obs.expect(f"3-D inputs, {name}: {_FLASH!r} in ops", _FLASH in ops, False)
    t = q.detach().clone().requires_grad_()
    with_grad = F.scaled_dot_product_attention(t, t, t).detach()
    with torch.no_grad():
        without = F.scaled_dot_product_attention(t, t, t)
    obs.expect("torch.equal(grad output, no_grad output)", torch.equal(with_grad, without), True)
