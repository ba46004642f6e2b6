"""Claims about ``model.eval()`` / ``model.train()`` (claims.md section A)."""

from __future__ import annotations

from gradmodes.claims._registry import Observer, claim
from gradmodes.models import SimpleModel


@claim(
    "eval.flag",
    "`eval()` is `train(False)`: it sets `training = False` on the module and every "
    "submodule, recursively, and returns the module itself.",
)
def _eval_flag(obs: Observer) -> None:
    model = SimpleModel().to(obs.device)
    obs.expect("model.eval() is model", model.eval() is model, True)
    obs.expect(
        "{m.training for m in model.modules()}", {m.training for m in model.modules()}, {False}
    )
    model.train()
    obs.expect(
        "after model.train(False)", model.train(False) is model and not model.bn.training, True
    )
