"""The search space: which settings of which ops a search may combine.

A space has the grid file's shape ("op.field" -> choices, 0 or null meaning "leave the op out").
The default space is each registered op's own search axes for the model's shape (OpSpec.search_axes),
leaving out ops that train (distill is a recovery step a user adds on purpose, and it would make
every trial minutes long), so it grows as ops are added.
"""
from __future__ import annotations

from typing import Any, Callable

from ..ops.recipe import ModelShape
from ..ops.registry import op_specs
from .grid import GridSpec, recipe_for

def default_axes(shape: ModelShape) -> dict[str, list[Any]]:
    """Every registered op's search axes for this model shape, except ops that train; the first
    choice of each axis leaves the op out."""
    axes: dict[str, list[Any]] = {}
    for spec in op_specs():
        if spec.trains:
            continue
        axes.update({key: values for key, values in spec.search_axes(shape).items() if len(values) > 1})
    return axes


def default_space(base_model: str, shape: ModelShape) -> GridSpec:
    return GridSpec(base_model=base_model, axes=default_axes(shape))


def sample_assignment(space: GridSpec, suggest: Callable[[str, list], Any]) -> dict[str, Any]:
    """One choice per key; `suggest(name, choices)` is e.g. an Optuna trial's suggest_categorical."""
    return {key: suggest(key, values) for key, values in space.axes.items()}


def sample_recipe(space: GridSpec, trial) -> tuple[dict[str, Any], Any]:
    assignment = sample_assignment(space, trial.suggest_categorical)
    return assignment, recipe_for(space, assignment)
