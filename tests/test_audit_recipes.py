"""No false alarm: the audit finds nothing in what the recipes page builds.

Each recipe cell of ``docs/recipes.md`` runs as it is; then every model it leaves behind (each
module that is not part of another one) is audited with the optimizer that holds its
parameters, if any, and with inputs for its first ``Linear``. The cells are read from the page,
so a recipe added, changed or reworded there is audited as it now stands.
"""

from __future__ import annotations

import contextlib
import io
from typing import NamedTuple

import pytest
import torch
from test_recipes import RECIPES, Cell
from torch import nn

from gradmodes import audit


class Built(NamedTuple):
    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer | None
    inputs: torch.Tensor | None


def built_by(recipe: Cell) -> list[Built]:
    """Run the recipe; return each model it leaves, with its optimizer and inputs."""
    namespace: dict[str, object] = {"__name__": "recipe"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(recipe.code, f"recipes.md:{recipe.line}", "exec"), namespace)
    modules = {name: v for name, v in namespace.items() if isinstance(v, nn.Module)}
    optimizers = [v for v in namespace.values() if isinstance(v, torch.optim.Optimizer)]
    models = {
        name: module
        for name, module in modules.items()
        if not any(other is not module and module in other.modules() for other in modules.values())
    }
    found = []
    paired: list[torch.optim.Optimizer] = []
    for name, model in models.items():
        params = {id(p) for p in model.parameters()}
        mine = [
            o
            for o in optimizers
            if any(id(p) in params for g in o.param_groups for p in g["params"])
        ]
        assert len(mine) <= 1, f"{name}: {len(mine)} optimizers"
        paired += mine
        first_linear = next((m for m in model.modules() if isinstance(m, nn.Linear)), None)
        inputs = torch.randn(8, first_linear.in_features) if first_linear else None
        found.append(Built(name, model, mine[0] if mine else None, inputs))
    assert len(paired) == len(optimizers), "each optimizer trains one of the models"
    return found


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda cell: f"recipes.md:{cell.line}")
def test_the_final_models_of_every_recipe_get_no_finding(recipe: Cell) -> None:
    built = built_by(recipe)
    assert any(b.inputs is not None for b in built), "a model was audited with inputs"
    assert {b.name: audit(b.model, b.optimizer, b.inputs) for b in built} == {
        b.name: [] for b in built
    }


def test_the_recipes_give_models_with_and_without_optimizers() -> None:
    """The universe above is not empty: trained models, and models only evaluated."""
    built = [b for recipe in RECIPES for b in built_by(recipe)]
    assert sum(b.optimizer is not None for b in built) >= 4
    assert sum(b.optimizer is None and any(True for _ in b.model.parameters()) for b in built) >= 3
