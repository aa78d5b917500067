"""The search space: which settings of which ops a search may combine.

A space has the grid file's shape ("op.field" -> choices, 0 or null meaning "leave the op out").
The default space is built from the model's shape and from the ops this build of slimlib has,
restricted to the training-free ones (distill is a recovery step a user adds on purpose, and it
would make every trial minutes long), so it grows as ops are added.
"""
from __future__ import annotations

from typing import Any, Callable

from ..ops.recipe import QUANT_BITS, ModelShape
from .grid import GridSpec, recipe_for

TRAINING_FREE_OPS = ("trim_vocab", "prune_heads", "prune_ffn", "drop_layers", "low_rank",
                     "factorize_embeddings", "quantize")


def _fractions_of(total: int, fractions=(0.25, 0.5, 0.75)) -> list[int]:
    return sorted({max(1, round(total * f)) for f in fractions if round(total * f) < total})


def default_axes(shape: ModelShape, available_ops) -> dict[str, list[Any]]:
    """Choices per op, scaled to the model; 0 (first) is always "op left out"."""
    heads = max(shape.heads)
    candidates: dict[str, list[Any]] = {
        "trim_vocab.max_tokens": [0] + [v for v in (16000, 8000) if v < shape.vocab],
        "prune_heads.per_layer": [0] + _fractions_of(heads),
        "prune_ffn.keep": [0, 0.75, 0.5, 0.25],
        "drop_layers.keep": [0] + list(range(shape.num_layers - 1, 0, -1)),
        # Ranks as fractions of hidden: large enough to fit after moderate head pruning.
        "low_rank.rank": [0] + [r for r in (shape.hidden // 2, shape.hidden // 4) if r >= 1],
        "factorize_embeddings.rank": [0] + [r for r in (shape.hidden // 2, shape.hidden // 4, shape.hidden // 8) if r >= 1],
        "quantize.bits": [32] + [b for b in (16, 8, 4) if b in QUANT_BITS],
    }
    available = set(available_ops)
    return {key: values for key, values in candidates.items()
            if key.split(".")[0] in available and key.split(".")[0] in TRAINING_FREE_OPS and len(values) > 1}


def default_space(base_model: str, shape: ModelShape, available_ops) -> GridSpec:
    return GridSpec(base_model=base_model, axes=default_axes(shape, available_ops))


def sample_assignment(space: GridSpec, suggest: Callable[[str, list], Any]) -> dict[str, Any]:
    """One choice per key; `suggest(name, choices)` is e.g. an Optuna trial's suggest_categorical."""
    return {key: suggest(key, values) for key, values in space.axes.items()}


def sample_recipe(space: GridSpec, trial) -> tuple[dict[str, Any], Any]:
    assignment = sample_assignment(space, trial.suggest_categorical)
    return assignment, recipe_for(space, assignment)
