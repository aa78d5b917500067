"""The search space: which settings of which ops a search may combine.

A space has the grid file's shape ("op.field" -> choices, 0 or null meaning "leave the op out").
The default space is each registered op's own search axes for the model's shape (OpSpec.search_axes),
leaving out ops that train (distill is a recovery step a user adds on purpose, and it would make
every trial minutes long), so it grows as ops are added.

An op's axes are written for the base model's shape, but a step runs on the shape the earlier steps
left (e.g. low_rank.rank 192 cannot follow a head pruning that leaves attention 96 wide). So a sampled
combination is fitted to the model before any trial runs (`fit_assignment`): walking the ops in
recipe order, a setting that does not fit the shape at that point is replaced by the nearest choice
of its own list that does (the next, more compressed one before leaving the op out). Every recipe a
search proposes passes `Recipe.check(shape)`; no trial is spent on a combination that cannot run.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

from ..errors import RecipeError
from ..model.shape import ModelShape
from ..ops.recipe import Recipe
from ..ops.registry import op_spec, op_specs
from .grid import GridSpec, build_steps, is_off, recipe_for

MAX_FIT_COMBINATIONS = 5000  # fit_assignment's exhaustive fallback runs on spaces up to this size


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


def sample_recipe(space: GridSpec, trial, shape: ModelShape | None = None) -> tuple[dict[str, Any], Recipe]:
    """The sampler's choices as a recipe; with `shape`, fitted to the model (see fit_assignment)."""
    assignment = sample_assignment(space, trial.suggest_categorical)
    if shape is None:
        return assignment, recipe_for(space, assignment)
    return fit_assignment(space, assignment, shape)


def _fits(space: GridSpec, assignment: dict[str, Any], shape: ModelShape) -> Recipe | None:
    try:
        recipe = recipe_for(space, assignment)
        recipe.check(shape)
    except RecipeError:
        return None
    return recipe


def _alternatives(space: GridSpec, assignment: dict[str, Any], keys: list[str]) -> list[dict[str, Any]]:
    """Settings of `keys` nearest first: by how far down each list they move from the sampled choice,
    a later (more compressed) choice before an earlier one, leaving an op out last among equals."""
    options = []
    for values in itertools.product(*(range(len(space.axes[k])) for k in keys)):
        moves = [v - space.axes[k].index(assignment[k]) for k, v in zip(keys, values)]
        choice = {k: space.axes[k][v] for k, v in zip(keys, values)}
        off = sum(is_off(value) for value in choice.values())
        options.append(((sum(abs(m) for m in moves), off, sum(m < 0 for m in moves)), choice))
    return [choice for _rank, choice in sorted(options, key=lambda o: o[0])]


def fit_assignment(space: GridSpec, assignment: dict[str, Any], shape: ModelShape) -> tuple[dict[str, Any], Recipe]:
    """The nearest assignment whose recipe passes `check(shape)`, and that recipe.

    A combination that fits is returned as it is. Otherwise the ops are fixed one at a time in recipe
    order: each op keeps its sampled settings if they fit after the ops before it, else takes the
    nearest of its own choices that does. If the space's fixed steps still do not fit, the nearest
    combination overall is searched (spaces of up to MAX_FIT_COMBINATIONS); failing that, RecipeError
    names why.
    """
    recipe = _fits(space, assignment, shape)
    if recipe is not None:
        return assignment, recipe
    by_op: dict[str, list[str]] = {}
    for key in space.axes:
        by_op.setdefault(key.split(".")[0], []).append(key)
    fitted = dict(assignment)
    decided: dict[str, Any] = {}
    for op in sorted(by_op, key=lambda name: op_spec(name).order):
        order = op_spec(op).order
        fixed = [step for step in space.steps if op_spec(step.op).order <= order]
        for choice in _alternatives(space, fitted, by_op[op]):
            partial = Recipe(space.base_model, build_steps({**decided, **choice}, fixed)).canonical()
            try:
                partial.check(shape)
            except RecipeError:
                continue
            fitted.update(choice)
            break
        decided.update({key: fitted[key] for key in by_op[op]})
    recipe = _fits(space, fitted, shape)
    if recipe is not None:
        return fitted, recipe
    size = 1
    for values in space.axes.values():
        size *= len(values)
    if size <= MAX_FIT_COMBINATIONS:
        for choice in _alternatives(space, assignment, list(space.axes)):
            recipe = _fits(space, choice, shape)
            if recipe is not None:
                return choice, recipe
    recipe_for(space, assignment).check(shape)  # raises the first reason the sampled combination fails
    raise RecipeError("no combination of the search space fits the model")  # pragma: no cover
