"""The explorer's controls as a plain dict, and its two-way mapping to a `slimlib.ops.recipe.Recipe`.

The pages keep this dict in session state and draw widgets from it; each op's part comes from its
control (ui/op_controls/<op>.py), so there is no per-op code here. Tests check that a recipe
survives `recipe_to_config` -> `config_to_recipe` unchanged. Fields a control does not show
(e.g. a distillation learning rate from an uploaded recipe) ride along in `extra` so restoring a
config from history or a URL never silently changes the recipe.
"""
from __future__ import annotations

import base64
import copy
import json
import zlib

from slimlib.errors import RecipeError
from slimlib.model.shape import ModelShape
from slimlib.ops.recipe import DEFAULT_MODEL, Recipe, make_step
from slimlib.ops.registry import op_specs

from .op_controls import control_for, default_values

def default_config(**changes) -> dict:
    """A config with every op off: {"model", "ops": {op: control values}, "extra": {op: {field: value}}}."""
    config = {"model": DEFAULT_MODEL, "ops": default_values(), "extra": {}}
    config.update(copy.deepcopy(changes))
    return config


def config_to_recipe(config: dict, shape: ModelShape) -> Recipe:
    """The recipe the controls describe, in canonical order; invalid values raise RecipeError
    naming the field."""
    defaults = default_values()
    steps = []
    for spec in op_specs():
        values = {**defaults[spec.name], **config.get("ops", {}).get(spec.name, {})}
        fields = control_for(spec.name).to_step(values, shape)
        if fields is not None:
            extra = config.get("extra", {}).get(spec.name, {})
            steps.append(make_step(spec.name, **{**extra, **fields}))
    return Recipe(config.get("model", DEFAULT_MODEL), steps).canonical()


def recipe_to_config(recipe: Recipe, shape: ModelShape) -> dict:
    """Controls that reproduce the recipe (the inverse of config_to_recipe). Fields a control does
    not show ride along in `extra`."""
    config = default_config(model=recipe.base_model)
    for step in recipe.steps:
        data = step.to_dict()
        op = data.pop("op")
        control = control_for(op)
        values = control.from_step(data, shape)
        config["ops"][op] = {**control.DEFAULTS, **values}
        shown = control.to_step(config["ops"][op], shape) or {}
        rest = {k: v for k, v in data.items() if k not in shown}
        if rest:
            config["extra"][op] = rest
    return config


# Shareable URLs: the recipe itself, compressed and URL-safe, in one query parameter -------------
def encode_recipe(recipe: Recipe) -> str:
    raw = json.dumps(recipe.to_dict(), sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def decode_recipe(token: str) -> Recipe:
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = zlib.decompress(base64.urlsafe_b64decode(padded.encode()))
        data = json.loads(raw)
    except (ValueError, zlib.error, UnicodeDecodeError):
        raise RecipeError("the link's config parameter is damaged (copy the whole link)") from None
    return Recipe.from_dict(data, "link")
