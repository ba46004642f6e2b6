"""Specification of ``gradmodes.audit``: each finding on a model that shows it, none on its fix.

``FAULTY`` holds, for every code in ``FINDINGS``, a model (with its optimizer and inputs) that
has the pitfall, and the exact findings expected; ``CORRECT`` holds the fixed versions and
models that look unusual but are right (tied or parametrized weights, lazy layers, a frozen
average of weights, a model in eval mode for inference...), which must give no finding.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import NamedTuple

import pytest
import torch
import torch.nn.functional as F
from _site import DOCS
from torch import nn
from torch.nn.utils import parametrize

from gradmodes import Finding, audit, freeze, freeze_batchnorm, trainable_parameters
from gradmodes.audit import FINDINGS
from gradmodes.claims import get_claim

Setup = tuple[nn.Module, torch.optim.Optimizer | list[torch.optim.Optimizer] | None, object]


def x4() -> torch.Tensor:
    return torch.randn(8, 4)


def sgd(params: object, **options: float) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=0.1, **options)  # type: ignore[arg-type]


def net() -> nn.Sequential:
    """Linear -> BatchNorm1d -> ReLU -> Dropout -> Linear, named 0 to 4."""
    return nn.Sequential(
        nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2)
    )


def trained_once(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    optimizer.zero_grad()
    model(x4()).square().sum().backward()
    optimizer.step()


# --- faulty models ---------------------------------------------------------------------


def frozen_backbone_bn_in_train_mode() -> Setup:
    model = net()
    freeze(model, "0", "1")  # backbone frozen, BatchNorm left in training mode
    return model, torch.optim.AdamW(trainable_parameters(model)), x4()


def frozen_after_training_with_a_zero_grad() -> Setup:
    model = net()
    optimizer = sgd(model.parameters(), momentum=0.9)
    trained_once(model, optimizer)
    optimizer.zero_grad(set_to_none=False)
    # The head, not layer 0: BatchNorm cancels the gradient of layer 0's bias, whose momentum
    # then moves it by less than its rounding for about one random start in twenty.
    freeze(model, "4")
    return model, optimizer, x4()


def frozen_in_lbfgs_with_history() -> Setup:
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=2)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = model(x4()).square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    optimizer.zero_grad()
    freeze(model, "0")
    return model, optimizer, None


def head_replaced_after_the_optimizer() -> Setup:
    model = net()
    optimizer = torch.optim.AdamW(model.parameters())
    model[4] = nn.Linear(8, 3)  # a new head: the optimizer still holds the old one
    return model, optimizer, x4()


def parameter_in_two_groups() -> Setup:
    model = net()
    optimizer = sgd(model.parameters())
    optimizer.param_groups.append({**optimizer.param_groups[0], "params": [model[4].weight]})
    return model, optimizer, x4()


def parameter_in_two_optimizers() -> Setup:
    model = net()
    return model, [sgd(model.parameters()), torch.optim.AdamW(model[4].parameters())], x4()


def parameter_twice_in_one_group() -> Setup:
    model = nn.Linear(4, 2)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optimizer = sgd([model.weight, model.bias, model.weight])
    return model, optimizer, x4()


def everything_frozen_with_an_optimizer() -> Setup:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).requires_grad_(False)
    return model, sgd(model.parameters()), x4()


def validation_left_the_model_in_eval_mode() -> Setup:
    model = net()
    optimizer = sgd(model.parameters())
    model.eval()  # and nothing switches it back
    return model, optimizer, x4()


def head_switched_back_to_training_mode() -> Setup:
    model = net().eval()
    model[3].train()
    return model, None, x4()


def dropout_added_after_eval() -> Setup:
    model = net().eval()
    model.append(nn.Dropout(0.1))
    return model, None, x4()


def only_the_root_set_to_training_mode() -> Setup:
    model = net().eval()
    model.training = True  # the submodules keep their eval mode
    return model, sgd(model.parameters()), x4()


class DropsAlways(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(self.linear(x), 0.2)  # training=True, whatever the mode


class DropsInEval(nn.Module):
    def __init__(self, training_flag: bool) -> None:
        super().__init__()
        self.training_flag = training_flag
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        self.head = nn.Sequential(DropsAlways(), nn.Linear(8, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        training = self.training if self.training_flag else True
        return self.head(F.dropout1d(y.unsqueeze(-1), 0.3, training=training).squeeze(-1))


def functional_dropout_without_the_flag() -> Setup:
    model = DropsInEval(training_flag=True)
    return model, sgd(model.parameters()), x4()


def functional_dropout_in_the_root_forward() -> Setup:
    model = nn.Sequential()
    model.add_module("inner", DropsInEval(training_flag=False))
    model.inner.head[0] = nn.Linear(8, 8)
    return model, None, x4()


class CustomNorm(nn.Module):
    def __init__(self, training_flag: bool) -> None:
        super().__init__()
        self.training_flag = training_flag
        self.register_buffer("running_mean", torch.zeros(8))
        self.register_buffer("running_var", torch.ones(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        training = self.training if self.training_flag else True
        return F.batch_norm(x, self.running_mean, self.running_var, training=training)


def custom_norm_that_ignores_eval_mode() -> Setup:
    model = nn.Sequential(nn.Linear(4, 8), CustomNorm(training_flag=False), nn.Linear(8, 2))
    return model, None, x4()


def built_under_inference_mode() -> Setup:
    with torch.inference_mode():
        model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
    return model, None, x4()


def ema_updated_outside_no_grad() -> Setup:
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    ema = copy.deepcopy(model).requires_grad_(False)
    for ema_param, param in zip(ema.parameters(), model.parameters(), strict=True):
        ema_param.lerp_(param, 0.1)  # recorded: no torch.no_grad()
    return ema, None, x4()


class Case(NamedTuple):
    setup: Callable[[], Setup]
    expected: list[tuple[str, tuple[str, ...]]]


FAULTY = [
    Case(frozen_backbone_bn_in_train_mode, [("frozen-bn-train-mode", ("1",))]),
    Case(
        frozen_after_training_with_a_zero_grad, [("frozen-param-stepped", ("4.weight", "4.bias"))]
    ),
    Case(frozen_in_lbfgs_with_history, [("frozen-param-stepped", ("0.weight", "0.bias"))]),
    Case(head_replaced_after_the_optimizer, [("param-not-in-optimizer", ("4.weight", "4.bias"))]),
    Case(parameter_in_two_groups, [("param-in-two-groups", ("4.weight",))]),
    Case(parameter_twice_in_one_group, [("param-in-two-groups", ("weight",))]),
    Case(parameter_in_two_optimizers, [("param-in-two-groups", ("4.weight", "4.bias"))]),
    Case(
        everything_frozen_with_an_optimizer,
        [("nothing-to-train", ("0.weight", "0.bias", "2.weight", "2.bias"))],
    ),
    Case(validation_left_the_model_in_eval_mode, [("model-in-eval-mode", ("1", "3"))]),
    Case(head_switched_back_to_training_mode, [("train-mode-in-eval-model", ("3",))]),
    Case(dropout_added_after_eval, [("train-mode-in-eval-model", ("5",))]),
    Case(only_the_root_set_to_training_mode, [("eval-mode-in-train-model", ("3",))]),
    Case(functional_dropout_without_the_flag, [("random-in-eval-mode", ("head.0",))]),
    Case(functional_dropout_in_the_root_forward, [("random-in-eval-mode", ("inner",))]),
    Case(
        custom_norm_that_ignores_eval_mode,
        [("buffer-changed-in-eval-mode", ("1.running_mean", "1.running_var"))],
    ),
    Case(
        built_under_inference_mode,
        [
            (
                "inference-tensor",
                (
                    "0.weight",
                    "0.bias",
                    "1.weight",
                    "1.bias",
                    "1.running_mean",
                    "1.running_var",
                    "1.num_batches_tracked",
                ),
            )
        ],
    ),
    Case(
        ema_updated_outside_no_grad,
        [("param-has-grad-fn", ("0.weight", "0.bias", "1.weight", "1.bias"))],
    ),
]


@pytest.mark.parametrize("case", FAULTY, ids=lambda c: c.setup.__name__)
def test_each_pitfall_is_found_and_named(case: Case) -> None:
    findings = audit(*case.setup())
    assert [(f.code, f.objects) for f in findings] == case.expected


def test_every_finding_has_a_model_that_shows_it() -> None:
    shown = {code for case in FAULTY for code, _ in case.expected}
    assert sorted(set(FINDINGS) - shown) == []


def test_several_pitfalls_in_one_model_are_all_found_in_order() -> None:
    model = net()
    optimizer = sgd(model.parameters(), momentum=0.9)
    trained_once(model, optimizer)
    optimizer.zero_grad(set_to_none=False)
    freeze(model, "0", "1")
    model[4] = nn.Linear(8, 2)
    model.eval()[3].train()
    codes = [f.code for f in audit(model, optimizer, x4())]
    # The optimizer holds the frozen layers and the old head only; the frozen BatchNorm is in
    # eval mode with the rest, and Dropout 3 is back in training mode.
    assert codes == [
        "frozen-param-stepped",
        "param-not-in-optimizer",
        "nothing-to-train",
        "train-mode-in-eval-model",
    ]


# --- correct models ----------------------------------------------------------------------


def backbone_frozen_with_freeze_batchnorm() -> Setup:
    model = net()
    freeze(model, "0")
    freeze_batchnorm(model, "1")
    model.train()
    return model, torch.optim.AdamW(trainable_parameters(model)), x4()


def frozen_parameters_handed_to_the_optimizer() -> Setup:
    """Frozen from the start: their .grad stays None, and optimizers skip them."""
    model = net()
    freeze_batchnorm(model)
    freeze(model, "0")
    optimizer = torch.optim.AdamW(model.parameters())
    trained_once(model, optimizer)
    return model, optimizer, x4()


def frozen_after_training_with_grads_set_to_none() -> Setup:
    """State from before, .grad None: Adam leaves them alone (audit.stale-grad)."""
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
    optimizer = torch.optim.Adam(model.parameters())
    trained_once(model, optimizer)
    optimizer.zero_grad()
    freeze(model, "0")
    return model, optimizer, x4()


def zero_grad_kept_by_plain_sgd() -> Setup:
    """A zero .grad on a frozen parameter that plain SGD does not move."""
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
    optimizer = sgd(model.parameters())
    trained_once(model, optimizer)
    optimizer.zero_grad(set_to_none=False)
    freeze(model, "0")
    return model, optimizer, x4()


def ema_model_frozen_without_optimizer() -> Setup:
    model = net()
    ema = copy.deepcopy(model).requires_grad_(False)  # stays in training mode, never trained
    with torch.no_grad():
        for ema_param, param in zip(ema.parameters(), model.parameters(), strict=True):
            ema_param.lerp_(param, 0.1)
    return ema, None, x4()


def model_in_eval_mode_for_inference() -> Setup:
    with torch.inference_mode():  # built for serving only: inference tensors are fine
        model = net()
    return model.eval(), None, torch.randn(1, 4)


def mode_independent_layer_added_after_eval() -> Setup:
    model = net().eval()
    model.append(nn.Linear(2, 2))  # added after eval(): training mode, but mode-independent
    return model, None, x4()


def batchnorm_kept_in_eval_mode_while_training() -> Setup:
    model = net()
    optimizer = sgd(model.parameters())
    model[1].eval()  # on purpose: its statistics stay fixed, its parameters still train
    return model, optimizer, x4()


def frozen_backbone_in_eval_mode_inside_training() -> Setup:
    backbone = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.2))
    model = nn.Sequential(backbone, nn.Linear(8, 2))
    backbone.requires_grad_(False).eval()
    return model, sgd(model[1].parameters()), x4()


def frozen_model_trained_in_eval_mode() -> Setup:
    """Fine-tuning only a head with the whole model in eval mode: BatchNorm and Dropout
    of the frozen part are in eval mode on purpose, and the head has none."""
    backbone = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.2))
    model = nn.Sequential(backbone, nn.Linear(8, 2)).eval()
    backbone.requires_grad_(False)
    return model, sgd(model[1].parameters()), x4()


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.out = nn.Linear(4, 10, bias=False)
        self.out.weight = self.embed.weight  # one parameter, two names

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.embed(tokens))


def tied_weights() -> Setup:
    model = Tied()
    return model, torch.optim.AdamW(model.parameters()), torch.arange(6)


class Symmetric(nn.Module):
    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight.triu() + weight.triu(1).transpose(-1, -2)


def parametrized_weight() -> Setup:
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    parametrize.register_parametrization(model[0], "weight", Symmetric())
    return model, torch.optim.AdamW(model.parameters()), x4()


def parameter_groups_with_their_own_settings() -> Setup:
    model = net()
    decay = [p for name, p in model.named_parameters() if name.endswith("weight")]
    no_decay = [p for name, p in model.named_parameters() if name.endswith("bias")]
    groups = [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}]
    return model, torch.optim.AdamW(groups), x4()


def one_optimizer_per_part() -> Setup:
    model = net()
    backbone = [p for name, p in model.named_parameters() if not name.startswith("4.")]
    return model, [sgd(backbone), torch.optim.AdamW(model[4].parameters())], x4()


def optimizer_with_an_extra_parameter() -> Setup:
    model = net()
    temperature = nn.Parameter(torch.ones(()))  # learned next to the model, not inside it
    return model, torch.optim.AdamW([*model.parameters(), temperature]), x4()


def lazy_layers_not_yet_run() -> Setup:
    model = nn.Sequential(nn.LazyLinear(8), nn.LazyBatchNorm1d(), nn.Dropout(0.1))
    return model, sgd(model.parameters()), None


def transformer_and_lstm() -> Setup:
    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layer = nn.TransformerEncoderLayer(4, 2, 8, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.lstm = nn.LSTM(4, 4, num_layers=2, dropout=0.3, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lstm(self.encoder(x))[0]

    model = Model()
    return model, torch.optim.AdamW(model.parameters()), torch.randn(2, 3, 4)


def no_parameters() -> Setup:
    return nn.Sequential(nn.ReLU(), nn.Dropout(0.5)), None, x4()


def keyword_inputs() -> Setup:
    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor, *, scale: float = 1.0) -> dict[str, torch.Tensor]:
            return {"logits": self.linear(x) * scale}

    model = Model()
    return model, sgd(model.parameters()), {"x": x4(), "scale": 2.0}


CORRECT = [
    backbone_frozen_with_freeze_batchnorm,
    frozen_parameters_handed_to_the_optimizer,
    frozen_after_training_with_grads_set_to_none,
    zero_grad_kept_by_plain_sgd,
    ema_model_frozen_without_optimizer,
    model_in_eval_mode_for_inference,
    mode_independent_layer_added_after_eval,
    batchnorm_kept_in_eval_mode_while_training,
    frozen_backbone_in_eval_mode_inside_training,
    frozen_model_trained_in_eval_mode,
    tied_weights,
    parametrized_weight,
    parameter_groups_with_their_own_settings,
    one_optimizer_per_part,
    optimizer_with_an_extra_parameter,
    lazy_layers_not_yet_run,
    transformer_and_lstm,
    no_parameters,
    keyword_inputs,
]


@pytest.mark.parametrize("setup", CORRECT, ids=lambda s: s.__name__)
def test_a_correct_model_gets_no_finding(setup: Callable[[], Setup]) -> None:
    assert audit(*setup()) == []


# --- the audit leaves everything as it was ---------------------------------------------


def state(model: nn.Module, optimizer: torch.optim.Optimizer | None) -> list[object]:
    tensors = [*model.state_dict().values(), *(p.grad for p in model.parameters())]
    opt_state = [] if optimizer is None else list(optimizer.state_dict()["state"].values())
    return [
        [m.training for m in model.modules()],
        [None if t is None else t.clone() for t in tensors],
        copy.deepcopy(opt_state),
        torch.random.get_rng_state(),
    ]


def same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize(
    "setup",
    [
        frozen_after_training_with_a_zero_grad,
        validation_left_the_model_in_eval_mode,
        head_switched_back_to_training_mode,
        functional_dropout_without_the_flag,
        custom_norm_that_ignores_eval_mode,
        backbone_frozen_with_freeze_batchnorm,
    ],
    ids=lambda s: s.__name__,
)
def test_the_audit_leaves_model_optimizer_and_rng_as_they_were(
    setup: Callable[[], Setup],
) -> None:
    model, optimizer, inputs = setup()
    before = state(model, optimizer)
    audit(model, optimizer, inputs)
    assert same(state(model, optimizer), before)


def test_without_inputs_no_forward_runs() -> None:
    model, optimizer, _ = functional_dropout_without_the_flag()
    model.register_forward_pre_hook(lambda *_: pytest.fail("a forward ran"))
    assert audit(model, optimizer) == []


def test_a_forward_that_fails_on_the_inputs_says_so() -> None:
    with pytest.raises(ValueError, match=r"forward in eval mode failed .*RuntimeError: mat1"):
        audit(net(), None, torch.randn(8, 5))


# --- findings are data, linked to the site and to their claims --------------------------


def test_a_finding_is_data_with_a_one_line_message() -> None:
    (finding,) = audit(*head_replaced_after_the_optimizer())
    assert finding == Finding(
        "param-not-in-optimizer",
        ("4.weight", "4.bias"),
        "4.weight, 4.bias: requires grad, yet in no param group of the optimizer: never trained",
        "audit.html#audit-not-in-optimizer",
        "audit.not-in-optimizer",
    )
    assert finding.as_dict() == {
        "code": "param-not-in-optimizer",
        "objects": ["4.weight", "4.bias"],
        "message": finding.message,
        "link": "audit.html#audit-not-in-optimizer",
        "claim": "audit.not-in-optimizer",
    }


def test_messages_name_modules_with_their_class_and_shorten_long_lists() -> None:
    (bn,) = audit(*frozen_backbone_bn_in_train_mode())
    assert bn.message.startswith("1 (BatchNorm1d): parameters frozen")
    (tensors,) = audit(*built_under_inference_mode())
    assert tensors.message.startswith("0.weight, 0.bias, 1.weight, 1.bias and 3 more: ")
    for case in FAULTY:
        for finding in audit(*case.setup()):
            assert "\n" not in finding.message


@pytest.mark.parametrize("code", FINDINGS)
def test_each_finding_links_to_an_anchor_of_the_site_and_names_a_claim(code: str) -> None:
    explained = FINDINGS[code]
    page = (DOCS / f"{explained.page}.md").read_text(encoding="utf-8")
    assert re.search(rf"^\({re.escape(explained.anchor)}\)=$", page, re.M), explained.anchor
    assert get_claim(explained.claim).statement


def test_the_audit_page_explains_every_finding_and_cites_its_claim() -> None:
    page = (DOCS / "audit.md").read_text(encoding="utf-8")
    for code, explained in FINDINGS.items():
        assert f"`{code}`" in page, code
        assert f"{{claim}}`{explained.claim}`" in page, explained.claim
