"""Claims about what changed between torch releases (section "rel").

Each change is stated as claims with complementary torch ranges: one for the releases
before the change and one from it, so that the records of both sides prove it (a claim
outside its range is not run there). The page "Where the claims were checked" cites them.
"""

from __future__ import annotations

import inspect
import io
import pickle
import warnings
from typing import Any

import torch
from torch import nn

from gradmodes.claims._common import deterministic
from gradmodes.claims._registry import Observer, claim

__all__: list[str] = []

OPTIMIZERS_2_1 = (
    "ASGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGS",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGD",
    "SparseAdam",
)


def _optimizer_classes() -> list[str]:
    """The optimizer classes ``torch.optim`` exports: every ``Optimizer`` subclass in it."""
    return sorted(
        name
        for name, value in vars(torch.optim).items()
        if inspect.isclass(value)
        and issubclass(value, torch.optim.Optimizer)
        and value is not torch.optim.Optimizer
    )


def _expect_optimizers(obs: Observer, expected: tuple[str, ...]) -> None:
    obs.expect(
        "sorted(name for name, c in vars(torch.optim).items() if inspect.isclass(c) and "
        "issubclass(c, torch.optim.Optimizer) and c is not torch.optim.Optimizer)",
        _optimizer_classes(),
        sorted(expected),
    )


@claim(
    "rel.optimizers-2-1",
    "Before torch 2.5, `torch.optim` exports 13 optimizer classes: `ASGD`, `Adadelta`, "
    "`Adagrad`, `Adam`, `AdamW`, `Adamax`, `LBFGS`, `NAdam`, `RAdam`, `RMSprop`, `Rprop`, "
    "`SGD` and `SparseAdam`.",
    torch_versions="<2.5",
)
def _rel_optimizers_2_1(obs: Observer) -> None:
    _expect_optimizers(obs, OPTIMIZERS_2_1)


@claim(
    "rel.optimizers-adafactor",
    "From torch 2.5 to 2.8, `torch.optim` exports 14 optimizer classes: those 13 and `Adafactor`.",
    torch_versions=">=2.5,<2.9",
)
def _rel_optimizers_adafactor(obs: Observer) -> None:
    _expect_optimizers(obs, (*OPTIMIZERS_2_1, "Adafactor"))


@claim(
    "rel.optimizers-muon",
    "From torch 2.9, `torch.optim` exports 15 optimizer classes: those 14 and `Muon`.",
    torch_versions=">=2.9",
)
def _rel_optimizers_muon(obs: Observer) -> None:
    _expect_optimizers(obs, (*OPTIMIZERS_2_1, "Adafactor", "Muon"))


def _inference_tensor_error() -> str:
    """The message of the error raised when autograd must save an inference tensor."""
    with torch.inference_mode():
        made_inside = torch.ones(2)
    w = torch.ones(2, requires_grad=True)
    try:
        made_inside * w
    except RuntimeError as exc:
        return str(exc)
    return "no error"


INFERENCE_ERROR_SHORT = (
    "Inference tensors cannot be saved for backward. To work around you can make a clone to "
    "get a normal tensor and use it in autograd."
)
INFERENCE_ERROR_HINT = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`."
)


@claim(
    "rel.inference-error-short",
    "Before torch 2.9, multiplying a tensor made under `torch.inference_mode()` with one that "
    "requires grad raises `RuntimeError` whose message is exactly two sentences, `Inference "
    "tensors cannot be saved for backward` and `To work around you can make a clone to get a "
    "normal tensor and use it in autograd`.",
    torch_versions="<2.9",
)
def _rel_inference_error_short(obs: Observer) -> None:
    obs.expect("str(error of made_inside * w)", _inference_tensor_error(), INFERENCE_ERROR_SHORT)


@claim(
    "rel.inference-error-hint",
    "From torch 2.9, the same error's message is exactly three sentences, `Inference tensors "
    "cannot be saved for backward`, `Please do not use Tensors created in inference mode in "
    "computation tracked by autograd` and `` To work around this, you can make a clone to get a "
    "normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()` ``.",
    torch_versions=">=2.9",
)
def _rel_inference_error_hint(obs: Observer) -> None:
    obs.expect("str(error of made_inside * w)", _inference_tensor_error(), INFERENCE_ERROR_HINT)


