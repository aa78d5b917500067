"""Applying a recipe: a deep copy of the base model, then each step's op in order.

Ops live in slimlib/ops/, one module per op, and register themselves (slimlib.ops.registry).
An op receives an `OpContext` (the model being compressed, the base, progress and stop hooks)
and the validated step; it changes `ctx.st_model` in place (it is a private copy) and may record
notes and measurement labels on the context.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import Cancelled, RecipeError
from ..model.base import LoadedBase, load_base
from ..model.parts import top_model
from ..model.shape import ModelShape, model_shape
from .recipe import Recipe, Step
from .registry import op_spec
from ..model.slim import SlimModel, install, slim_of

ProgressFn = Callable[[str, float], None]  # (message, fraction done of the current step)

@dataclass
class OpContext:
    base: LoadedBase
    st_model: object  # the SentenceTransformer being compressed (a private deep copy)
    progress: ProgressFn
    should_stop: Callable[[], bool]
    step_index: int = 0
    # Identifies the model the current step starts from: the base plus the steps applied before it.
    prefix_key: str = ""
    earlier_ops: tuple[str, ...] = ()  # the ops of those steps, in order
    notes: list[str] = field(default_factory=list)
    # Overrides of how a metric was obtained, e.g. {"sentences_per_s": "not measured: no kernel"}.
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def slim(self) -> SlimModel:
        return slim_of(self.st_model)

    @property
    def inner(self):
        """The HF encoder (BertModel, MPNetModel) inside the model being compressed."""
        return self.slim.inner

    @property
    def arch(self):
        return self.base.arch

    def check_stop(self) -> None:
        if self.should_stop():
            raise Cancelled("stopped by the user")


@dataclass
class CompressedModel:
    st_model: object
    recipe: Recipe  # as applied, with derived fields (e.g. corpus hashes) filled in
    base: LoadedBase
    notes: list[str]
    labels: dict[str, str]

    def save(self, folder: str | Path) -> Path:
        from ..model.files import save_model

        return save_model(self, folder)


def check_recipe(recipe: Recipe, base: LoadedBase | None = None) -> ModelShape:
    """Validate every step against the base model's shape (raises RecipeError naming the step)."""
    base = base or load_base(recipe.base_model)
    return recipe.check(model_shape(base.model, base.arch))


def prepare(base: LoadedBase):
    """A private deep copy of the base model, wrapped so that it saves as a slimlib model."""
    st_model = base.fresh_copy()
    model = top_model(st_model)
    if isinstance(model, SlimModel):  # compressing an already compressed folder: keep its structure
        install(st_model, model)
    else:
        install(st_model, SlimModel.wrap(model))
    return st_model


def apply_recipe(recipe: Recipe, base: LoadedBase | None = None, progress: ProgressFn | None = None,
                 should_stop: Callable[[], bool] | None = None) -> CompressedModel:
    """Compress a deep copy of the base model by the recipe's steps, in order."""
    base = base or load_base(recipe.base_model)
    base_model = top_model(base.model)
    if isinstance(base_model, SlimModel) and base_model.inner is None and recipe.steps:
        raise RecipeError(f"{recipe.base_model}: this model runs as an ONNX int8 graph; compress the model it came "
                          "from instead (its recipe is in slimlib_recipe.json)")
    check_recipe(recipe, base)
    ctx = OpContext(base=base, st_model=prepare(base), progress=progress or (lambda _m, _f: None),
                    should_stop=should_stop or (lambda: False))
    applied: list[Step] = []
    for index, step in enumerate(recipe.steps):
        ctx.check_stop()
        ctx.step_index = index
        ctx.prefix_key = Recipe(recipe.base_model, applied).key()
        ctx.earlier_ops = tuple(s.op for s in applied)
        step = dataclasses.replace(step) if dataclasses.is_dataclass(step) else step
        step.where = f"steps[{index}]"
        ctx.progress(f"{step.op} ({index + 1}/{len(recipe.steps)})", 0.0)
        op_spec(step.op).apply(ctx, step)
        ctx.progress(f"{step.op} ({index + 1}/{len(recipe.steps)})", 1.0)
        applied.append(step)
    ctx.st_model.eval()
    if isinstance(top_model(ctx.st_model), SlimModel):  # a static model has no encoder config to carry it
        slim_of(ctx.st_model).config.recipe = json.loads(Recipe(recipe.base_model, applied, recipe.name).to_json())
    return CompressedModel(ctx.st_model, Recipe(recipe.base_model, applied, recipe.name), base, ctx.notes, ctx.labels)