def _saved_module() -> io.BytesIO:
    """A whole ``nn.Linear`` object saved with ``torch.save`` (not its ``state_dict``)."""
    buffer = io.BytesIO()
    torch.save(nn.Linear(2, 2), buffer)
    buffer.seek(0)
    return buffer


@claim(
    "rel.load-full",
    "Before torch 2.6, `torch.load(f)` of a file saved from a whole `nn.Module` object "
    "returns that module: the default is `weights_only=False`.",
    torch_versions="<2.6",
)
@deterministic
def _rel_load_full(obs: Observer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # 2.4 and 2.5 warn of the change
        loaded = torch.load(_saved_module())
    obs.expect("type(torch.load(f)).__name__", type(loaded).__name__, "Linear")


@claim(
    "rel.load-weights-only",
    "From torch 2.6, `torch.load(f)` of a file saved from a whole `nn.Module` object raises "
    "`pickle.UnpicklingError` (`Weights only load failed`): the default is "
    "`weights_only=True`; `torch.load(f, weights_only=False)` still returns the module, and a "
    "`state_dict` loads with the default.",
    torch_versions=">=2.6",
)
@deterministic
def _rel_load_weights_only(obs: Observer) -> None:
    with obs.expect_raises("torch.load(f)", pickle.UnpicklingError, "Weights only load failed"):
        torch.load(_saved_module())
    loaded = torch.load(_saved_module(), weights_only=False)
    obs.expect("type(torch.load(f, weights_only=False)).__name__", type(loaded).__name__, "Linear")
    buffer = io.BytesIO()
    torch.save(nn.Linear(2, 2).state_dict(), buffer)
    buffer.seek(0)
    obs.expect(
        "sorted(torch.load(state_dict_file))", sorted(torch.load(buffer)), ["bias", "weight"]
    )


def _autocast_warnings() -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.cpu.amp.autocast():
            pass
    return [f"{w.category.__name__}: {w.message}" for w in caught]


@claim(
    "rel.cpu-autocast-silent",
    "Before torch 2.4, `torch.cpu.amp.autocast()` emits no warning.",
    torch_versions="<2.4",
)
def _rel_cpu_autocast_silent(obs: Observer) -> None:
    obs.expect("warnings of torch.cpu.amp.autocast()", _autocast_warnings(), [])


@claim(
    "rel.cpu-autocast-deprecated",
    "From torch 2.4, `torch.cpu.amp.autocast()` emits a `FutureWarning`: it is deprecated in "
    "favour of `torch.amp.autocast('cpu', ...)`, which emits none.",
    torch_versions=">=2.4",
)
def _rel_cpu_autocast_deprecated(obs: Observer) -> None:
    obs.expect(
        "warnings of torch.cpu.amp.autocast()",
        _autocast_warnings(),
        [
            "FutureWarning: `torch.cpu.amp.autocast(args...)` is deprecated. Please use "
            "`torch.amp.autocast('cpu', args...)` instead."
        ],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.amp.autocast("cpu"):
            pass
    obs.expect("warnings of torch.amp.autocast('cpu')", [str(w.message) for w in caught], [])


def _decorate_a_class() -> tuple[list[warnings.WarningMessage], Any]:
    """``@torch.no_grad()`` applied to a class: the warnings it emits, and what it returns."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @torch.no_grad()
        class Decorated:
            def __init__(self) -> None:
                self.grad_enabled = torch.is_grad_enabled()

    return list(caught), Decorated


CLASS_WARNING = "Decorating classes is deprecated and will be disabled in future versions."


@claim(
    "rel.class-decoration",
    "`@torch.no_grad()` on a class warns `Decorating classes is deprecated and will be "
    "disabled in future versions.` and replaces the class with a function: calling it builds "
    "an instance with tracking off inside `__init__`, and the decorated name is no longer a "
    "class.",
)
def _rel_class_decoration(obs: Observer) -> None:
    caught, decorated = _decorate_a_class()
    obs.expect(
        "[str(w.message).startswith(CLASS_WARNING) for w in warnings]",
        [str(w.message).startswith(CLASS_WARNING) for w in caught],
        [True],
    )
    obs.expect("inspect.isclass(Decorated)", inspect.isclass(decorated), False)
    obs.expect("Decorated().grad_enabled", decorated().grad_enabled, False)
    obs.expect("torch.is_grad_enabled() after", torch.is_grad_enabled(), True)


@claim(
    "rel.class-decoration-userwarning",
    "Before torch 2.4, that warning is a `UserWarning`.",
    torch_versions="<2.4",
)
def _rel_class_decoration_userwarning(obs: Observer) -> None:
    caught, _ = _decorate_a_class()
    obs.expect(
        "[w.category.__name__ for w in warnings]",
        [w.category.__name__ for w in caught],
        ["UserWarning"],
    )


@claim(
    "rel.class-decoration-futurewarning",
    "From torch 2.4, that warning is a `FutureWarning`.",
    torch_versions=">=2.4",
)
def _rel_class_decoration_futurewarning(obs: Observer) -> None:
    caught, _ = _decorate_a_class()
    obs.expect(
        "[w.category.__name__ for w in warnings]",
        [w.category.__name__ for w in caught],
        ["FutureWarning"],
    )


def _set_grad_enabled_decorator() -> tuple[bool, bool, bool]:
    """Grad mode after decorating with ``@torch.set_grad_enabled(False)``, inside a call,
    and after the call; the mode before is restored whatever happened."""
    was = torch.is_grad_enabled()
    try:
        torch.set_grad_enabled(True)

        @torch.set_grad_enabled(False)
        def f() -> bool:
            return torch.is_grad_enabled()

        after_definition = torch.is_grad_enabled()
        inside = f()
        return after_definition, inside, torch.is_grad_enabled()
    finally:
        torch.set_grad_enabled(was)


@claim(
    "rel.sge-decorator-leaks",
    "Before torch 2.2, decorating a function with `@torch.set_grad_enabled(False)` switches "
    "tracking off for the whole thread where the decorator is applied: it is off after the "
    "definition, inside each call and after it, until something switches it on again.",
    torch_versions="<2.2",
)
def _rel_sge_decorator_leaks(obs: Observer) -> None:
    after_definition, inside, after_call = _set_grad_enabled_decorator()
    obs.expect(
        "@torch.set_grad_enabled(False) def f(); torch.is_grad_enabled()", after_definition, False
    )
    obs.expect("f() (grad mode inside)", inside, False)
    obs.expect("f(); torch.is_grad_enabled()", after_call, False)


@claim(
    "rel.sge-decorator",
    "From torch 2.2, `@torch.set_grad_enabled(False)` leaves the mode as it was where the "
    "decorator is applied: tracking is off only inside each call of the function.",
    torch_versions=">=2.2",
)
def _rel_sge_decorator(obs: Observer) -> None:
    after_definition, inside, after_call = _set_grad_enabled_decorator()
    obs.expect(
        "@torch.set_grad_enabled(False) def f(); torch.is_grad_enabled()", after_definition, True
    )
    obs.expect("f() (grad mode inside)", inside, False)
    obs.expect("f(); torch.is_grad_enabled()", after_call, True)


@claim(
    "rel.zero-grad-none",
    "`optimizer.zero_grad()` and `module.zero_grad()` set each parameter's `.grad` to `None` "
    "by default (`set_to_none=True`), not to zeros.",
)
@deterministic
def _rel_zero_grad_none(obs: Observer) -> None:
    layer = nn.Linear(2, 2).to(obs.device)
    x = torch.ones(1, 2, device=obs.device)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    layer(x).sum().backward()
    optimizer.zero_grad()
    obs.expect("optimizer.zero_grad(); layer.weight.grad", layer.weight.grad, None)
    layer(x).sum().backward()
    layer.zero_grad()
    obs.expect("layer.zero_grad(); layer.weight.grad", layer.weight.grad, None)
    layer(x).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    zeros = layer.weight.grad is not None and not layer.weight.grad.any()
    obs.expect("optimizer.zero_grad(set_to_none=False); grad is zeros", bool(zeros), True)
